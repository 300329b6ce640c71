package screen

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/width"
)

// filter rewrites the PTY stream before vt10x sees it, for what vt10x gets
// wrong or what only costs time:
//   - SGR and OSC/DCS/APC/PM strings are dropped: they never change the
//     text, and vt10x parses them a rune at a time.
//   - CSIs vt10x misreads are dropped: private prefixes < = > (kitty
//     keyboard "CSI > 1 u" would restore the cursor), sub-parameters,
//     intermediates, negative or huge numbers (vt10x panics on some and
//     loops on others).
//   - ESC with intermediates other than "(" is dropped: vt10x would print
//     the final byte of "ESC ) 0" or "ESC % G".
//   - A wide rune is followed by wideTail, so it takes two cells as in a
//     real terminal; zero-width runes (combining marks, ZWJ, variation
//     selectors) and C1 controls are dropped.
//   - A rune split across writes is held back until it is complete (vt10x
//     would drop it).
type filter struct {
	state    int
	csi      []byte // parameter and intermediate bytes of the CSI being read
	csiLong  bool
	pending  [utf8.UTFMax]byte
	npending int
}

const (
	stGround = iota
	stEsc
	stEscCharset // after ESC (: one more byte names the charset
	stEscInter   // after ESC and an intermediate byte other than (
	stCSI
	stString // inside OSC, DCS, APC, PM, SOS or "ESC k"
	stStringEsc
)

// wideTail fills the second cell of a wide rune. It is a noncharacter, so
// no program prints it; Lines skips it.
const wideTail = '\uFFFF'

const maxCSI = 32

func (f *filter) run(dst, p []byte) []byte {
	i := 0
	if f.npending > 0 {
		var tmp [2 * utf8.UTFMax]byte
		n := copy(tmp[:], f.pending[:f.npending])
		n += copy(tmp[n:n+utf8.UTFMax-f.npending], p)
		if !utf8.FullRune(tmp[:n]) {
			f.npending = copy(f.pending[:], tmp[:n])
			return dst
		}
		r, size := utf8.DecodeRune(tmp[:n])
		if r == utf8.RuneError && size == 1 {
			dst = appendRune(dst, utf8.RuneError)
		} else {
			dst = appendRune(dst, r)
			i = size - f.npending
		}
		f.npending = 0
	}
	for i < len(p) {
		b := p[i]
		switch f.state {
		case stGround:
			j := i
			for j < len(p) && p[j] < utf8.RuneSelf && p[j] != 0x1b {
				j++
			}
			dst = append(dst, p[i:j]...)
			i = j
			if i == len(p) {
				continue
			}
			if p[i] == 0x1b {
				f.state = stEsc
				i++
				continue
			}
			if !utf8.FullRune(p[i:]) {
				f.npending = copy(f.pending[:], p[i:])
				return dst
			}
			r, size := utf8.DecodeRune(p[i:])
			dst = appendRune(dst, r)
			i += size
			continue
		case stEsc:
			switch {
			case b == '[':
				f.csi, f.csiLong = f.csi[:0], false
				f.state = stCSI
			case b == ']' || b == 'P' || b == '_' || b == '^' || b == 'X' || b == 'k':
				f.state = stString
			case b == '(':
				f.state = stEscCharset
			case b >= 0x20 && b <= 0x2f:
				f.state = stEscInter
			case b == 0x1b:
			case b == 0x18 || b == 0x1a:
				f.state = stGround
			case b < 0x20:
				dst = append(dst, b)
			case b <= 0x7e:
				dst = append(dst, 0x1b, b)
				f.state = stGround
			default:
				f.state = stGround
				continue
			}
		case stEscCharset:
			if b >= 0x30 && b <= 0x7e {
				dst = append(dst, 0x1b, '(', b)
			}
			f.state = stGround
			if b >= utf8.RuneSelf {
				continue
			}
		case stEscInter:
			switch {
			case b >= 0x20 && b <= 0x2f:
			case b >= 0x30 && b <= 0x7e:
				f.state = stGround
			default:
				f.state = stGround
				continue
			}
		case stCSI:
			switch {
			case b >= 0x40 && b <= 0x7e:
				if !f.csiLong && keepCSI(f.csi, b) {
					dst = append(dst, 0x1b, '[')
					dst = append(dst, f.csi...)
					dst = append(dst, b)
				}
				f.state = stGround
			case b >= 0x20 && b <= 0x3f:
				if len(f.csi) < maxCSI {
					f.csi = append(f.csi, b)
				} else {
					f.csiLong = true
				}
			case b == 0x1b:
				f.state = stEsc
			case b == 0x18 || b == 0x1a:
				f.state = stGround
			case b < 0x20:
				// C0 controls act even inside a CSI.
				dst = append(dst, b)
			case b == 0x7f:
			default:
				f.state = stGround
				continue
			}
		case stString:
			switch b {
			case 0x07, 0x18, 0x1a:
				f.state = stGround
			case 0x1b:
				f.state = stStringEsc
			}
		case stStringEsc:
			if b == '\\' {
				f.state = stGround
			} else {
				// ESC ended the string and starts a new sequence.
				f.state = stEsc
				continue
			}
		}
		i++
	}
	return dst
}

// keepCSI reports whether vt10x handles a CSI right. Only plain decimal
// parameters of up to four digits pass, with a "?" only for DEC modes.
func keepCSI(params []byte, final byte) bool {
	if final == 'm' {
		return false
	}
	digits := 0
	for k, c := range params {
		switch {
		case c >= '0' && c <= '9':
			digits++
			if digits > 4 {
				return false
			}
		case c == ';':
			digits = 0
		case c == '?' && k == 0:
			if final != 'h' && final != 'l' {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func appendRune(dst []byte, r rune) []byte {
	switch {
	case r == wideTail:
		r = utf8.RuneError
	case r < 0xa0:
		// C1 controls: vt10x would print them.
		return dst
	case r >= 0x300 && (r < 0x2100 || r > 0x2cee) && zeroWidth(r):
		// U+2100-2CEE (arrows, box drawing, shapes, braille spinners) has
		// no zero-width runes; skipping the table keeps TUI chrome cheap.
		return dst
	}
	dst = utf8.AppendRune(dst, r)
	if r >= 0x1100 && isWide(r) {
		dst = utf8.AppendRune(dst, wideTail)
	}
	return dst
}

func zeroWidth(r rune) bool {
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf)
}

func isWide(r rune) bool {
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return true
	}
	return false
}
