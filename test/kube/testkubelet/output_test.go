package testkubelet

import (
	"strings"
	"testing"
)

func TestOutputKeepsTheLastBytes(t *testing.T) {
	tests := []struct {
		name   string
		limit  int
		writes []string
		want   string
	}{
		{"nothing", 4, nil, ""},
		{"under the limit", 4, []string{"ab", "c"}, "abc"},
		{"at the limit", 4, []string{"ab", "cd"}, "abcd"},
		{"over the limit", 4, []string{"ab", "cd", "ef"}, "cdef"},
		{"far over the limit", 4, []string{"abcdefghij", "k"}, "hijk"},
		{"many small writes", 3, strings.Split("abcdefghijklmnop", ""), "nop"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newOutput(tt.limit)
			for _, w := range tt.writes {
				if _, err := o.Write([]byte(w)); err != nil {
					t.Fatal(err)
				}
			}
			if got := string(o.snapshot()); got != tt.want {
				t.Errorf("snapshot %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOutputFollowers(t *testing.T) {
	o := newOutput(100)
	o.Write([]byte("before "))
	history, f := o.follow()
	buf := []byte("after")
	o.Write(buf)
	copy(buf, "XXXXX") // the writer reuses its buffer, as the PTY reader does
	_, late := o.follow()
	o.Write([]byte(" more"))
	o.close()

	if string(history) != "before " {
		t.Errorf("history %q, want %q", history, "before ")
	}
	tests := []struct {
		name string
		f    *follower
		want string
	}{
		{"first", f, "after more"},
		{"late", late, " more"},
	}
	for _, tt := range tests {
		var got strings.Builder
		for {
			chunk, ok := tt.f.next()
			if !ok {
				break
			}
			got.Write(chunk)
		}
		if got.String() != tt.want {
			t.Errorf("%s follower got %q, want %q", tt.name, got.String(), tt.want)
		}
	}

	_, closed := o.follow()
	if _, ok := closed.next(); ok {
		t.Error("a follower of a closed output got something")
	}
}
