package screen

import (
	"fmt"
	"slices"
	"unicode/utf8"
)

// term is a VT emulator for the text of a screen: a parser that takes PTY
// output one byte at a time and a grid of cells it draws into. It knows what
// the TUIs of agent CLIs send (a subset of xterm) and skips everything else
// cleanly; colours and other attributes are parsed and dropped.
//
// A cell holds one rune. A wide rune takes two cells: the rune, then
// wideTail. Every edit keeps that pairing whole (see splitWide), so a row
// never shows wider than the screen.
//
// term is not safe for concurrent use; Screen locks around it.
type term struct {
	cols, rows int
	grid       [][]rune // the screen being shown: main or alt
	main, alt  [][]rune
	altActive  bool

	cur      cursor
	saved    [2]cursor // DECSC, one per screen (main, alt)
	top, bot int       // scroll region, inclusive rows

	autowrap       bool // DECAWM
	appCursor      bool // DECCKM
	bracketedPaste bool
	last           rune // the last rune printed, for REP

	// hist holds the lines scrolled off the top of the main screen, as a
	// ring of at most maxHistory lines; histNext is the oldest once full.
	hist     []string
	histNext int
	// scrolled counts every line that ever went to the history; it only
	// grows, also when the ring drops its oldest lines or is cleared. The
	// history holds lines scrolled-len(hist) to scrolled-1.
	scrolled uint64

	// answer says someone reads replies to terminal queries; they collect
	// in replies until Screen takes them.
	answer  bool
	replies []byte

	// The parser.
	state parserState
	// A multi-byte UTF-8 rune being read: need more bytes, each in lo..hi.
	need   int
	acc    rune
	lo, hi byte
	// The CSI being read.
	params [maxParams]int
	nparam int // index of the parameter being read
	prefix byte
	// The first intermediate byte of an ESC sequence: "(" designates G0.
	inter byte
	// The OSC being read: its start, enough for the queries, a title and
	// the marks; the rest is dropped.
	osc  [maxOSC]byte
	nosc int
	// signals are what the program told the terminal besides text, and
	// titles the last titles it set, by Signals.Titles modulo keptTitles.
	signals Signals
	titles  [keptTitles]string
	// strOSC says the string being skipped is an OSC.
	strOSC bool
}

type cursor struct {
	x, y int
	// wrapNext is set after printing in the last column: the cursor stays
	// there and the next rune goes to the start of the next line.
	wrapNext    bool
	origin      bool // DECOM: rows count from the top of the scroll region
	lineDrawing bool // G0 is the DEC special graphics set
}

type parserState uint8

const (
	ground parserState = iota
	escape
	escInter  // ESC and intermediate bytes: charset designations and the like
	csiEntry  // after ESC [, where a private prefix may come
	csiParam  // in the parameters of a CSI
	csiIgnore // in a CSI we will not act on, up to its final byte
	inString  // in an OSC, DCS, APC, PM, SOS or "ESC k" string
	stringEsc // ESC in a string: ST if a backslash follows
)

const (
	// wideTail fills the second cell of a wide rune. It is a noncharacter,
	// so no program prints it (one that does gets U+FFFD).
	wideTail = '\uFFFF'

	maxParams = 16
	// maxParam bounds a CSI parameter. No TUI sends a bigger number; a CSI
	// that has one is taken as garbage and dropped.
	maxParam = 9999

	maxHistory = 2000
	tabWidth   = 8
)

func newTerm(cols, rows int) *term {
	t := &term{}
	t.resize(cols, rows)
	t.reset()
	return t
}

// reset is RIS: everything but the size and the history goes back to how
// it was at the start.
func (t *term) reset() {
	clearGrid(t.main)
	clearGrid(t.alt)
	t.useAlt(false)
	t.cur, t.saved = cursor{}, [2]cursor{}
	t.top, t.bot = 0, t.rows-1
	t.autowrap, t.appCursor, t.bracketedPaste = true, false, false
	t.last = 0
	t.state, t.need = ground, 0
}

// resize keeps the top left of both screens. If the cursor's row would
// fall off the bottom, the shown screen scrolls up to keep it, as xterm
// does, so the program's last lines stay in view.
func (t *term) resize(cols, rows int) {
	if t.grid != nil && t.cur.y >= rows {
		n := t.cur.y - rows + 1
		if !t.altActive {
			t.remember(n)
		}
		t.scrollUp(0, t.rows-1, n)
		t.cur.y -= n
	}
	t.main = resizeGrid(t.main, cols, rows)
	t.alt = resizeGrid(t.alt, cols, rows)
	t.useAlt(t.altActive)
	t.cols, t.rows = cols, rows
	t.top, t.bot = 0, rows-1
	t.cur.clamp(cols, rows)
	t.cur.wrapNext = false
	t.saved[0].clamp(cols, rows)
	t.saved[1].clamp(cols, rows)
}

func resizeGrid(old [][]rune, cols, rows int) [][]rune {
	cells := make([]rune, cols*rows)
	fill(cells, ' ')
	g := make([][]rune, rows)
	for y := range g {
		g[y] = cells[y*cols : (y+1)*cols : (y+1)*cols]
		if y < len(old) {
			if cols < len(old[y]) {
				splitWide(old[y], cols)
			}
			copy(g[y], old[y])
		}
	}
	return g
}

func (c *cursor) clamp(cols, rows int) {
	c.x = min(max(c.x, 0), cols-1)
	c.y = min(max(c.y, 0), rows-1)
}

func fill(cells []rune, r rune) {
	if len(cells) == 0 {
		return
	}
	// Doubling copies run as memmove, several times faster than a loop
	// of stores for a row.
	cells[0] = r
	for i := 1; i < len(cells); i *= 2 {
		copy(cells[i:], cells[:i])
	}
}

// splitWide makes column x of row the start of a cell, by blanking a wide
// rune that straddles it. Called at both ends of every edit.
func splitWide(row []rune, x int) {
	if x > 0 && x < len(row) && row[x] == wideTail {
		row[x-1], row[x] = ' ', ' '
	}
}

// write parses p. A sequence or rune cut off at the end of p is finished
// by the next write.
func (t *term) write(p []byte) {
	for i := 0; i < len(p); {
		b := p[i]
		if t.state == ground && t.need == 0 {
			// Text is most of the output: print it without going
			// through the state machine, ASCII a run at a time.
			if b >= 0x20 && b < 0x7f {
				j := i + 1
				for j < len(p) && p[j] >= 0x20 && p[j] < 0x7f {
					j++
				}
				t.printASCIIRun(p[i:j])
				i = j
				continue
			}
			if b == 0x1b {
				if n := t.fastCSI(p[i:]); n > 0 {
					i += n
					continue
				}
			}
			if b >= utf8.RuneSelf {
				if r, n := decodeRune(p[i:]); n > 0 {
					t.print(r)
					i += n
					continue
				}
			}
		}
		t.step(b)
		i++
	}
}

// decodeRune decodes the valid UTF-8 rune at the start of p, or returns
// n == 0 for a broken or cut-off one, which the state machine then reads.
// Three-byte runes (box drawing, spinners, CJK) get their own path, as
// utf8.DecodeRune takes its slow one for them.
func decodeRune(p []byte) (r rune, n int) {
	if len(p) >= 3 && p[0] >= 0xe1 && p[0] <= 0xef && p[0] != 0xed &&
		p[1]&0xc0 == 0x80 && p[2]&0xc0 == 0x80 {
		// No overlong forms or surrogates start with these bytes.
		return rune(p[0]&0x0f)<<12 | rune(p[1]&0x3f)<<6 | rune(p[2]&0x3f), 3
	}
	if !utf8.FullRune(p) {
		return 0, 0
	}
	// DecodeRune rejects what startRune does: overlong forms, surrogates,
	// runes past U+10FFFF.
	if r, n := utf8.DecodeRune(p); r != utf8.RuneError {
		return r, n
	}
	return 0, 0
}

// fastCSI runs a whole CSI at the start of p, as the state machine would:
// ESC [, a private prefix or none, decimal parameters and a final byte. It
// returns its length, or 0 to leave anything else to the state machine.
func (t *term) fastCSI(p []byte) int {
	if len(p) < 3 || p[1] != '[' {
		return 0
	}
	i := 2
	t.prefix = 0
	if p[i] >= '<' && p[i] <= '?' {
		t.prefix = p[i]
		i++
	}
	t.nparam, t.params[0] = 0, 0
	for ; i < len(p); i++ {
		b := p[i]
		switch {
		case b >= '0' && b <= '9':
			v := t.params[t.nparam]*10 + int(b-'0')
			if v > maxParam {
				return 0
			}
			t.params[t.nparam] = v
		case b == ';':
			if t.nparam == maxParams-1 {
				return 0
			}
			t.nparam++
			t.params[t.nparam] = 0
		case b >= 0x40 && b <= 0x7e:
			t.csiDispatch(b)
			return i + 1
		default:
			return 0
		}
	}
	return 0
}

func (t *term) step(b byte) {
	switch t.state {
	case ground:
		t.ground(b)
	case escape:
		t.escape(b)
	case escInter:
		t.escInter(b)
	case csiEntry:
		t.csiEntry(b)
	case csiParam:
		t.csiParam(b)
	case csiIgnore:
		t.csiIgnore(b)
	case inString:
		t.inString(b)
	case stringEsc:
		t.stringEsc(b)
	}
}

func (t *term) ground(b byte) {
	if t.need > 0 {
		if b >= t.lo && b <= t.hi {
			t.acc = t.acc<<6 | rune(b&0x3f)
			t.lo, t.hi = 0x80, 0xbf
			if t.need--; t.need == 0 {
				t.print(t.acc)
			}
			return
		}
		// A broken rune shows as one U+FFFD; b starts something new.
		t.need = 0
		t.print(utf8.RuneError)
	}
	switch {
	case b < 0x20:
		t.control(b)
	case b < 0x7f:
		t.printASCII(b)
	case b == 0x7f:
		// DEL prints nothing.
	default:
		t.startRune(b)
	}
}

// startRune reads the first byte of a multi-byte UTF-8 rune. The allowed
// range of the second byte rules out overlong forms, surrogates and runes
// past U+10FFFF, so a completed rune is always valid.
func (t *term) startRune(b byte) {
	t.lo, t.hi = 0x80, 0xbf
	switch {
	case b >= 0xc2 && b <= 0xdf:
		t.need, t.acc = 1, rune(b&0x1f)
	case b >= 0xe0 && b <= 0xef:
		t.need, t.acc = 2, rune(b&0x0f)
		if b == 0xe0 {
			t.lo = 0xa0
		} else if b == 0xed {
			t.hi = 0x9f
		}
	case b >= 0xf0 && b <= 0xf4:
		t.need, t.acc = 3, rune(b&0x07)
		if b == 0xf0 {
			t.lo = 0x90
		} else if b == 0xf4 {
			t.hi = 0x8f
		}
	default:
		t.print(utf8.RuneError)
	}
}

// control runs a C0 control. They act in the middle of escape sequences
// too, as in a real terminal.
func (t *term) control(b byte) {
	switch b {
	case '\b':
		t.cur.wrapNext = false
		if t.cur.x > 0 {
			t.cur.x--
		}
	case '\t':
		t.tab(1)
	case '\n', '\v', '\f':
		t.index()
	case '\r':
		t.cur.x, t.cur.wrapNext = 0, false
	case 0x07:
		t.signals.Bells++
	case 0x18, 0x1a: // CAN, SUB
		t.state = ground
	case 0x1b:
		t.state = escape
	}
}

func (t *term) escape(b byte) {
	switch {
	case b == '[':
		t.params[0], t.nparam, t.prefix = 0, 0, 0
		t.state = csiEntry
	case b == ']':
		t.state, t.strOSC, t.nosc = inString, true, 0
	case b == 'P' || b == '_' || b == '^' || b == 'X' || b == 'k':
		t.state, t.strOSC = inString, false
	case b >= 0x20 && b <= 0x2f:
		t.inter = b
		t.state = escInter
	case b < 0x20:
		t.control(b)
	case b < 0x7f:
		t.state = ground
		t.escDispatch(b)
	case b == 0x7f:
	default:
		t.state = ground
		t.ground(b)
	}
}

func (t *term) escDispatch(b byte) {
	switch b {
	case '7':
		t.saveCursor()
	case '8':
		t.restoreCursor()
	case 'D':
		t.index()
	case 'E':
		t.cur.x = 0
		t.index()
	case 'M':
		t.reverseIndex()
	case 'c':
		t.reset()
	}
	// Keypad modes (= >), tab stops (H) and the rest change nothing we show.
}

func (t *term) escInter(b byte) {
	switch {
	case b >= 0x20 && b <= 0x2f:
	case b >= 0x30 && b <= 0x7e:
		t.state = ground
		if t.inter == '(' {
			t.cur.lineDrawing = b == '0'
		}
	case b < 0x20:
		t.control(b)
	case b == 0x7f:
	default:
		t.state = ground
		t.ground(b)
	}
}

func (t *term) csiEntry(b byte) {
	t.state = csiParam
	if b >= '<' && b <= '?' {
		t.prefix = b
		return
	}
	t.csiParam(b)
}

func (t *term) csiParam(b byte) {
	switch {
	case b >= '0' && b <= '9':
		v := t.params[t.nparam]*10 + int(b-'0')
		if v > maxParam {
			t.state = csiIgnore
			return
		}
		t.params[t.nparam] = v
	case b == ';':
		if t.nparam == maxParams-1 {
			t.state = csiIgnore
			return
		}
		t.nparam++
		t.params[t.nparam] = 0
	case b >= 0x40 && b <= 0x7e:
		t.state = ground
		t.csiDispatch(b)
	case b >= 0x20 && b <= 0x3f:
		// Sub-parameters (":", only SGR has them), a prefix out of place
		// or intermediates (cursor style, soft reset, mode queries): none
		// changes the text.
		t.state = csiIgnore
	default:
		t.csiIgnore(b)
	}
}

func (t *term) csiIgnore(b byte) {
	switch {
	case b >= 0x20 && b <= 0x3f:
	case b >= 0x40 && b <= 0x7e:
		t.state = ground
	case b < 0x20:
		t.control(b)
	case b == 0x7f:
	default:
		t.state = ground
		t.ground(b)
	}
}

func (t *term) inString(b byte) {
	switch b {
	case 0x07:
		t.state = ground
		t.endString("\a")
	case 0x18, 0x1a:
		t.state = ground
	case 0x1b:
		t.state = stringEsc
	default:
		if t.strOSC && t.nosc < len(t.osc) {
			t.osc[t.nosc] = b
			t.nosc++
		}
	}
}

func (t *term) stringEsc(b byte) {
	if b == '\\' {
		t.state = ground
		t.endString("\x1b\\")
		return
	}
	// The ESC ended the string and starts a new sequence.
	t.state = escape
	t.escape(b)
}

// endString answers the colour queries, OSC 10 (foreground) and 11
// (background), with the terminator the query used.
func (t *term) endString(st string) {
	if !t.strOSC {
		return
	}
	n := t.signals.Titles
	t.signals.osc(t.osc[:t.nosc])
	if t.signals.Titles != n {
		t.titles[n%keptTitles] = t.signals.Title
	}
	if !t.answer {
		return
	}
	switch string(t.osc[:t.nosc]) {
	case "10;?":
		t.reply("\x1b]10;rgb:ffff/ffff/ffff" + st)
	case "11;?":
		t.reply("\x1b]11;rgb:0000/0000/0000" + st)
	}
}

func (t *term) reply(s string) {
	if t.answer {
		t.replies = append(t.replies, s...)
	}
}

// arg returns parameter i of the CSI, or def if it is missing or 0.
func (t *term) arg(i, def int) int {
	if i <= t.nparam && t.params[i] != 0 {
		return t.params[i]
	}
	return def
}

func (t *term) csiDispatch(final byte) {
	switch t.prefix {
	case 0:
	case '?':
		if final == 'h' || final == 'l' {
			for i := 0; i <= t.nparam; i++ {
				t.setMode(t.params[i], final == 'h')
			}
		}
		return
	default:
		// "<", "=" and ">" mark private sequences (kitty keyboard, xterm
		// key modifiers, version queries); "CSI > 1 u" is not SCORC.
		return
	}

	n := t.arg(0, 1)
	c := &t.cur
	switch final {
	case 'A':
		t.moveTo(c.x, max(c.y-n, t.minY()))
	case 'B', 'e':
		t.moveTo(c.x, min(c.y+n, t.maxY()))
	case 'C', 'a':
		t.moveTo(c.x+n, c.y)
	case 'D':
		t.moveTo(c.x-n, c.y)
	case 'E':
		t.moveTo(0, min(c.y+n, t.maxY()))
	case 'F':
		t.moveTo(0, max(c.y-n, t.minY()))
	case 'G', '`':
		t.moveTo(n-1, c.y)
	case 'H', 'f':
		t.moveToOrigin(t.arg(1, 1)-1, n-1)
	case 'd':
		t.moveToOrigin(c.x, n-1)
	case 'I':
		t.tab(n)
	case 'Z':
		t.backTab(n)
	case 'J':
		t.eraseDisplay(t.arg(0, 0))
	case 'K':
		t.eraseLine(t.arg(0, 0))
	case 'X':
		t.erase(c.y, c.x, c.x+n)
	case '@':
		t.insertChars(n)
	case 'P':
		t.deleteChars(n)
	case 'L':
		// IL and DL act only inside the scroll region and, as on a VT,
		// leave the cursor in the first column.
		if c.y >= t.top && c.y <= t.bot {
			t.scrollDown(c.y, t.bot, n)
			t.moveTo(0, c.y)
		}
	case 'M':
		if c.y >= t.top && c.y <= t.bot {
			t.scrollUp(c.y, t.bot, n)
			t.moveTo(0, c.y)
		}
	case 'S':
		t.scrollRegionUp(n)
	case 'T':
		t.scrollDown(t.top, t.bot, n)
	case 'b':
		if t.last != 0 {
			for range min(n, t.cols*t.rows) {
				t.put(t.last, runeWidth(t.last))
			}
		}
	case 'r':
		t.setRegion(t.arg(0, 1)-1, t.arg(1, t.rows)-1)
	case 's':
		t.saveCursor()
	case 'u':
		t.restoreCursor()
	case 'c':
		if t.arg(0, 0) == 0 {
			t.reply("\x1b[?62;22c") // DA1: a VT220 with colours
		}
	case 'n':
		switch t.arg(0, 0) {
		case 5:
			t.reply("\x1b[0n")
		case 6:
			y := c.y
			if c.origin {
				y -= t.top
			}
			t.reply(fmt.Sprintf("\x1b[%d;%dR", y+1, c.x+1))
		}
	}
	// SGR (m), ANSI modes (h l) and the rest change nothing we show.
}

func (t *term) setMode(mode int, on bool) {
	switch mode {
	case 1:
		t.appCursor = on
	case 6:
		t.cur.origin = on
		t.moveToOrigin(0, 0)
	case 7:
		t.autowrap = on
		t.cur.wrapNext = false
	case 47:
		t.useAlt(on)
	case 1047:
		if !on && t.altActive {
			clearGrid(t.alt)
		}
		t.useAlt(on)
	case 1048:
		if on {
			t.saveCursor()
		} else {
			t.restoreCursor()
		}
	case 1049:
		if on {
			t.saveCursor()
			t.useAlt(true)
			clearGrid(t.alt)
		} else {
			t.useAlt(false)
			t.restoreCursor()
		}
	case 2004:
		t.bracketedPaste = on
	}
}

func (t *term) useAlt(on bool) {
	t.altActive = on
	t.grid = t.main
	if on {
		t.grid = t.alt
	}
}

func clearGrid(g [][]rune) {
	for _, row := range g {
		fill(row, ' ')
	}
}

func (t *term) screenIndex() int {
	if t.altActive {
		return 1
	}
	return 0
}

func (t *term) saveCursor() { t.saved[t.screenIndex()] = t.cur }

func (t *term) restoreCursor() {
	t.cur = t.saved[t.screenIndex()]
	t.cur.clamp(t.cols, t.rows)
}

// minY and maxY bound vertical moves: the scroll region stops the cursor
// only if it starts inside it.
func (t *term) minY() int {
	if t.cur.y >= t.top {
		return t.top
	}
	return 0
}

func (t *term) maxY() int {
	if t.cur.y <= t.bot {
		return t.bot
	}
	return t.rows - 1
}

func (t *term) moveTo(x, y int) {
	t.cur.x = min(max(x, 0), t.cols-1)
	t.cur.y = min(max(y, 0), t.rows-1)
	t.cur.wrapNext = false
}

// moveToOrigin moves to row y counted from the origin: the top of the
// scroll region in origin mode, which also keeps the cursor inside it.
func (t *term) moveToOrigin(x, y int) {
	if t.cur.origin {
		y = min(max(y+t.top, t.top), t.bot)
	}
	t.moveTo(x, y)
}

func (t *term) tab(n int) {
	x := t.cur.x
	for ; n > 0 && x < t.cols-1; n-- {
		x = (x/tabWidth + 1) * tabWidth
	}
	t.moveTo(x, t.cur.y)
}

func (t *term) backTab(n int) {
	x := t.cur.x
	for ; n > 0 && x > 0; n-- {
		x = (x - 1) / tabWidth * tabWidth
	}
	t.moveTo(x, t.cur.y)
}

func (t *term) setRegion(top, bot int) {
	bot = min(bot, t.rows-1)
	if top >= bot {
		return
	}
	t.top, t.bot = top, bot
	t.moveToOrigin(0, 0)
}

// index is LF: down a row, scrolling at the bottom of the scroll region.
func (t *term) index() {
	t.cur.wrapNext = false
	switch {
	case t.cur.y == t.bot:
		t.scrollRegionUp(1)
	case t.cur.y < t.rows-1:
		t.cur.y++
	}
}

func (t *term) reverseIndex() {
	t.cur.wrapNext = false
	switch {
	case t.cur.y == t.top:
		t.scrollDown(t.top, t.bot, 1)
	case t.cur.y > 0:
		t.cur.y--
	}
}

// scrollRegionUp scrolls the scroll region up n rows. Rows that leave the
// whole main screen go to the history; those leaving a smaller region or
// the alternate screen are redrawn by the program, not scrolled away.
func (t *term) scrollRegionUp(n int) {
	if !t.altActive && t.top == 0 && t.bot == t.rows-1 {
		t.remember(n)
	}
	t.scrollUp(t.top, t.bot, n)
}

// remember adds the top n rows of the main screen to the history.
func (t *term) remember(n int) {
	var b []byte
	for _, row := range t.main[:min(n, len(t.main))] {
		b = appendText(b[:0], row)
		line := string(b)
		t.scrolled++
		if len(t.hist) < maxHistory {
			t.hist = append(t.hist, line)
			continue
		}
		t.hist[t.histNext] = line
		t.histNext = (t.histNext + 1) % maxHistory
	}
}

// history returns a copy of the remembered lines, oldest first.
func (t *term) history() []string {
	h := make([]string, 0, len(t.hist))
	h = append(h, t.hist[t.histNext:]...)
	return append(h, t.hist[:t.histNext]...)
}

// historySince returns the remembered lines numbered from to to-1 by
// scrolled, oldest first; those no longer held are left out.
func (t *term) historySince(from, to uint64) []string {
	oldest := t.scrolled - uint64(len(t.hist))
	from, to = max(from, oldest), min(to, t.scrolled)
	if from >= to {
		return nil
	}
	h := make([]string, 0, to-from)
	for n := from; n < to; n++ {
		// Line n sits n-oldest lines after the oldest, which is at
		// histNext once the ring is full and at 0 before.
		h = append(h, t.hist[(t.histNext+int(n-oldest))%len(t.hist)])
	}
	return h
}

// scrollUp moves rows top+n..bot up to top and blanks the n rows freed at
// the bottom. The rows are rotated, not copied.
func (t *term) scrollUp(top, bot, n int) {
	rows := t.grid[top : bot+1]
	n = min(n, len(rows))
	rotate(rows, n)
	for _, row := range rows[len(rows)-n:] {
		fill(row, ' ')
	}
}

func (t *term) scrollDown(top, bot, n int) {
	rows := t.grid[top : bot+1]
	n = min(n, len(rows))
	rotate(rows, len(rows)-n)
	for _, row := range rows[:n] {
		fill(row, ' ')
	}
}

// rotate moves rows[n:] to the front, by three reversals.
func rotate(rows [][]rune, n int) {
	slices.Reverse(rows[:n])
	slices.Reverse(rows[n:])
	slices.Reverse(rows)
}

// erase blanks columns from..to-1 of row y.
func (t *term) erase(y, from, to int) {
	row := t.grid[y]
	from, to = max(from, 0), min(to, t.cols)
	if from >= to {
		return
	}
	splitWide(row, from)
	splitWide(row, to)
	fill(row[from:to], ' ')
	t.cur.wrapNext = false
}

func (t *term) eraseLine(mode int) {
	switch mode {
	case 0:
		t.erase(t.cur.y, t.cur.x, t.cols)
	case 1:
		t.erase(t.cur.y, 0, t.cur.x+1)
	case 2:
		t.erase(t.cur.y, 0, t.cols)
	}
}

func (t *term) eraseDisplay(mode int) {
	switch mode {
	case 0:
		t.erase(t.cur.y, t.cur.x, t.cols)
		for y := t.cur.y + 1; y < t.rows; y++ {
			t.erase(y, 0, t.cols)
		}
	case 1:
		for y := 0; y < t.cur.y; y++ {
			t.erase(y, 0, t.cols)
		}
		t.erase(t.cur.y, 0, t.cur.x+1)
	case 2:
		clearGrid(t.grid)
		t.cur.wrapNext = false
	case 3:
		// xterm's "erase saved lines".
		t.hist, t.histNext = nil, 0
	}
}

// insertChars shifts the rest of the row right by n blank cells; what
// passes the right edge is lost.
func (t *term) insertChars(n int) {
	row, x := t.grid[t.cur.y], t.cur.x
	n = min(n, t.cols-x)
	splitWide(row, x)
	splitWide(row, t.cols-n)
	copy(row[x+n:], row[x:t.cols-n])
	fill(row[x:x+n], ' ')
	t.cur.wrapNext = false
}

func (t *term) deleteChars(n int) {
	row, x := t.grid[t.cur.y], t.cur.x
	n = min(n, t.cols-x)
	splitWide(row, x)
	splitWide(row, x+n)
	copy(row[x:], row[x+n:])
	fill(row[t.cols-n:], ' ')
	t.cur.wrapNext = false
}

func (t *term) printASCII(b byte) {
	r := rune(b)
	if t.cur.lineDrawing && b >= decGraphicsFirst {
		r = decGraphics[b-decGraphicsFirst]
	}
	t.put(r, 1)
}

// printASCIIRun is printASCII for each byte of s, a row at a time.
func (t *term) printASCIIRun(s []byte) {
	c := &t.cur
	for len(s) > 0 {
		if c.lineDrawing {
			for _, b := range s {
				t.printASCII(b)
			}
			return
		}
		if c.wrapNext {
			c.x = 0
			t.index()
		}
		if c.x == t.cols-1 && !t.autowrap {
			// Without autowrap every rune lands in the last column:
			// only the last one stays.
			s = s[len(s)-1:]
		}
		n := min(len(s), t.cols-c.x)
		row := t.grid[c.y]
		splitWide(row, c.x)
		splitWide(row, c.x+n)
		for k, b := range s[:n] {
			row[c.x+k] = rune(b)
		}
		t.last = rune(s[n-1])
		c.x += n
		if c.x == t.cols {
			c.x = t.cols - 1
			c.wrapNext = t.autowrap
		}
		s = s[n:]
	}
}

// print draws a rune decoded from UTF-8, so never ASCII.
func (t *term) print(r rune) {
	switch {
	case r < 0xa0:
		// C1 controls print nothing.
		return
	case r == wideTail:
		r = utf8.RuneError
	}
	if w := runeWidth(r); w > 0 {
		t.put(r, w)
	}
}

// put draws r, w cells wide, at the cursor and moves past it.
func (t *term) put(r rune, w int) {
	c := &t.cur
	if c.wrapNext {
		c.x = 0
		t.index()
	}
	if c.x+w > t.cols {
		// A wide rune does not fit in the last column.
		if w > t.cols {
			return
		}
		if t.autowrap {
			c.x = 0
			t.index()
		} else {
			c.x = t.cols - w
		}
	}
	row := t.grid[c.y]
	splitWide(row, c.x)
	splitWide(row, c.x+w)
	row[c.x] = r
	if w == 2 {
		row[c.x+1] = wideTail
	}
	t.last = r
	c.x += w
	if c.x == t.cols {
		c.x = t.cols - 1
		c.wrapNext = t.autowrap
	}
}

// appendText appends the text of row, trailing spaces trimmed.
func appendText(dst []byte, row []rune) []byte {
	end := len(row)
	for end > 0 && row[end-1] == ' ' {
		end--
	}
	for _, r := range row[:end] {
		switch {
		case r < utf8.RuneSelf:
			dst = append(dst, byte(r))
		case r != wideTail:
			dst = utf8.AppendRune(dst, r)
		}
	}
	return dst
}
