package redact

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

const key = "sk-ant-api03-FAKE-0123456789"

func TestStringMasksSecrets(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		secrets []string
		want    string
	}{
		{"one key", "key=" + key + ".", []string{key}, "key=[REDACTED]."},
		{"every occurrence", key + " " + key, []string{key}, "[REDACTED] [REDACTED]"},
		{"no secrets", "key=" + key, nil, "key=" + key},
		{"too short to mask", "a b c", []string{"b"}, "a b c"},
		{"a secret inside another is masked whole", "x=abcdefgh", []string{"abcd", "abcdefgh"}, "x=[REDACTED]"},
		{"JSON-escaped form", `{"k":"ab\"cd\\ef"}`, []string{`ab"cd\ef`}, `{"k":"[REDACTED]"}`},
		{"empty secret ignored", "text", []string{""}, "text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := String(tt.in, tt.secrets); got != tt.want {
				t.Errorf("String(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

type payload struct {
	Note  string   `json:"note"`
	Items []string `json:"items"`
}

func TestValueMasksEveryStringInside(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string // the masked value, as fmt %v prints it
	}{
		{"string", "is " + key, "is [REDACTED]"},
		{"list of strings", []string{"a", key}, "[a [REDACTED]]"},
		{"list of anything", []any{1, key, []string{key}}, "[1 [REDACTED] [[REDACTED]]]"},
		{"map in a map", map[string]any{"a": map[string]any{"b": key}}, "map[a:map[b:[REDACTED]]]"},
		{"string map", map[string]string{"k": key}, "map[k:[REDACTED]]"},
		{"struct holding a key", payload{Note: "n", Items: []string{key}}, "map[items:[[REDACTED]] note:n]"},
		{"struct without a key stays", payload{Note: "n"}, "{n []}"},
		{"number", 42, "42"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sprint(Value(tt.in, []string{key})); got != tt.want {
				t.Errorf("Value = %s; want %s", got, tt.want)
			}
		})
	}
}

func TestValueLeavesItsInputAlone(t *testing.T) {
	in := map[string]any{"choices": []string{key}}
	Value(in, []string{key})
	if in["choices"].([]string)[0] != key {
		t.Errorf("Value changed its input: %v", in)
	}
}

type token string

type nested struct {
	Note   string            `json:"note"`
	Tok    token             `json:"tok"`
	Inner  *payload          `json:"inner"`
	Any    any               `json:"any"`
	Map    map[string]any    `json:"map"`
	Arr    [2]string         `json:"arr"`
	Raw    json.RawMessage   `json:"raw"`
	Labels map[string]string `json:"labels"`
	When   time.Time         `json:"when"`
	hidden string
}

func TestTypedMasksKeepingTheType(t *testing.T) {
	when := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	in := nested{
		Note: "is " + key, Tok: token(key), Inner: &payload{Note: key, Items: []string{"a", key}},
		Any: payload{Items: []string{key}}, Map: map[string]any{key: []any{key, 1}},
		Arr: [2]string{"a", key}, Raw: json.RawMessage(`"` + key + `"`), Labels: map[string]string{"k": key},
		When: when, hidden: key,
	}
	got, ok := Typed(in, []string{key}).(nested)
	if !ok {
		t.Fatalf("Typed returned a %T, want a nested", Typed(in, []string{key}))
	}
	b, _ := json.Marshal(got)
	if strings.Contains(string(b), key) {
		t.Errorf("the key is left in %s", b)
	}
	if got.Note != "is "+Mask || got.Inner.Items[0] != "a" || got.Any.(payload).Items[0] != Mask || !got.When.Equal(when) {
		t.Errorf("masked = %+v", got)
	}
	if got.hidden != key {
		t.Errorf("an unexported field changed: %q", got.hidden)
	}
	// The input is left alone.
	if in.Note != "is "+key || in.Inner.Note != key || in.Map[key].([]any)[0] != key || in.Arr[1] != key || in.Raw[1] != 's' {
		t.Errorf("Typed changed its input: %+v", in)
	}
	if got := Typed(payload{Note: "n"}, []string{key}); fmt.Sprint(got) != "{n []}" {
		t.Errorf("without a key: %v", got)
	}
	set := NewSet(0)
	defer set.Hold([]string{key})()
	if got := set.Typed(&payload{Note: key}).(*payload); got.Note != Mask {
		t.Errorf("Set.Typed: %+v", got)
	}
	if set.Typed(nil) != nil || Typed(nil, []string{key}) != nil {
		t.Error("nil is not nil")
	}
}

// TestWriterMasksTheLog logs through hclog, as the host does, in both of
// its formats, and with values it escapes.
func TestWriterMasksTheLog(t *testing.T) {
	quoted := `sk-"quoted\key<&>`
	tests := []struct {
		name   string
		json   bool
		secret string
		tell   string // a part of the secret found nowhere else in the line
		args   []any
	}{
		{"text", false, key, "FAKE-0123", []any{"error", "process exited with code 3: ANTHROPIC_API_KEY=" + key}},
		{"json", true, key, "FAKE-0123", []any{"error", "ANTHROPIC_API_KEY=" + key}},
		{"text, quoted", false, quoted, "quoted", []any{"error", "key " + quoted}},
		{"json, escaped", true, quoted, "quoted", []any{"error", "key " + quoted}},
		{"in the message", false, key, "FAKE-0123", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := NewSet(0)
			defer set.Hold([]string{tt.secret})()
			var buf bytes.Buffer
			log := hclog.New(&hclog.LoggerOptions{Output: set.Writer(&buf), JSONFormat: tt.json})
			log.Named("runtime.local").Info("agent exited "+tt.secret, tt.args...)
			out := buf.String()
			if strings.Contains(out, tt.tell) {
				t.Errorf("log shows the secret: %s", out)
			}
			if !strings.Contains(out, Mask) || !strings.Contains(out, "agent exited") {
				t.Errorf("log lost its line: %s", out)
			}
		})
	}
}

func TestSetForgetsReleasedSecrets(t *testing.T) {
	set := NewSet(0)
	other := "gh-token-FAKE-9876"
	releaseA := set.Hold([]string{key, other})
	releaseB := set.Hold([]string{key})
	line := key + " " + other
	steps := []struct {
		name    string
		release func()
		want    string
	}{
		{"both held", func() {}, "[REDACTED] [REDACTED]"},
		{"A let go; B still holds the shared key", releaseA, "[REDACTED] " + other},
		{"A let go twice counts once", releaseA, "[REDACTED] " + other},
		{"both let go", releaseB, line},
	}
	for _, s := range steps {
		s.release()
		if got := set.String(line); got != s.want {
			t.Errorf("%s: %q; want %q", s.name, got, s.want)
		}
	}
}

func TestSetKeepsASecretWhileItLingers(t *testing.T) {
	set := NewSet(time.Hour)
	set.Hold([]string{key})()
	if got := set.String(key); got != Mask {
		t.Errorf("released secret within its linger: %q; want it masked", got)
	}
}

func sprint(v any) string { return fmt.Sprint(v) }
