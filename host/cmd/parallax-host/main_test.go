package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args     []string
		wantCode int
		wantOut  string
	}{
		{nil, 2, "Usage:"},
		{[]string{"launch"}, 2, `unknown command "launch"`},
		{[]string{"run"}, 2, "want exactly one config file"},
		{[]string{"validate", "a.hcl", "b.hcl"}, 2, "want exactly one config file"},
		{[]string{"validate", "-log-level", "loud", "a.hcl"}, 2, "use trace, debug, info, warn or error"},
		{[]string{"validate", "/does/not/exist.hcl"}, 1, "Cannot read config file"},
		{[]string{"run", "/does/not/exist.hcl"}, 1, "Cannot read config file"},
		{[]string{"version"}, 0, "parallax-host dev"},
		{[]string{"help"}, 0, "parallax-host run"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			if code := run(tt.args, &out, &out); code != tt.wantCode || !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("exit %d, output %q; want %d and %q", code, out.String(), tt.wantCode, tt.wantOut)
			}
		})
	}
}
