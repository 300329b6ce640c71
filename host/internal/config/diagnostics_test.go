package config

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

func TestWriteDiagnostics(t *testing.T) {
	src := "server {\n\tlisten = \"0.0.0.0:3000\"\n}\nruntime \"local\" {\n  priority = -1\n}\nplugin_dirs = \"x\"\n"
	files := map[string][]byte{"parallax.hcl": []byte(src)}
	diags := hcl.Diagnostics{
		{
			Severity: hcl.DiagError,
			Summary:  "Unauthenticated listener on a public address",
			Detail:   "Set server.token or listen on 127.0.0.1.",
			Subject:  rangeOf(src, "parallax.hcl", `"0.0.0.0:3000"`),
		},
		{
			Severity: hcl.DiagError,
			Summary:  "Invalid priority",
			Detail:   "must be a whole number\nfrom 0 to 1000.",
			Subject:  rangeOf(src, "parallax.hcl", "-1"),
		},
		{
			Severity: hcl.DiagWarning,
			Summary:  "Deprecated",
			Subject:  rangeOf(src, "parallax.hcl", "plugin_dirs"),
		},
		{
			Severity: hcl.DiagError,
			Summary:  "Cannot read config file",
			Detail:   "open x.hcl: no such file or directory",
		},
		{
			Severity: hcl.DiagError,
			Summary:  "Elsewhere",
			Subject:  &hcl.Range{Filename: "gone.hcl", Start: hcl.Pos{Line: 3, Column: 2, Byte: 20}},
		},
	}
	want := `parallax.hcl:2:11: error: Unauthenticated listener on a public address: Set server.token or listen on 127.0.0.1.
    	listen = "0.0.0.0:3000"
    	         ^~~~~~~~~~~~~~
parallax.hcl:5:14: error: Invalid priority: must be a whole number from 0 to 1000.
      priority = -1
                 ^~
parallax.hcl:7:1: warning: Deprecated
    plugin_dirs = "x"
    ^~~~~~~~~~~
error: Cannot read config file: open x.hcl: no such file or directory
gone.hcl:3:2: error: Elsewhere
`

	var b strings.Builder
	if err := WriteDiagnostics(&b, files, diags); err != nil {
		t.Fatal(err)
	}

	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// The validate command has no Config, and so no Files, when Load fails.
func TestWriteDiagnosticsReadsFilesFromDisk(t *testing.T) {
	path := writeConfig(t, "server {\n  listen = \"nope\"\n}\nruntime \"local\" {}\n", "local")
	_, diags := Load(path)

	var b strings.Builder
	if err := WriteDiagnostics(&b, nil, diags); err != nil {
		t.Fatal(err)
	}

	want := path + `:2:12: error: Invalid listen address: server.listen must be host:port, such as "127.0.0.1:3000"; "nope" is not: address nope: missing port in address.
      listen = "nope"
               ^~~~~~
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// rangeOf returns the range of the first occurrence of sub in src, which
// must sit on one line.
func rangeOf(src, filename, sub string) *hcl.Range {
	start := strings.Index(src, sub)
	line := strings.Count(src[:start], "\n") + 1
	col := start - strings.LastIndex(src[:start], "\n")
	return &hcl.Range{
		Filename: filename,
		Start:    hcl.Pos{Line: line, Column: col, Byte: start},
		End:      hcl.Pos{Line: line, Column: col + len(sub), Byte: start + len(sub)},
	}
}
