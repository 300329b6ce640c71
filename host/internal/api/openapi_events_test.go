package api

import (
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/parallax/parallax/host/internal/events"
)

// dataFields returns the JSON names of the fields of an event's data type,
// those of embedded structs included, sorted.
func dataFields(typ reflect.Type) []string {
	var out []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" {
			t := f.Type
			if t.Kind() == reflect.Pointer {
				t = t.Elem()
			}
			out = append(out, dataFields(t)...)
			continue
		}
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	return sorted(out)
}

var (
	// eventRow is a row of the table of events in the Event schema's
	// description: "| `name` | data |".
	eventRow = regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| (.*) \\|$")
	// aside is a parenthesized remark in a row's data cell, which may name
	// things other than fields.
	aside  = regexp.MustCompile(`\([^()]*\)`)
	quoted = regexp.MustCompile("`([^`]+)`")
)

// documentedEvents reads the Event schema's table: each event's data
// fields, the code-quoted names before the first colon of its row, out of
// parentheses.
func documentedEvents(t *testing.T, description string) map[events.Name][]string {
	t.Helper()
	out := map[events.Name][]string{}
	for _, m := range eventRow.FindAllStringSubmatch(description, -1) {
		name, cell := events.Name(m[1]), m[2]
		for aside.MatchString(cell) {
			cell = aside.ReplaceAllString(cell, "")
		}
		cell, _, ok := strings.Cut(cell, ":")
		if !ok {
			t.Errorf("the row of %s has no colon after its fields: %q", name, m[2])
		}
		if _, dup := out[name]; dup {
			t.Errorf("two rows for %s", name)
		}
		fields := []string{}
		for _, c := range quoted.FindAllStringSubmatch(cell, -1) {
			if !slices.Contains(fields, c[1]) {
				fields = append(fields, c[1])
			}
		}
		out[name] = sorted(fields)
	}
	return out
}

// TestOpenAPIDocumentsEveryEvent holds openapi.json's Event schema to the
// events package: its enum names every event and no other, and its table
// gives each event's data fields, no more and no fewer.
func TestOpenAPIDocumentsEveryEvent(t *testing.T) {
	s := schema(t, loadOpenAPI(t), "Event")
	enum := strs(s["properties"].(map[string]any)["event"].(map[string]any)["enum"])
	desc, _ := s["description"].(string)
	table := documentedEvents(t, desc)

	code := map[events.Name][]string{}
	for _, d := range events.All() {
		code[d.EventName()] = dataFields(reflect.TypeOf(d))
	}
	for name, fields := range code {
		if !slices.Contains(enum, string(name)) {
			t.Errorf("the Event enum lacks %s", name)
		}
		doc, ok := table[name]
		switch {
		case !ok:
			t.Errorf("the Event description has no row for %s, whose data has %q", name, fields)
		case !slices.Equal(doc, fields):
			t.Errorf("the Event description gives %s the data %q; the code, %q", name, doc, fields)
		}
	}
	for _, name := range enum {
		if _, ok := code[events.Name(name)]; !ok {
			t.Errorf("the Event enum names %s, which the events package doesn't have", name)
		}
	}
	for name := range table {
		if _, ok := code[name]; !ok {
			t.Errorf("the Event description documents %s, which the events package doesn't have", name)
		}
	}
	if len(enum) != len(code) {
		t.Errorf("the Event enum has %d names for %d events", len(enum), len(code))
	}
}
