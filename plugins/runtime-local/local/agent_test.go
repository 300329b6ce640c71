package local

import (
	"bytes"
	"strings"
	"testing"
)

func TestRing(t *testing.T) {
	tests := []struct {
		name    string
		size    int
		writes  []string
		want    string // what a reader from the oldest byte gets
		skipped int64  // what a reader from offset 0 skips
	}{
		{"empty", 8, nil, "", 0},
		{"fits", 8, []string{"abc", "de"}, "abcde", 0},
		{"exactly full", 8, []string{"abcd", "efgh"}, "abcdefgh", 0},
		{"wraps", 8, []string{"abcdef", "ghij"}, "cdefghij", 2},
		{"wraps twice", 4, []string{"abc", "def", "ghi"}, "fghi", 5},
		{"write larger than ring", 4, []string{"ab", "cdefghij"}, "ghij", 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRing(tt.size)
			for _, w := range tt.writes {
				r.write([]byte(w))
			}
			r.close()
			var pos int64
			var got bytes.Buffer
			var skipped int64
			b := make([]byte, 3) // smaller than the data, to read across the wrap
			for {
				n, s, _, eof := r.read(&pos, b)
				skipped += s
				got.Write(b[:n])
				if eof {
					break
				}
				if n == 0 {
					t.Fatal("no data and no EOF from a closed ring")
				}
			}
			if got.String() != tt.want || skipped != tt.skipped {
				t.Errorf("read %q skipping %d, want %q skipping %d", got.String(), skipped, tt.want, tt.skipped)
			}
			if pos = r.oldest(); pos != int64(tt.skipped) {
				t.Errorf("oldest = %d, want %d", pos, tt.skipped)
			}
		})
	}
}

func TestRingWakesReaders(t *testing.T) {
	r := newRing(16)
	var pos int64
	n, _, wake, eof := r.read(&pos, make([]byte, 4))
	if n != 0 || eof {
		t.Fatalf("read from empty ring = %d, eof %v", n, eof)
	}
	r.write([]byte("x"))
	<-wake // closed by the write
	_, _, wake, _ = r.read(&pos, make([]byte, 4))
	r.close()
	<-wake // closed by close
	if _, _, _, eof := r.read(&pos, make([]byte, 4)); !eof {
		t.Error("no EOF after close")
	}
}

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
