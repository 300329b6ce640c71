package agents

import (
	"bytes"
	"strings"
	"testing"
)

func TestResumeFilterPassesOnlyWhatTheStoreLacks(t *testing.T) {
	kept := []byte(strings.Repeat("line of output\r\n", 40) + "\x1b[2K❯ the last prompt")
	tests := []struct {
		name   string
		kept   []byte
		replay []string
		want   string
	}{
		{"the replay starts where the store starts", kept, []string{string(kept), " and new"}, " and new"},
		{"the replay starts mid-way", kept, []string{string(kept[100:]) + "new"}, "new"},
		{"split into small reads", kept, strings.SplitAfter(string(kept[300:])+"new output", "\n"), "new output"},
		{"nothing new yet", kept, []string{string(kept[50:])}, ""},
		{"the store is empty", nil, []string{"all new"}, "all new"},
		// A replay that doesn't contain the kept end (the runtime's ring
		// dropped it) comes through whole once past the bound.
		{"no overlap", kept, []string{strings.Repeat("x", len(kept)+2000)}, strings.Repeat("x", len(kept)+2000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newResumeFilter(tt.kept, 0)
			var got bytes.Buffer
			for _, p := range tt.replay {
				got.Write(f.filter([]byte(p)))
			}
			if got.String() != tt.want {
				t.Fatalf("got %q, want %q", got.String(), tt.want)
			}
		})
	}
}

func TestResumeFilterIsNotFooledByAnEarlierRepeat(t *testing.T) {
	// The kept end ("prompt> ") shows twice; only the aligned one counts.
	kept := []byte(strings.Repeat("a", 300) + "prompt> " + strings.Repeat("b", 300) + "prompt> ")
	f := newResumeFilter(kept, 0)
	got := string(f.filter(append(append([]byte{}, kept...), "new"...)))
	if got != "new" {
		t.Fatalf("got %q", got)
	}
}
