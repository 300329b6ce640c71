// Package redact masks credentials in what the host lets out: its log (the
// plugins' logs included, as the host relays them), events and replies.
package redact

import (
	"encoding/json"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Mask replaces every secret.
const Mask = "[REDACTED]"

// minLen is the shortest secret masked: masking a value of a character
// or two would garble every line and hide nothing worth hiding.
const minLen = 4

// forms returns secret as it may appear in text: as is, and escaped as a
// JSON string, a Go string, or a quoted value of hclog's text format
// (which escapes only the quotes of a printable value).
func forms(secret string) []string {
	if len(secret) < minLen {
		return nil
	}
	out := []string{secret, strings.ReplaceAll(secret, `"`, `\"`)}
	if b, err := json.Marshal(secret); err == nil {
		out = append(out, string(b[1:len(b)-1]))
	}
	q := strconv.Quote(secret)
	return append(out, q[1:len(q)-1])
}

// patterns returns the forms of secrets, deduplicated, longest first, so
// that a secret holding another is masked whole.
func patterns(secrets []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range secrets {
		for _, f := range forms(s) {
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

func replace(s string, pats []string) string {
	for _, p := range pats {
		if strings.Contains(s, p) {
			s = strings.ReplaceAll(s, p, Mask)
		}
	}
	return s
}

// String masks every secret in s.
func String(s string, secrets []string) string {
	return replace(s, patterns(secrets))
}

// Value masks every secret in v: in v itself if it is a string, and in the
// strings anywhere inside its lists and maps. Containers are copied, not
// changed. Values of other types that hold a secret in their JSON form
// come back as their JSON decoded into maps and lists, masked; the others
// come back as they are.
func Value(v any, secrets []string) any {
	pats := patterns(secrets)
	if len(pats) == 0 {
		return v
	}
	return value(v, pats)
}

func value(v any, pats []string) any {
	switch v := v.(type) {
	case nil, bool, int, int64, float64, time.Time, time.Duration:
		return v
	case string:
		return replace(v, pats)
	case []string:
		out := make([]string, len(v))
		for i, s := range v {
			out[i] = replace(s, pats)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = value(e, pats)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[replace(k, pats)] = value(e, pats)
		}
		return out
	case map[string]string:
		out := make(map[string]string, len(v))
		for k, e := range v {
			out[replace(k, pats)] = replace(e, pats)
		}
		return out
	}
	// Anything else (a struct, a typed list) is masked through its JSON,
	// which is what leaves the host.
	b, err := json.Marshal(v)
	if err != nil {
		return Mask // can't look inside it, so it can't go out
	}
	if replace(string(b), pats) == string(b) {
		return v
	}
	var decoded any
	if err := json.Unmarshal(b, &decoded); err != nil {
		return Mask
	}
	return value(decoded, pats)
}

// Typed masks every secret in v as Value does, but gives back a value of
// v's own type: a copy of v with the secrets masked in its strings and
// byte slices, wherever they are in its exported struct fields, pointers,
// lists, maps and interfaces. What holds no secret is not copied.
// Unexported fields are left as they are, embedded ones included: a type
// to be masked must not hold a secret in one that its JSON shows.
func Typed(v any, secrets []string) any {
	pats := patterns(secrets)
	if len(pats) == 0 || v == nil {
		return v
	}
	return typed(v, pats)
}

func typed(v any, pats []string) any {
	out, changed := typedValue(reflect.ValueOf(v), pats)
	if !changed {
		return v
	}
	return out.Interface()
}

// typedValue returns v masked, and whether that changed it; if not, it
// returns v itself.
func typedValue(v reflect.Value, pats []string) (reflect.Value, bool) {
	switch v.Kind() {
	case reflect.String:
		s := v.String()
		m := replace(s, pats)
		if m == s {
			return v, false
		}
		out := reflect.New(v.Type()).Elem()
		out.SetString(m)
		return out, true
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return v, false
		}
		e, changed := typedValue(v.Elem(), pats)
		if !changed {
			return v, false
		}
		if v.Kind() == reflect.Pointer {
			out := reflect.New(v.Type().Elem())
			out.Elem().Set(e)
			return out, true
		}
		out := reflect.New(v.Type()).Elem()
		out.Set(e)
		return out, true
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.Type().Elem() == reflect.TypeFor[byte]() {
			// Raw bytes, such as a json.RawMessage: masked as text.
			b := v.Bytes()
			m := replace(string(b), pats)
			if m == string(b) {
				return v, false
			}
			return reflect.ValueOf([]byte(m)).Convert(v.Type()), true
		}
		var out reflect.Value
		for i := range v.Len() {
			e, changed := typedValue(v.Index(i), pats)
			if !changed {
				continue
			}
			if !out.IsValid() {
				if v.Kind() == reflect.Slice {
					out = reflect.MakeSlice(v.Type(), v.Len(), v.Len())
					reflect.Copy(out, v)
				} else {
					out = reflect.New(v.Type()).Elem()
					out.Set(v)
				}
			}
			out.Index(i).Set(e)
		}
		return out, out.IsValid()
	case reflect.Map:
		changed := false
		type entry struct{ k, v reflect.Value }
		entries := make([]entry, 0, v.Len())
		for it := v.MapRange(); it.Next(); {
			k, kc := typedValue(it.Key(), pats)
			e, ec := typedValue(it.Value(), pats)
			changed = changed || kc || ec
			entries = append(entries, entry{k, e})
		}
		if !changed {
			return v, false
		}
		out := reflect.MakeMapWithSize(v.Type(), len(entries))
		for _, e := range entries {
			out.SetMapIndex(e.k, e.v)
		}
		return out, true
	case reflect.Struct:
		var out reflect.Value
		for i := range v.NumField() {
			if !v.Type().Field(i).IsExported() {
				continue
			}
			e, changed := typedValue(v.Field(i), pats)
			if !changed {
				continue
			}
			if !out.IsValid() {
				out = reflect.New(v.Type()).Elem()
				out.Set(v)
			}
			out.Field(i).Set(e)
		}
		return out, out.IsValid()
	}
	return v, false
}

// Set is the secrets of every live agent, for masking what has no agent
// to ask, such as the host's log. Each secret stays Linger after the last
// agent holding it went, so that lines logged about its end are masked
// too; after that it is forgotten, so that a host that runs for months
// does not check each line against every key it ever saw.
type Set struct {
	linger time.Duration

	mu    sync.RWMutex
	held  map[string]int // secret -> holders
	pats  []string       // patterns of the held secrets
	dirty bool
}

// DefaultLinger is how long a Set keeps a released secret.
const DefaultLinger = 10 * time.Minute

// NewSet returns an empty Set that keeps released secrets for linger.
func NewSet(linger time.Duration) *Set {
	return &Set{linger: linger, held: map[string]int{}}
}

// Hold adds secrets to s until release is called, and linger after. A
// secret held twice stays until both let go. release may be called more
// than once; only the first call counts.
func (s *Set) Hold(secrets []string) (release func()) {
	secrets = append([]string(nil), secrets...)
	s.mu.Lock()
	for _, x := range secrets {
		if len(x) >= minLen {
			s.held[x]++
			s.dirty = true
		}
	}
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			if s.linger <= 0 {
				s.drop(secrets)
				return
			}
			time.AfterFunc(s.linger, func() { s.drop(secrets) })
		})
	}
}

func (s *Set) drop(secrets []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range secrets {
		if len(x) < minLen {
			continue
		}
		if s.held[x]--; s.held[x] <= 0 {
			delete(s.held, x)
			s.dirty = true
		}
	}
}

// patterns returns the held secrets' patterns, rebuilt after a change.
func (s *Set) patterns() []string {
	s.mu.RLock()
	pats, dirty := s.pats, s.dirty
	s.mu.RUnlock()
	if !dirty {
		return pats
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dirty {
		secrets := make([]string, 0, len(s.held))
		for x := range s.held {
			secrets = append(secrets, x)
		}
		s.pats, s.dirty = patterns(secrets), false
	}
	return s.pats
}

// String masks every held secret in text.
func (s *Set) String(text string) string {
	if s == nil {
		return text
	}
	return replace(text, s.patterns())
}

// Value masks every held secret in v, as the function Value does.
func (s *Set) Value(v any) any {
	if s == nil {
		return v
	}
	pats := s.patterns()
	if len(pats) == 0 {
		return v
	}
	return value(v, pats)
}

// Typed masks every held secret in v as the function Typed does.
func (s *Set) Typed(v any) any {
	if s == nil || v == nil {
		return v
	}
	pats := s.patterns()
	if len(pats) == 0 {
		return v
	}
	return typed(v, pats)
}

// Writer returns a writer that masks every held secret in what it writes
// to w. Each Write is masked on its own, so it suits a logger, which
// writes a whole line at a time, and not a stream.
func (s *Set) Writer(w io.Writer) io.Writer { return writer{s, w} }

type writer struct {
	s *Set
	w io.Writer
}

func (w writer) Write(p []byte) (int, error) {
	pats := w.s.patterns()
	text := string(p)
	masked := replace(text, pats)
	if masked == text {
		return w.w.Write(p)
	}
	if _, err := io.WriteString(w.w, masked); err != nil {
		return 0, err
	}
	// The caller wrote p, all of it; that less went out is the point.
	return len(p), nil
}
