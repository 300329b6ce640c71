package agents

import (
	"strings"
	"testing"
)

func TestRingKeepsTheLastBytes(t *testing.T) {
	tests := []struct {
		name   string
		size   int
		writes []string
		want   string
	}{
		{"empty", 4, nil, ""},
		{"under size", 8, []string{"ab", "cd"}, "abcd"},
		{"exactly size", 4, []string{"ab", "cd"}, "abcd"},
		{"wraps", 4, []string{"abc", "def"}, "cdef"},
		{"wraps many times", 3, []string{"ab", "cd", "ef", "g"}, "efg"},
		{"one write larger than size", 4, []string{"x", "abcdefgh"}, "efgh"},
		{"wrap then large", 4, []string{"abcde", "fg", "hijklm"}, "jklm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRing(tt.size)
			for _, w := range tt.writes {
				if n, _ := r.Write([]byte(w)); n != len(w) {
					t.Fatalf("Write(%q) = %d", w, n)
				}
			}
			if got := string(r.Bytes()); got != tt.want {
				t.Errorf("Bytes() = %q, want %q", got, tt.want)
			}
			if r.total != int64(len(strings.Join(tt.writes, ""))) {
				t.Errorf("total = %d", r.total)
			}
		})
	}
}
