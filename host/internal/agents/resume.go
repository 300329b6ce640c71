package agents

import "bytes"

// resumeFilter finds where the output of a re-attached terminal goes past
// what the store already has. A runtime replays its scrollback to every
// attach, so after a host restart the first bytes are, mostly, output the
// store kept before: only what follows the kept output's end is new.
//
// It matches the end of the kept output in the replay, and checks that
// all the replay before the match is kept output too. While no match is
// found it holds the bytes back; past a bound (a replay can't be longer
// than the kept output plus what came while the host was down, and the
// runtime's scrollback bounds that) it gives up and lets all of it
// through, since repeating output is better than losing it.
type resumeFilter struct {
	kept  []byte // the end of the stored output
	held  []byte
	bound int
	done  bool
}

// resumeNeedle is how much of the kept output's end must match.
const resumeNeedle = 256

func newResumeFilter(kept []byte, bound int) *resumeFilter {
	return &resumeFilter{kept: kept, bound: max(bound, len(kept)+resumeNeedle), done: len(kept) == 0}
}

// filter returns what of p is new output.
func (f *resumeFilter) filter(p []byte) []byte {
	if f == nil || f.done {
		return p
	}
	f.held = append(f.held, p...)
	needle := f.kept[max(0, len(f.kept)-resumeNeedle):]
	from := 0
	for {
		i := bytes.Index(f.held[from:], needle)
		if i < 0 {
			break
		}
		end := from + i + len(needle)
		if f.aligned(end) {
			return f.finish(f.held[end:])
		}
		from += i + 1
	}
	if len(f.held) > f.bound {
		return f.finish(f.held)
	}
	return nil
}

// aligned says whether held[:end] is the end of the kept output, or holds
// all of it after output the store dropped to its cap.
func (f *resumeFilter) aligned(end int) bool {
	if end <= len(f.kept) {
		return bytes.Equal(f.held[:end], f.kept[len(f.kept)-end:])
	}
	return bytes.Equal(f.held[end-len(f.kept):end], f.kept)
}

func (f *resumeFilter) finish(out []byte) []byte {
	f.done, f.kept, f.held = true, nil, nil
	return out
}
