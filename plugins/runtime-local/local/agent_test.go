package local

import (
	"strings"
	"testing"
)

func TestFsName(t *testing.T) {
	tests := []struct {
		id       string
		verbatim bool
	}{
		{"agent-1", true},
		{"Claude_2", true},
		{"a.b", false},
		{"../escape", false},
		{"tasks", false},
		{"with/slash", false},
		{strings.Repeat("x", 101), false},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		got := fsName(tt.id)
		if (got == tt.id) != tt.verbatim || strings.ContainsAny(got, "/.") || len(got) > 100 {
			t.Errorf("fsName(%q) = %q", tt.id, got)
		}
		if prev, ok := seen[got]; ok {
			t.Errorf("fsName(%q) = fsName(%q) = %q", tt.id, prev, got)
		}
		seen[got] = tt.id
	}
}
