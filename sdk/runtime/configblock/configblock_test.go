package configblock

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parallax/parallax/sdk/runtime"
)

type config struct {
	Name    string
	On      bool
	Mode    string
	Wait    time.Duration
	Grace   time.Duration
	Bytes   int
	Limit   int64
	CPU     string
	Memory  string
	Images  map[string]string
	Dirs    []string
	Pairs   []string
	Secrets []string
}

func (c *config) attrs() []Attr {
	return []Attr{
		{Name: "name", Type: "string", Required: true, Description: "Who.", Decode: String(&c.Name, `a name like "x"`)},
		{Name: "on", Type: "bool", Decode: Bool(&c.On)},
		{Name: "mode", Type: "string", Decode: OneOf(&c.Mode, "auto", "off", "on")},
		{Name: "wait", Type: "string", Decode: Duration(&c.Wait)},
		{Name: "grace", Type: "string", Decode: PositiveDuration(&c.Grace)},
		{Name: "bytes", Type: "number", Decode: Int(&c.Bytes, 1024, 4096, "a whole number of bytes from 1024 to 4096")},
		{Name: "limit", Type: "number", Decode: Int(&c.Limit, 0, 10, "a whole number like 5, or 0 for no limit")},
		{Name: "cpu", Type: "string", Decode: CPU(&c.CPU)},
		{Name: "memory", Type: "string", Decode: Memory(&c.Memory)},
		{Name: "images", Type: "map(string)", Decode: Map(&c.Images, "a map of images", func(k, v string) error {
			if v == "" {
				return fmt.Errorf("the image for %q is empty", k)
			}
			return nil
		})},
		{Name: "dirs", Type: "list(string)", Decode: List(&c.Dirs, "a list of directories", func(s string) (string, error) {
			if !filepath.IsAbs(s) {
				return "", fmt.Errorf("%q is not an absolute path", s)
			}
			return filepath.Clean(s), nil
		})},
		{Name: "pairs", Type: "list(map(string))", Decode: List(&c.Pairs, "a list of pairs", func(m map[string]string) (string, error) {
			if m["a"] == "" {
				return "", fmt.Errorf("no a")
			}
			return m["a"] + "=" + m["b"], nil
		})},
		{Name: "secrets", Type: "list(string)", Decode: List[string](&c.Secrets, "a list of names", nil)},
	}
}

func defaults() config {
	return config{Mode: "auto", Grace: 10 * time.Second, Bytes: 2048, Images: map[string]string{"a": "img-a", "b": "img-b"}}
}

func decode(raw string) (config, error) {
	c := defaults()
	err := Decode([]byte(raw), c.attrs())
	return c, err
}

func TestDecodeKeeps(t *testing.T) {
	tests := []struct {
		raw  string
		edit func(*config)
	}{
		{`{"name": "x"}`, func(c *config) { c.Name = "x" }},
		{`{"name": "x", "on": true}`, func(c *config) { c.Name, c.On = "x", true }},
		{`{"name": "x", "mode": " off "}`, func(c *config) { c.Name, c.Mode = "x", "off" }},
		{`{"name": "x", "wait": "0s", "grace": "1m"}`, func(c *config) { c.Name, c.Grace = "x", time.Minute }},
		{`{"name": "x", "bytes": 4096, "limit": 0}`, func(c *config) { c.Name, c.Bytes = "x", 4096 }},
		{`{"name": "x", "cpu": " 500m ", "memory": "2Gi"}`, func(c *config) { c.Name, c.CPU, c.Memory = "x", "500m", "2Gi" }},
		{`{"name": "x", "images": {"b": "mine", "c": "img-c"}}`, func(c *config) {
			c.Name, c.Images = "x", map[string]string{"a": "img-a", "b": "mine", "c": "img-c"}
		}},
		{`{"name": "x", "dirs": ["/srv/", "/tmp"], "secrets": ["s"]}`, func(c *config) {
			c.Name, c.Dirs, c.Secrets = "x", []string{"/srv", "/tmp"}, []string{"s"}
		}},
		{`{"name": "x", "pairs": [{"a": "1", "b": "2"}]}`, func(c *config) { c.Name, c.Pairs = "x", []string{"1=2"} }},
	}
	for _, tt := range tests {
		got, err := decode(tt.raw)
		if err != nil {
			t.Errorf("Decode(%s): %v", tt.raw, err)
			continue
		}
		want := defaults()
		tt.edit(&want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Decode(%s) = %+v; want %+v", tt.raw, got, want)
		}
	}
}

func TestDecodeErrorsNameTheAttributeAndTheFix(t *testing.T) {
	tests := []struct {
		raw  string
		want []string
	}{
		{`[1]`, []string{"config must be a JSON object"}},
		{`{}`, []string{`config attribute "name" is required`, "Who."}},
		{`{"nmae": "x"}`, []string{`config attribute "nmae": not known; known ones are name, on, mode`}},
		{`{"name": 3}`, []string{`config attribute "name": want a name like "x"`}},
		{`{"on": "yes"}`, []string{`"on": want true or false`}},
		{`{"mode": "sometimes"}`, []string{`"mode": "sometimes" is not known; use "auto", "off" or "on"`}},
		{`{"mode": 1}`, []string{`"mode": want "auto", "off" or "on"`}},
		{`{"wait": "-1s"}`, []string{`"wait": "-1s" is not a duration; give one like "10s"`}},
		{`{"grace": "0s"}`, []string{`"grace": "0s" is not a positive duration`}},
		{`{"grace": 10}`, []string{`"grace": want a duration like "10s"`}},
		{`{"bytes": 5}`, []string{`"bytes": 5 is out of range; want a whole number of bytes from 1024 to 4096`}},
		{`{"bytes": 2048.5}`, []string{`"bytes": 2048.5 is not a whole number`}},
		{`{"limit": -1}`, []string{`"limit"`, "0 for no limit"}},
		{`{"cpu": "lots"}`, []string{`"cpu": cpu "lots"`, `"500m"`}},
		{`{"memory": "2GB"}`, []string{`"memory": memory "2GB"`, `"2Gi"`}},
		{`{"images": {"z": ""}}`, []string{`"images": the image for "z" is empty`}},
		{`{"images": ["x"]}`, []string{`"images": want a map of images`}},
		{`{"dirs": ["/ok", "rel"]}`, []string{`config attribute "dirs"[1]: "rel" is not an absolute path`}},
		{`{"pairs": [{"b": "2"}]}`, []string{`config attribute "pairs"[0]: no a`}},
		{`{"secrets": "s"}`, []string{`"secrets": want a list of names`}},
	}
	for _, tt := range tests {
		raw := tt.raw
		if raw != "[1]" && raw != "{}" && !strings.Contains(raw, `"name"`) {
			raw = `{"name": "x", ` + raw[1:]
		}
		_, err := decode(raw)
		if !errors.Is(err, runtime.ErrInvalidSpec) {
			t.Errorf("Decode(%s) = %v; want ErrInvalidSpec", raw, err)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Decode(%s) = %v; want it to say %s", raw, err, w)
			}
		}
	}
}

func TestDecodeNothingKeepsTheDefaults(t *testing.T) {
	c := defaults()
	attrs := c.attrs()[1:] // without the required one
	for _, raw := range []string{"", "  ", "{}", "null"} {
		if err := Decode([]byte(raw), attrs); err != nil {
			t.Errorf("Decode(%q): %v", raw, err)
		}
	}
	if !reflect.DeepEqual(c, defaults()) {
		t.Errorf("defaults changed to %+v", c)
	}
}

func TestSchema(t *testing.T) {
	got := Schema(new(config).attrs()[:2])
	want := []runtime.ConfigAttr{
		{Name: "name", Type: "string", Required: true, Description: "Who."},
		{Name: "on", Type: "bool"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Schema = %+v; want %+v", got, want)
	}
}

func TestSharedAttrs(t *testing.T) {
	var c struct {
		scrollback int
		stop       time.Duration
	}
	attrs := []Attr{ScrollbackBytes(&c.scrollback), StopTimeout(&c.stop)}
	for _, a := range attrs {
		if a.Description == "" || a.Type == "" {
			t.Errorf("%s is not declared: %+v", a.Name, a)
		}
	}
	if !strings.Contains(attrs[0].Description, "262144 (256 KiB)") || !strings.Contains(attrs[1].Description, `Default "10s"`) {
		t.Errorf("descriptions don't name the defaults: %q, %q", attrs[0].Description, attrs[1].Description)
	}
	if err := Decode([]byte(`{"scrollback_bytes": 4096, "default_stop_timeout": "3s"}`), attrs); err != nil || c.scrollback != 4096 || c.stop != 3*time.Second {
		t.Errorf("Decode: %v, %+v", err, c)
	}
	for _, raw := range []string{`{"scrollback_bytes": 5}`, `{"scrollback_bytes": 1.5}`, `{"default_stop_timeout": "0s"}`, `{"default_stop_timeout": "soon"}`} {
		if err := Decode([]byte(raw), attrs); err == nil {
			t.Errorf("Decode(%s) succeeded", raw)
		}
	}
}
