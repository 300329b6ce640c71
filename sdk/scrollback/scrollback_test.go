package scrollback

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"
)

func TestRingKeepsTheNewestBytes(t *testing.T) {
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
			r := NewRing(tt.size)
			for _, w := range tt.writes {
				r.Write([]byte(w))
			}
			r.Close()
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
			// A reader made now starts at the oldest byte held.
			all, err := io.ReadAll(r.NewReader(nil))
			if err != nil || string(all) != tt.want {
				t.Errorf("new reader got %q, %v; want %q", all, err, tt.want)
			}
		})
	}
}

func TestReaderFollowsTheRingAndCountsSkips(t *testing.T) {
	r := NewRing(4)
	var skipped int64
	rd := r.NewReader(func(n int64) { skipped += n })
	got := make(chan string)
	go func() {
		b := make([]byte, 8)
		n, _ := rd.Read(b) // blocks until output comes
		got <- string(b[:n])
	}()
	r.Write([]byte("hi"))
	if s := <-got; s != "hi" {
		t.Fatalf("first read = %q, want hi", s)
	}
	r.Write([]byte("abcdef")) // more than the ring: the reader falls behind
	b := make([]byte, 8)
	n, err := rd.Read(b)
	if string(b[:n]) != "cdef" || err != nil || skipped != 2 {
		t.Errorf("read %q, %v, skipped %d; want cdef, nil, 2", b[:n], err, skipped)
	}
	r.Close()
	if _, err := rd.Read(b); err != io.EOF {
		t.Errorf("read after the ring closed = %v, want EOF", err)
	}

	// Close unblocks a waiting Read.
	blocked := NewRing(4).NewReader(nil)
	done := make(chan error)
	go func() { _, err := blocked.Read(b); done <- err }()
	time.Sleep(10 * time.Millisecond) // let Read block; the result is the same if it hasn't
	blocked.Close()
	if err := <-done; !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("read after Close = %v, want ErrClosedPipe", err)
	}
}

func TestConnWritesUntilClosed(t *testing.T) {
	r := NewRing(64)
	var got []byte
	c := r.NewConn(nil, func(p []byte) (int, error) { got = append(got, p...); return len(p), nil })
	if n, err := c.Write([]byte("ls\n")); n != 3 || err != nil || string(got) != "ls\n" {
		t.Fatalf("Write = %d, %v; input %q", n, err, got)
	}
	r.Write([]byte("out"))
	buf := make([]byte, 8)
	if n, err := c.Read(buf); string(buf[:n]) != "out" || err != nil {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	c.Close()
	if _, err := c.Write([]byte("x")); err != io.ErrClosedPipe {
		t.Errorf("Write after Close: %v, want io.ErrClosedPipe", err)
	}
	if _, err := c.Read(buf); err != io.ErrClosedPipe {
		t.Errorf("Read after Close: %v, want io.ErrClosedPipe", err)
	}
}
