package screen

import (
	"unicode"

	"golang.org/x/text/width"
)

// runeWidth is the number of cells r takes: 2 for East Asian wide and
// fullwidth runes (CJK, most emoji), 0 for those that combine with the rune
// before them (accents, joiners, variation selectors), else 1. Runes of
// width 0 are dropped: the screen is text, one rune a cell.
func runeWidth(r rune) int {
	switch {
	case r < 0x300:
		return 1
	case r >= 0x2500 && r <= 0x25fc, r >= 0x2800 && r <= 0x28ff:
		// Box drawing, blocks, shapes and braille spinners are most of a
		// TUI's chrome, and all narrow: skip the tables.
		return 1
	case r >= 0x2100 && r <= 0x2cee:
		// Arrows, symbols and dingbats: no zero-width runes here, but
		// some emoji that are wide.
	case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf):
		return 0
	}
	if r >= 0x1100 {
		switch width.LookupRune(r).Kind() {
		case width.EastAsianWide, width.EastAsianFullwidth:
			return 2
		}
	}
	return 1
}

// decGraphics is what "ESC ( 0" (the DEC special graphics set) makes of
// the ASCII bytes from decGraphicsFirst on: mostly line drawing.
var decGraphics = []rune(" ◆▒␉␌␍␊°±␤␋┘┐┌└┼⎺⎻─⎼⎽├┤┴┬│≤≥π≠£·")

const decGraphicsFirst = '_'
