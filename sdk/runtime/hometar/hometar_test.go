package hometar

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// home makes a home as the host writes one, plus a symlink out of it.
func home(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "home")
	for _, d := range []string{dir, filepath.Join(dir, ".claude")} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]os.FileMode{".claude.json": 0o600, ".claude/settings.json": 0o644}
	for name, mode := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("content of "+name), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(dir, name), mode); err != nil { // past the umask
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// entry is a tar entry as a line: name, mode, owner and content.
func entries(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		content, _ := io.ReadAll(tr)
		out = append(out, fmt.Sprintf("%s %c %o %d:%d %q%q %q", hdr.Name, hdr.Typeflag, hdr.Mode, hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname, content))
	}
}

func TestPack(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want []string
	}{
		{
			name: "at a prefix, with its directory",
			opts: Options{Prefix: "/home/agent", UID: 1000, GID: 1001},
			want: []string{
				`home/agent/ 5 700 1000:1001 """" ""`,
				`home/agent/.claude/ 5 700 1000:1001 """" ""`,
				`home/agent/.claude/settings.json 0 644 1000:1001 """" "content of .claude/settings.json"`,
				`home/agent/.claude.json 0 600 1000:1001 """" "content of .claude.json"`,
			},
		},
		{
			name: "relative, into a directory that exists",
			want: []string{
				`.claude/ 5 700 0:0 """" ""`,
				`.claude/settings.json 0 644 0:0 """" "content of .claude/settings.json"`,
				`.claude.json 0 600 0:0 """" "content of .claude.json"`,
			},
		},
	}
	dir := home(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Pack(dir, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := entries(t, b)
			slices.Sort(got)
			slices.Sort(tt.want)
			if !slices.Equal(got, tt.want) {
				t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestPackRefuses(t *testing.T) {
	tests := []struct {
		dir  string
		want string
	}{
		{"relative/home", "not an absolute path"},
		{filepath.Join(t.TempDir(), "missing"), "pack the agent's home"},
	}
	for _, tt := range tests {
		if _, err := Pack(tt.dir, Options{}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Pack(%s) = %v; want an error saying %q", tt.dir, err, tt.want)
		}
	}
}
