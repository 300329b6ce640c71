package local

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// A PTY dies with the process that holds its master, so no agent survives
// a plugin restart in a usable state. What survives is a record per agent,
// enough for the next plugin process to find and kill what is left of it.
//
// Records live in <state_dir>/<host instance>/<agent>.json. They are written
// without fsync: they only need to outlive the plugin process, and after a
// machine crash the agents are gone anyway.
//
// A record names a pid the next plugin process kills, so whoever can write
// one could have us kill their choice of process. Both directories must
// therefore be ours and closed to group and others (checkPrivateDir), and
// Recover still acts on a record only where it can confirm the process is
// its agent's (see Runtime.confirm).

// record is what we persist of an agent.
type record struct {
	ID           string    `json:"id"`
	HostInstance string    `json:"host_instance"`
	PID          int       `json:"pid"`
	PIDStart     uint64    `json:"pid_start"` // /proc start time, to tell a reused pid apart
	StartedAt    time.Time `json:"started_at"`
	Cgroups      []string  `json:"cgroups,omitempty"`
}

type stateStore struct {
	dir string // <state_dir>/<host instance>
}

// openStateStore opens <stateDir>/<hostName>, making what is missing with
// mode 0700, and refuses either directory if it is not private to us.
func openStateStore(stateDir, hostName string) (*stateStore, error) {
	dir := filepath.Join(stateDir, hostName)
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, err
	}
	if err := checkPrivateDir(stateDir); err != nil {
		return nil, err
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, err
	}
	if err := checkPrivateDir(dir); err != nil {
		return nil, err
	}
	return &stateStore{dir: dir}, nil
}

// checkPrivateDir reports why dir is not a directory of our own that only
// we can write, with the fix. Lstat: a symlink could point anywhere.
func checkPrivateDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		return fmt.Errorf("%s is a symbolic link, which is refused; remove it (rm %s) and the plugin makes a private directory there", dir, dir)
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory; remove it or set state_dir elsewhere", dir)
	case !ok:
		return fmt.Errorf("cannot tell who owns %s", dir)
	case int(st.Uid) != os.Getuid():
		return fmt.Errorf("%s is owned by uid %d, not by uid %d that this plugin runs as, so someone else may have planted records in it; "+
			"remove it (rm -r %s) or set state_dir to a directory of your own", dir, st.Uid, os.Getuid(), dir)
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("%s has mode %v, so group or others can write records into it; run: chmod 700 %s", dir, fi.Mode().Perm(), dir)
	}
	return nil
}

// removeAll removes the store's directory and the records in it.
func (s *stateStore) removeAll() error { return os.RemoveAll(s.dir) }

func (s *stateStore) path(name string) string { return filepath.Join(s.dir, name+".json") }

func (s *stateStore) save(name string, r record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	tmp := s.path(name) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, s.path(name))
}

func (s *stateStore) remove(name string) error {
	if err := os.Remove(s.path(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// load returns every record in the store by file name; unreadable ones come
// back empty, with only their name, so they can still be removed.
func (s *stateStore) load() (map[string]record, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	recs := make(map[string]record)
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			if strings.HasSuffix(e.Name(), ".tmp") {
				_ = os.Remove(filepath.Join(s.dir, e.Name()))
			}
			continue
		}
		var r record
		if b, err := os.ReadFile(filepath.Join(s.dir, e.Name())); err == nil {
			_ = json.Unmarshal(b, &r)
		}
		recs[name] = r
	}
	return recs, nil
}

// fsName makes an id safe as a file and cgroup name. Plain ids stay as
// they are, for people reading /sys/fs/cgroup; others get a hash suffix so
// that two ids never share a name. A '.' is not plain because cgroup
// control files are named with one ("cpu.max"), nor are the v1 control
// files without one.
func fsName(id string) string {
	plain := func(c rune) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
	}
	ok := len(id) > 0 && len(id) <= 100 && !reservedNames[id]
	for _, c := range id {
		ok = ok && plain(c)
	}
	if ok {
		return id
	}
	var b strings.Builder
	for _, c := range id {
		if b.Len() >= 40 {
			break
		}
		if plain(c) {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	sum := sha256.Sum256([]byte(id))
	return b.String() + "~" + hex.EncodeToString(sum[:8])
}

var reservedNames = map[string]bool{"tasks": true, "release_agent": true, "notify_on_release": true}
