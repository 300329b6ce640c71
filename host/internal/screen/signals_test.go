package screen

import (
	"fmt"
	"slices"
	"testing"
)

func TestSignals(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Signals
	}{
		{"a title by OSC 0, ended by BEL", "\x1b]0;✳ Claude Code\x07", Signals{Title: "✳ Claude Code", Titles: 1}},
		{"a title by OSC 2, ended by ST, replacing the last", "\x1b]0;one\x07\x1b]2;two\x1b\\", Signals{Title: "two", Titles: 2}},
		{"a title cut at the bound", "\x1b]2;" + string(make([]byte, 300)) + "\x07", Signals{Title: string(make([]byte, maxOSC-2)), Titles: 1}},
		{"bells outside strings only", "a\x07b\x07\x1b]0;t\x07", Signals{Title: "t", Titles: 1, Bells: 2}},
		{"bash's prompt marks around a command", "\x1b]133;A\x07$ \x1b]133;B\x07echo hi\r\nhi\r\n\x1b]133;D;0\x07\x1b]133;A\x07$ \x1b]133;B\x07",
			Signals{PromptStarts: 2, PromptEnds: 2, CommandEnds: 1}},
		{"marks with options", "\x1b]133;A;cl=m;aid=1\x1b\\", Signals{PromptStarts: 1}},
		{"progress set, then indeterminate", "\x1b]9;4;1;50\x07\x1b]9;4;3\x07", Signals{Progress: 3}},
		{"progress removed", "\x1b]9;4;1;50\x07\x1b]9;4;0\x07", Signals{Progress: 0}},
		{"a notification is no progress", "\x1b]9;4 files done\x07", Signals{}},
		{"an OSC cut by CAN counts for nothing", "\x1b]133;A\x18", Signals{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(80, 24)
			_, _ = s.Write([]byte(tt.in))
			if got := s.Signals(); got != tt.want {
				t.Errorf("Signals() = %+v, want %+v", got, tt.want)
			}
			if got := s.Look().Signals; got != tt.want {
				t.Errorf("Look().Signals = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestSignalsSurviveSplitWrites: a PTY read may end anywhere in a mark.
func TestSignalsSurviveSplitWrites(t *testing.T) {
	in := "\x1b]133;D;0\x07\x1b]133;A\x07$ \x1b]0;shell\x1b\\"
	for cut := range len(in) {
		s := New(80, 24)
		_, _ = s.Write([]byte(in[:cut]))
		_, _ = s.Write([]byte(in[cut:]))
		if got, want := s.Signals(), (Signals{Title: "shell", Titles: 1, PromptStarts: 1, CommandEnds: 1}); got != want {
			t.Fatalf("cut at %d: %+v, want %+v", cut, got, want)
		}
	}
}

func TestTitlesSince(t *testing.T) {
	s := New(80, 24)
	for i := range 20 {
		_, _ = s.Write([]byte(fmt.Sprintf("\x1b]0;t%d\x07", i)))
	}
	tests := []struct {
		since uint64
		want  []string
	}{
		{20, []string{}},
		{18, []string{"t18", "t19"}},
		{0, []string{"t4", "t5", "t6", "t7", "t8", "t9", "t10", "t11", "t12", "t13", "t14", "t15", "t16", "t17", "t18", "t19"}},
		{99, []string{}},
	}
	for _, tt := range tests {
		if got := s.TitlesSince(tt.since); !slices.Equal(got, tt.want) {
			t.Errorf("TitlesSince(%d) = %q, want %q", tt.since, got, tt.want)
		}
	}
}
