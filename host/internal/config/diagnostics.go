package config

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// WriteDiagnostics prints diags one per line as
//
//	path:line:col: error: summary: detail
//
// the form editors and compilers use, each followed by the source line with
// a caret under the spot. files maps file names to their source, as in
// Config.Files; a file missing from it is read from disk, since Load returns
// no Config, and so no Files, when it fails.
func WriteDiagnostics(w io.Writer, files map[string][]byte, diags hcl.Diagnostics) error {
	read := map[string][]byte{}
	source := func(name string) []byte {
		if src, ok := files[name]; ok {
			return src
		}
		if src, ok := read[name]; ok {
			return src
		}
		src, _ := os.ReadFile(name) // without it, just no source line
		read[name] = src
		return src
	}

	var b strings.Builder
	for _, diag := range diags {
		rng := diag.Subject
		if rng == nil {
			rng = diag.Context
		}
		if rng != nil {
			fmt.Fprintf(&b, "%s:%d:%d: ", rng.Filename, rng.Start.Line, rng.Start.Column)
		}
		severity := "error"
		if diag.Severity == hcl.DiagWarning {
			severity = "warning"
		}
		b.WriteString(severity + ": " + oneLine(diag.Summary))
		if diag.Detail != "" {
			b.WriteString(": " + oneLine(diag.Detail))
		}
		b.WriteString("\n")
		if rng != nil {
			b.WriteString(quote(source(rng.Filename), *rng))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// oneLine keeps a diagnostic on one line, so tools can parse it.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// quote returns the line rng starts on with a caret under its start and
// tildes under the rest of it on that line, or "" when the source doesn't
// hold the range.
func quote(src []byte, rng hcl.Range) string {
	start := rng.Start.Byte
	if rng.Start.Line < 1 || start < 0 || start > len(src) {
		return ""
	}
	lineStart := bytes.LastIndexByte(src[:start], '\n') + 1
	lineEnd := len(src)
	if i := bytes.IndexByte(src[start:], '\n'); i >= 0 {
		lineEnd = start + i
	}
	line := strings.TrimRight(string(src[lineStart:lineEnd]), "\r")

	// Tabs are kept so the caret lines up whatever the tab width.
	var pad strings.Builder
	for _, r := range string(src[lineStart:start]) {
		if r == '\t' {
			pad.WriteRune('\t')
		} else {
			pad.WriteRune(' ')
		}
	}
	end := min(max(rng.End.Byte, start), lineEnd)
	width := utf8.RuneCount(src[start:end])
	underline := "^" + strings.Repeat("~", max(width-1, 0))
	return "    " + line + "\n    " + pad.String() + underline + "\n"
}

// sortByPosition orders diags as they appear in the file, which is not the
// order they are found in: hcl reports all attributes before all blocks.
func sortByPosition(diags hcl.Diagnostics) {
	pos := func(d *hcl.Diagnostic) (string, int) {
		if d.Subject == nil {
			return "", -1
		}
		return d.Subject.Filename, d.Subject.Start.Byte
	}
	slices.SortStableFunc(diags, func(a, b *hcl.Diagnostic) int {
		fa, ba := pos(a)
		fb, bb := pos(b)
		return cmp.Or(strings.Compare(fa, fb), cmp.Compare(ba, bb))
	})
}
