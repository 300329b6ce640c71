package redact

import (
	"bytes"
	"strings"
)

// Stream masks secrets in output that arrives in pieces, such as a
// terminal's, where a secret may be split across two writes. It holds back
// the end of a piece while it could be the start of a secret, until the
// next piece (or Flush) shows whether it is.
type Stream struct {
	pats []string
	held []byte
}

// NewStream returns a Stream that masks secrets; without any it passes
// everything through as it comes.
func NewStream(secrets []string) *Stream { return &Stream{pats: patterns(secrets)} }

// Mask returns what of p (after what was held back) is safe to let out,
// masked. The result is valid until the next call.
func (s *Stream) Mask(p []byte) []byte {
	if len(s.pats) == 0 {
		return p
	}
	buf := append(s.held, p...)
	if s.containsAny(buf) {
		buf = []byte(replace(string(buf), s.pats))
	}
	keep := s.partial(buf)
	out := buf[:len(buf)-keep]
	s.held = append([]byte(nil), buf[len(buf)-keep:]...)
	return out
}

// Flush returns what is held back: at the end of the output, a partial
// secret is only a partial one.
func (s *Stream) Flush() []byte {
	out := s.held
	s.held = nil
	return out
}

func (s *Stream) containsAny(b []byte) bool {
	for _, p := range s.pats {
		if bytes.Contains(b, []byte(p)) {
			return true
		}
	}
	return false
}

// partial is the length of the longest end of b that begins a secret.
func (s *Stream) partial(b []byte) int {
	longest := 0
	for _, p := range s.pats {
		for k := min(len(b), len(p)-1); k > longest; k-- {
			if strings.HasPrefix(p, string(b[len(b)-k:])) {
				longest = k
				break
			}
		}
	}
	return longest
}
