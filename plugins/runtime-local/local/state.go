package local

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/parallax/parallax/sdk/runtime"
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

// Recover returns the agents this plugin process holds, for a host that
// reattached to it. It also kills whatever an earlier plugin process of
// this host instance left running, as far as confirm vouches for it, and
// removes the empty cgroups other host instances left behind: those agents
// can't be adopted, because their PTY masters died with that process.
func (r *Runtime) Recover(ctx context.Context) ([]runtime.AgentInfo, error) {
	if err := r.agents.Ready(); err != nil {
		return nil, err
	}
	// A just-started agent's cgroups would look left over.
	defer r.agents.PauseStarts()()
	live := make(map[string]bool)
	for _, id := range r.agents.IDs() {
		live[fsName(id)] = true
	}

	recs, err := r.state.load()
	if err != nil {
		r.log.Error("cannot read agent records; leaving alone what an earlier plugin process left", "error", err)
		return r.agents.ListWithEnv()
	}
	var errs []error
	for name, rec := range recs {
		if live[name] {
			continue
		}
		c := r.confirm(name, rec)
		if c.refused != "" {
			r.log.Warn("refused agent record: it names a process this runtime can't confirm as its agent's; "+
				"the process is left alone and the record removed",
				"record", r.state.path(name), "agent", rec.ID, "pid", rec.PID, "reason", c.refused)
		} else {
			r.log.Info("cleaning up agent left by an earlier plugin process", "agent", rec.ID, "pid", rec.PID)
			if err := r.cleanupLeftover(ctx, rec, c); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if err := r.state.remove(name); err != nil {
			errs = append(errs, err)
		}
	}
	// Cgroups whose record was never written: the plugin died mid-Start.
	for _, dir := range r.cg.leftoverDirs(live) {
		r.log.Info("removing cgroup left by an earlier plugin process", "dir", dir)
		if err := killCgroup(ctx, dir); err != nil {
			errs = append(errs, err)
		} else if err := removeCgroup(ctx, dir); err != nil {
			errs = append(errs, err)
		}
	}
	for _, dir := range r.cg.sweepOtherInstances(r.hostName) {
		r.log.Debug("removed empty cgroup of another host instance", "dir", dir)
	}
	// Logged, not returned: an error would keep from the host the agents
	// this process holds.
	if err := errors.Join(errs...); err != nil {
		r.log.Error("cleaning up after an earlier plugin process failed", "error", err)
	}
	return r.agents.ListWithEnv()
}

// confirmed is what Recover may act on for one record: nothing, with the
// reason, or the processes the runtime's own bookkeeping vouches for.
type confirmed struct {
	refused string
	// cgroups are the record's cgroups that are this instance's own.
	cgroups []string
	// mainPid is the record's pid when confirmed as the agent's main
	// process; only then are its session and group killed.
	mainPid int
	// marked says the processes carrying the agent's env marker may be
	// killed, one by one.
	marked bool
}

// confirm checks a record against what the runtime itself controls: the
// agent's own cgroups under parallax/<instance>, and the env marker it puts
// on every agent together with the pid's start time. The state dir is
// private, so a record that fails here is stale or corrupt, or was planted
// before the dir was checked; either way no process it names is touched.
func (r *Runtime) confirm(name string, rec record) confirmed {
	var c confirmed
	switch {
	case rec.ID == "":
		return confirmed{refused: "the record is unreadable"}
	case fsName(rec.ID) != name:
		return confirmed{refused: fmt.Sprintf("the record's file is named %q, not after its agent id %q", name, rec.ID)}
	case rec.HostInstance != r.host:
		return confirmed{refused: fmt.Sprintf("the record is of host instance %q, not %q", rec.HostInstance, r.host)}
	}
	populated := false
	for _, dir := range rec.Cgroups {
		if !slices.Contains(r.cg.bases(), filepath.Dir(dir)) || filepath.Base(dir) != name {
			continue // a record only ever names our own cgroups; don't trust it further
		}
		c.cgroups = append(c.cgroups, dir)
		populated = populated || !cgroupTreeEmpty(dir)
	}
	p, alive := readProcStat(rec.PID)
	alive = alive && rec.PID > 0 && p.alive()
	if alive && p.startTicks == rec.PIDStart {
		for _, dir := range c.cgroups {
			if slices.Contains(readPids(filepath.Join(dir, "cgroup.procs")), rec.PID) {
				c.mainPid = rec.PID
			}
		}
		if hasEnv(rec.PID, marker(r.host, rec.ID)...) {
			c.mainPid = rec.PID
		}
	}
	switch {
	case c.mainPid != 0 || populated:
		c.marked = true
	case alive:
		// Ours would be in its cgroup or carry the marker.
		c.refused = fmt.Sprintf("pid %d is neither in the agent's cgroup nor carries its env marker with the recorded start time", rec.PID)
	default:
		// The main process is gone; what it left carries the marker.
		c.marked = true
	}
	return c
}

// cleanupLeftover kills one agent of an earlier plugin process, as far as
// confirm vouched for it: through its cgroups, and through its env marker
// and (with a confirmed main process) its session for what is outside them.
func (r *Runtime) cleanupLeftover(ctx context.Context, rec record, c confirmed) error {
	for _, dir := range c.cgroups {
		if err := killCgroup(ctx, dir); err != nil {
			return err
		}
		if err := removeCgroup(ctx, dir); err != nil {
			return err
		}
	}
	if !c.marked {
		return nil
	}
	return killMarked(ctx, marker(r.host, rec.ID), func() int { return c.mainPid })
}
