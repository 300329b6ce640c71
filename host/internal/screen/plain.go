package screen

import (
	"bytes"
	"unicode/utf8"
)

// PlainText turns terminal output into lines of text, as a terminal
// would show them: escape sequences and control characters go; a carriage
// return or backspace only moves the cursor, and what is written after
// overwrites, so progress bars leave their last state; erasing to the end
// of the row erases. Moving the cursor to another row ends the line, so a
// TUI's rows don't run together, whether it ends them with CRLF or, like
// Claude Code, with a carriage return and a cursor-down. It is a log
// reader's view of a stream, not a terminal emulator's of a screen: a row
// drawn again is a new line.
func PlainText(b []byte) []byte {
	out := make([]byte, 0, len(b))
	var row plainRow
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '\n':
			out = append(row.flush(out), '\n')
			row.y++
		case c == '\r':
			row.col = 0
		case c == '\b':
			row.col = max(row.col-1, 0)
		case c == '\t':
			row.put('\t', 1)
		case c == 0x1b:
			start := i
			var final byte
			i, final = skipEscape(b, i)
			n := firstParam(b[start : i+1])
			switch final {
			case 'A', 'F': // up n; F to column 1
				out = row.toRow(out, row.y-n, final == 'A')
			case 'B', 'E': // down n; E to column 1
				out = row.toRow(out, row.y+n, final == 'B')
			case 'd': // to row n, same column
				out = row.toRowAt(out, n)
			case 'H', 'f':
				out = row.toRowAt(out, n)
				row.col = min(secondParam(b[start:i+1]), maxColumn) - 1
			case 'C': // cursor forward n: the gap is blank
				row.col = min(row.col+n, maxColumn)
			case 'D':
				row.col = max(row.col-n, 0)
			case 'G', '`': // cursor to column n: TUIs space words this way
				row.col = min(n, maxColumn) - 1
			case 'K':
				row.erase(firstParamOr(b[start:i+1], 0))
			}
		case c < 0x20 || c == 0x7f:
			// Other control characters draw nothing.
		case c < utf8.RuneSelf:
			row.put(rune(c), 1)
		default:
			r, size := utf8.DecodeRune(b[i:])
			i += size - 1
			row.put(r, max(runeWidth(r), 1))
		}
	}
	return row.flush(out)
}

// maxColumn bounds how far a cursor movement may pad a row.
const maxColumn = 500

// plainRow is the row PlainText is drawing: its cells and the cursor.
type plainRow struct {
	cells []rune // wideTail (term.go) fills the second cell of a wide rune
	col   int
	// y is the cursor's row, as far as it is known: TUIs that place
	// words by absolute position (Codex) stay on the row they drew.
	y      int
	yKnown bool
	// prev is the row ended last, not yet written out, and prevY where it
	// was; nil once written.
	prev  []rune
	prevY int
}

// toRowAt moves to absolute row y. Back on the row just left, with
// nothing drawn meanwhile, the row goes on: Codex draws a reply's words in
// turns with its status rows.
func (r *plainRow) toRowAt(out []byte, y int) []byte {
	if r.yKnown && y == r.y {
		return out
	}
	col := r.col
	out = r.endLine(out, col)
	r.y, r.yKnown = y, true
	if r.prev != nil && r.prevY == y {
		r.cells, r.prev = append(r.cells[:0], r.prev...), nil
	}
	return out
}

// toRow moves to row y relative to where the cursor was; keepCol keeps
// the column, else the row starts at column 1.
func (r *plainRow) toRow(out []byte, y int, keepCol bool) []byte {
	col := 0
	if keepCol {
		col = r.col
	}
	out = r.endLine(out, col)
	r.y = y
	return out
}

// put writes r, width cells wide, at the cursor.
func (r *plainRow) put(c rune, width int) {
	for len(r.cells) < r.col+width {
		r.cells = append(r.cells, ' ')
	}
	r.cells[r.col] = c
	if width == 2 {
		r.cells[r.col+1] = wideTail
	}
	r.col += width
}

// erase is CSI n K: 0 erases to the end of the row, 1 to its start, 2 all.
func (r *plainRow) erase(mode int) {
	switch mode {
	case 0:
		r.cells = r.cells[:min(r.col, len(r.cells))]
	case 1:
		for i := 0; i < min(r.col+1, len(r.cells)); i++ {
			r.cells[i] = ' '
		}
	case 2:
		r.cells = r.cells[:0]
	}
}

// endLine ends the row, if it shows anything, and goes on at col of the
// next.
func (r *plainRow) endLine(out []byte, col int) []byte {
	if !r.blank() {
		out = r.writePrev(out)
		r.prev, r.prevY = append([]rune(nil), r.cells...), r.y
		if !r.yKnown {
			r.prevY = -1 << 30
		}
	}
	r.cells = r.cells[:0]
	r.col = max(col, 0)
	return out
}

// writePrev writes out the row ended last.
func (r *plainRow) writePrev(out []byte) []byte {
	if r.prev == nil {
		return out
	}
	out = append(appendCells(out, r.prev), '\n')
	r.prev = nil
	return out
}

func (r *plainRow) blank() bool {
	for _, c := range r.cells {
		if c != ' ' && c != wideTail {
			return false
		}
	}
	return true
}

// flush writes out the rows, without trailing blanks, and starts an
// empty row.
func (r *plainRow) flush(out []byte) []byte {
	out = appendCells(r.writePrev(out), r.cells)
	r.cells, r.col = r.cells[:0], 0
	return out
}

// appendCells appends the text of a row's cells, without trailing blanks.
func appendCells(out []byte, cells []rune) []byte {
	end := len(cells)
	for end > 0 && (cells[end-1] == ' ' || cells[end-1] == wideTail) {
		end--
	}
	for _, c := range cells[:end] {
		if c != wideTail {
			out = utf8.AppendRune(out, c)
		}
	}
	return out
}

// firstParam reads the first parameter of a CSI ("ESC [ 12 G" is 12); a
// missing or zero one is 1.
func firstParam(seq []byte) int { return max(firstParamOr(seq, 1), 1) }

// secondParam reads the second parameter of a CSI ("ESC [ 5 ; 12 H" is
// 12); a missing or zero one is 1.
func secondParam(seq []byte) int {
	if i := bytes.IndexByte(seq, ';'); i >= 0 {
		return max(paramAt(seq[i+1:], 1), 1)
	}
	return 1
}

// firstParamOr reads the first parameter of a CSI, or def where it has
// none.
func firstParamOr(seq []byte, def int) int {
	return paramAt(seq[min(2, len(seq)):], def)
}

// paramAt reads the number b starts with, or def where it starts with none.
func paramAt(b []byte, def int) int {
	n, digits := 0, 0
	for _, c := range b {
		if c < '0' || c > '9' || n > 1e6 {
			break
		}
		n = n*10 + int(c-'0')
		digits++
	}
	if digits == 0 {
		return def
	}
	return n
}

// skipEscape skips the escape sequence that starts at b[i] and returns the
// index of its last byte, and for a CSI its final byte.
func skipEscape(b []byte, i int) (int, byte) {
	if i+1 >= len(b) {
		return i, 0
	}
	switch b[i+1] {
	case '[': // CSI: parameters and intermediates, then a final byte
		j := i + 2
		for j < len(b) && (b[j] < 0x40 || b[j] > 0x7e) {
			j++
		}
		if j >= len(b) {
			return len(b) - 1, 0
		}
		return j, b[j]
	case ']', 'P', '_', '^', 'X': // strings, ended by BEL or ST
		for j := i + 2; j < len(b); j++ {
			if b[j] == 0x07 {
				return j, 0
			}
			if b[j] == 0x1b && j+1 < len(b) && b[j+1] == '\\' {
				return j + 1, 0
			}
		}
		return len(b) - 1, 0
	case '(', ')', '*', '+', '#', '%': // one more byte names a charset
		return min(i+2, len(b)-1), 0
	}
	return i + 1, 0
}
