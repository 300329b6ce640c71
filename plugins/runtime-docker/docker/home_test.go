package docker

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
)

func TestResolveUser(t *testing.T) {
	files := map[string]string{
		"/etc/passwd": "root:x:0:0:root:/root:/bin/sh\nagent:x:1000:1001::/home/agent:/bin/sh\nbroken line\n",
		"/etc/group":  "root:x:0:\nagent:x:1001:\nstaff:x:50:\n",
	}
	read := func(path string) ([]byte, error) {
		if s, ok := files[path]; ok {
			return []byte(s), nil
		}
		return nil, fs.ErrNotExist
	}
	noFiles := func(string) ([]byte, error) { return nil, fs.ErrNotExist }
	tests := []struct {
		user     string
		read     func(string) ([]byte, error)
		uid, gid int
		wantErr  string
	}{
		{"", noFiles, 0, 0, ""},
		{"agent", read, 1000, 1001, ""},
		{"1000", read, 1000, 1001, ""}, // primary group from passwd
		{"4321", read, 4321, 0, ""},    // unlisted: group 0
		{"4321", noFiles, 4321, 0, ""},
		{"4321:77", noFiles, 4321, 77, ""},
		{"agent:staff", read, 1000, 50, ""},
		{"agent:0", read, 1000, 0, ""},
		{"nobody", read, 0, 0, "nobody is not in the image's /etc/passwd"},
		{"agent:wheel", read, 0, 0, "group wheel is not in the image's /etc/group"},
		{"agent", noFiles, 0, 0, "no /etc/passwd in the image"},
	}
	for _, tt := range tests {
		uid, gid, err := resolveUser(tt.user, tt.read)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("resolveUser(%q) = %d, %d, %v; want error %q", tt.user, uid, gid, err, tt.wantErr)
			}
			continue
		}
		if err != nil || uid != tt.uid || gid != tt.gid {
			t.Errorf("resolveUser(%q) = %d, %d, %v; want %d, %d", tt.user, uid, gid, err, tt.uid, tt.gid)
		}
	}
	if _, _, err := resolveUser("agent", func(string) ([]byte, error) { return nil, errors.New("boom") }); err == nil {
		t.Error("resolveUser with an unreadable passwd succeeded")
	}
}
