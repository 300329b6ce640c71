package protocol

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestMillisRoundAwayFromZeroAndSaturate(t *testing.T) {
	tests := []struct {
		d  time.Duration
		ms int64
	}{
		{0, 0},
		{time.Second, 1000},
		{time.Microsecond, 1}, // a tiny timeout is still a timeout
		{1500 * time.Microsecond, 2},
		{-time.Microsecond, -1}, // and a negative one still invalid
		{-3 * time.Millisecond, -3},
	}
	for _, tt := range tests {
		if got := toMillis(tt.d); got != tt.ms {
			t.Errorf("toMillis(%v) = %d, want %d", tt.d, got, tt.ms)
		}
	}
	if got := fromMillis(math.MaxInt64); got != math.MaxInt64 {
		t.Errorf("fromMillis(MaxInt64) = %v, want saturated", got)
	}
	if got := fromMillis(250); got != 250*time.Millisecond {
		t.Errorf("fromMillis(250) = %v", got)
	}
}

func TestLateFollowerGetsRecentHistory(t *testing.T) {
	o := newOutputs()
	out, end, err := o.start("t1")
	if err != nil {
		t.Fatal(err)
	}
	// More than twice the history, so it was trimmed; the last line is
	// what a late follower must still see.
	line := strings.Repeat("x", 1023) + "\n"
	for written := 0; written < 3*historySize; written += len(line) {
		if _, err := out.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := out.Write([]byte("last\n")); err != nil {
		t.Fatal(err)
	}

	// The task ends while the follower is reading; the follower still
	// gets the rest.
	var got strings.Builder
	err = o.follow(context.Background(), "t1", func(b []byte) error {
		if got.Len() == 0 {
			end()
		}
		if len(b) > chunkSize {
			t.Errorf("chunk of %d bytes, over chunkSize", len(b))
		}
		got.Write(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := got.Len(); n < historySize || n > 2*historySize+len("last\n") {
		t.Errorf("follower got %d bytes, want between %d and twice that", n, historySize)
	}
	if !strings.HasSuffix(got.String(), "x\nlast\n") {
		t.Errorf("follower's output doesn't end with the last write")
	}
}

func TestWritesAfterTheTaskEndedFail(t *testing.T) {
	o := newOutputs()
	out, end, err := o.start("t1")
	if err != nil {
		t.Fatal(err)
	}
	end()
	if _, err := out.Write([]byte("late")); !errors.Is(err, errTaskEnded) {
		t.Errorf("err = %v, want errTaskEnded", err)
	}
	// The id is free again.
	if _, end, err := o.start("t1"); err != nil {
		t.Errorf("restarting t1: %v", err)
	} else {
		end()
	}
}
