package protocol

import (
	"bytes"
	"errors"
	"testing"
)

func TestDataTravelsAsJSON(t *testing.T) {
	tests := []struct {
		name     string
		data     string
		wire     string // the JSON value sent
		received string // what dataFromJSON gives back
	}{
		{"empty", "", "", ""},
		{"text", "fix the bug", `"fix the bug"`, "fix the bug"},
		{"object", `{"a":[1,2]}`, `{"a":[1,2]}`, `{"a":[1,2]}`},
		{"array", `[true,false]`, `[true,false]`, `[true,false]`},
		{"number", `-1.5e3`, `-1.5e3`, `-1.5e3`},
		{"bool", `true`, `true`, `true`},
		// Whitespace is not kept by the encoder around it, but the value
		// arrives as sent here.
		{"spaced object", " {\"a\": 1}\n", " {\"a\": 1}\n", `{"a": 1}`},
		{"JSON string stays a string", `"quoted"`, `"\"quoted\""`, `"quoted"`},
		{"null stays text", `null`, `"null"`, `null`},
		{"almost JSON", `{"a":`, `"{\"a\":"`, `{"a":`},
		{"word starting like JSON", `total: 3`, `"total: 3"`, `total: 3`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wire, err := dataToJSON([]byte(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if string(wire) != tt.wire {
				t.Errorf("dataToJSON(%q) = %s, want %s", tt.data, wire, tt.wire)
			}
			got, err := dataFromJSON(wire)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.received {
				t.Errorf("dataFromJSON(%s) = %q, want %q", wire, got, tt.received)
			}
		})
	}
}

func TestBinaryDataIsNotJSON(t *testing.T) {
	if _, err := dataToJSON([]byte{0xff, 'a'}); !errors.Is(err, errNotText) {
		t.Errorf("err = %v, want errNotText", err)
	}
}

func TestDataFromJSONNull(t *testing.T) {
	for _, raw := range []string{"", "null", " null "} {
		if got, err := dataFromJSON([]byte(raw)); err != nil || got != nil {
			t.Errorf("dataFromJSON(%q) = %q, %v; want nothing", raw, got, err)
		}
	}
	if got, _ := dataFromJSON([]byte(`"a\u003cb"`)); !bytes.Equal(got, []byte("a<b")) {
		t.Errorf("escaped string = %q", got)
	}
}
