// Package configblock decodes a runtime's config {} block. A runtime
// declares each attribute once, as an Attr: its name, type and
// description, which Schema turns into Info.ConfigSchema, and a Decoder
// that checks the value and keeps it. Decode's errors name the attribute
// and say what to give instead, for whoever wrote the block.
//
//	func (c *Config) attrs() []configblock.Attr {
//		return []configblock.Attr{{
//			Name: "network", Type: "string", Description: `Network mode. Default "none".`,
//			Decode: configblock.String(&c.Network, `a network mode like "none"`),
//		}}
//	}
//
// Describe then says configblock.Schema(new(Config).attrs()), and
// Configure decodes with configblock.Decode(req.Config, cfg.attrs()) into
// a cfg that holds the defaults.
package configblock

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/parallax/parallax/sdk/runtime"
)

// Attr declares one attribute and how to decode it.
type Attr struct {
	Name string
	// Type is an HCL type expression, as in runtime.ConfigAttr.
	Type        string
	Required    bool
	Description string
	Decode      Decoder
}

// Decoder checks an attribute's value, as JSON, and keeps it. Its error
// says what is wrong and what to give instead; Decode adds the
// attribute's name.
type Decoder func(raw json.RawMessage) error

// Schema declares attrs, for Info.ConfigSchema.
func Schema(attrs []Attr) []runtime.ConfigAttr {
	out := make([]runtime.ConfigAttr, len(attrs))
	for i, a := range attrs {
		out[i] = runtime.ConfigAttr{Name: a.Name, Type: a.Type, Required: a.Required, Description: a.Description}
	}
	return out
}

// Decode decodes raw, the block as a JSON object (empty for none), one
// attribute at a time in the order of their names. Its errors wrap
// runtime.ErrInvalidSpec. The host checked the block against the schema
// already; this checks again because a plugin may be driven by anything.
func Decode(raw []byte, attrs []Attr) error {
	var values map[string]json.RawMessage
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &values); err != nil {
			return fmt.Errorf("%w: config must be a JSON object: %v", runtime.ErrInvalidSpec, err)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(values)) {
		i := slices.IndexFunc(attrs, func(a Attr) bool { return a.Name == name })
		if i < 0 {
			return invalid(name, fmt.Errorf("not known; known ones are %s", strings.Join(names(attrs), ", ")))
		}
		if err := attrs[i].Decode(values[name]); err != nil {
			return invalid(name, err)
		}
	}
	for _, a := range attrs {
		if _, ok := values[a.Name]; a.Required && !ok {
			return fmt.Errorf("%w: config attribute %q is required: %s", runtime.ErrInvalidSpec, a.Name, a.Description)
		}
	}
	return nil
}

func invalid(name string, err error) error {
	if e, ok := err.(*elemError); ok {
		return fmt.Errorf("%w: config attribute %q[%d]: %v", runtime.ErrInvalidSpec, name, e.index, e.err)
	}
	return fmt.Errorf("%w: config attribute %q: %v", runtime.ErrInvalidSpec, name, err)
}

func names(attrs []Attr) []string {
	out := make([]string, len(attrs))
	for i, a := range attrs {
		out[i] = a.Name
	}
	return out
}

// elemError is an error in one element of a list.
type elemError struct {
	index int
	err   error
}

func (e *elemError) Error() string { return fmt.Sprintf("[%d]: %v", e.index, e.err) }

// Value decodes the value as a J, the Go type of its JSON (string,
// float64, bool, map[string]string …), and keeps what parse makes of it
// in p. want says what to give when the value is no J, like
// `a path like "/srv"`. parse may be nil when J is T.
func Value[J, T any](p *T, want string, parse func(J) (T, error)) Decoder {
	return func(raw json.RawMessage) error {
		var j J
		if err := json.Unmarshal(raw, &j); err != nil {
			return fmt.Errorf("want %s", want)
		}
		v, err := convert(j, parse)
		if err != nil {
			return err
		}
		*p = v
		return nil
	}
}

func convert[J, T any](j J, parse func(J) (T, error)) (T, error) {
	if parse == nil {
		return any(j).(T), nil
	}
	return parse(j)
}

// String keeps a string as it is.
func String(p *string, want string) Decoder { return Value[string](p, want, nil) }

// Bool keeps true or false.
func Bool(p *bool) Decoder { return Value[bool](p, "true or false", nil) }

// OneOf keeps one of values.
func OneOf(p *string, values ...string) Decoder {
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = fmt.Sprintf("%q", v)
	}
	list := strings.Join(quoted, ", ")
	if n := len(quoted); n > 1 {
		list = strings.Join(quoted[:n-1], ", ") + " or " + quoted[n-1]
	}
	return Value(p, list, func(s string) (string, error) {
		s = strings.TrimSpace(s)
		if !slices.Contains(values, s) {
			return "", fmt.Errorf("%q is not known; use %s", s, list)
		}
		return s, nil
	})
}

// Duration keeps a duration of zero or more, written like "10s".
func Duration(p *time.Duration) Decoder { return duration(p, false) }

// PositiveDuration keeps a duration of more than zero, written like "10s".
func PositiveDuration(p *time.Duration) Decoder { return duration(p, true) }

func duration(p *time.Duration, positive bool) Decoder {
	what := "a duration"
	if positive {
		what = "a positive duration"
	}
	return Value(p, `a duration like "10s"`, func(s string) (time.Duration, error) {
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil || d < 0 || positive && d == 0 {
			return 0, fmt.Errorf(`%q is not %s; give one like "10s" or "1m"`, s, what)
		}
		return d, nil
	})
}

// Int keeps a whole number from min to max; want says what to give, like
// "a whole number of bytes from 1024 to 4096".
func Int[T ~int | ~int64](p *T, min, max T, want string) Decoder {
	return Value(p, want, func(f float64) (T, error) {
		switch {
		case f != math.Trunc(f):
			return 0, fmt.Errorf("%v is not a whole number; want %s", f, want)
		case f < float64(min) || f > float64(max):
			return 0, fmt.Errorf("%v is out of range; want %s", f, want)
		}
		return T(f), nil
	})
}

// CPU keeps a CPU amount that runtime.ParseCPU reads, like "500m".
func CPU(p *string) Decoder {
	return Value(p, `a CPU amount like "1" or "500m"`, func(s string) (string, error) {
		_, err := runtime.ParseCPU(s)
		return strings.TrimSpace(s), err
	})
}

// Memory keeps a memory size that runtime.ParseMemory reads, like "2Gi".
func Memory(p *string) Decoder {
	return Value(p, `a memory size like "2Gi"`, func(s string) (string, error) {
		_, err := runtime.ParseMemory(s)
		return strings.TrimSpace(s), err
	})
}

// Map adds a map of strings to *p: an entry already there, such as a
// default, stays unless the value has its key. check, when not nil, vets
// each entry, in the order of the keys.
func Map(p *map[string]string, want string, check func(key, value string) error) Decoder {
	return Value(p, want, func(m map[string]string) (map[string]string, error) {
		out := maps.Clone(*p)
		if out == nil {
			out = make(map[string]string, len(m))
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if check != nil {
				if err := check(k, m[k]); err != nil {
					return nil, err
				}
			}
			out[k] = m[k]
		}
		return out, nil
	})
}

// List keeps a list, each element decoded as a J that parse turns into a
// T; parse may be nil when J is T. An element's error names its index.
func List[J, T any](p *[]T, want string, parse func(J) (T, error)) Decoder {
	return Value(p, want, func(js []J) ([]T, error) {
		out := make([]T, 0, len(js))
		for i, j := range js {
			v, err := convert(j, parse)
			if err != nil {
				return nil, &elemError{index: i, err: err}
			}
			out = append(out, v)
		}
		return out, nil
	})
}

// Defaults of the attributes every runtime declares alike.
const (
	DefaultScrollbackBytes = 256 << 10
	DefaultStopTimeout     = 10 * time.Second
)

// ScrollbackBytes declares "scrollback_bytes", the output kept per agent
// for a new attach to replay.
func ScrollbackBytes(p *int) Attr {
	const least, most = 1 << 10, 1 << 30
	return Attr{
		Name: "scrollback_bytes", Type: "number",
		Description: fmt.Sprintf("Output kept per agent and replayed to a new attach. Default %d (%d KiB).",
			DefaultScrollbackBytes, DefaultScrollbackBytes>>10),
		Decode: Int(p, least, most, fmt.Sprintf("a whole number of bytes from %d to %d", least, most)),
	}
}

// StopTimeout declares "default_stop_timeout", how long a graceful stop
// waits before it kills when the caller gives no timeout.
func StopTimeout(p *time.Duration) Attr {
	return Attr{
		Name: "default_stop_timeout", Type: "string",
		Description: fmt.Sprintf(`How long a graceful stop waits between SIGTERM and SIGKILL, as a duration like "10s". Default %q.`,
			DefaultStopTimeout.String()),
		Decode: PositiveDuration(p),
	}
}
