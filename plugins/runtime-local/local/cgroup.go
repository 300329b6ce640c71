package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// Agents are tracked and limited with cgroups made under the cgroups this
// process is in, named parallax/<host instance>/<agent>:
//
//   - Tracking: a cgroup2 directory the process is cloned into
//     (CLONE_INTO_CGROUP), so nothing it forks, double-forks or setsids can
//     escape, not even in the fork window. It is killed with cgroup.kill.
//     Without cgroup2 the v1 pids or freezer hierarchy tracks instead.
//   - Limits: cgroup2 cpu.max and memory.max where those controllers can be
//     enabled for our subtree, else v1 cpu and memory cgroups.
//
// Where neither works, agents are tracked by env marker (see markedProcs)
// and limits are reported as not enforced.
type cgroups struct {
	log hclog.Logger
	// v2 is this host instance's directory in the cgroup2 hierarchy, or ""
	// when none is writable.
	v2 string
	// v2Limits holds "cpu" and "memory" when the controller is enabled for
	// agent cgroups under v2.
	v2Limits map[string]bool
	// v1 maps a v1 controller to this host instance's directory in it.
	v1 map[string]string
	// cloneBroken is set once cloning into a cgroup2 directory failed here;
	// from then on agents are tracked another way.
	cloneBroken atomic.Bool
}

const cgroupPeriodUsec = 100000

// probeCgroups finds and makes the cgroups this host instance can use.
func probeCgroups(log hclog.Logger, hostName string) *cgroups {
	c := &cgroups{log: log, v2Limits: map[string]bool{}, v1: map[string]string{}}
	v2, v1, err := ownCgroupDirs()
	if err != nil {
		log.Warn("cgroups not readable, tracking agents by env marker", "error", err)
		return c
	}
	if v2 != "" {
		base := filepath.Join(v2, "parallax", hostName)
		if err := os.MkdirAll(base, 0o755); err != nil {
			log.Info("cgroup2 not writable", "dir", base, "error", err)
		} else {
			c.v2 = base
			for _, ctrl := range []string{"cpu", "memory"} {
				if err := enableController(v2, base, ctrl); err != nil {
					log.Debug("cgroup2 controller not usable", "controller", ctrl, "error", err)
					continue
				}
				c.v2Limits[ctrl] = true
			}
		}
	}
	for _, ctrl := range []string{"cpu", "memory", "pids", "freezer"} {
		dir, ok := v1[ctrl]
		if !ok || c.v2Limits[ctrl] {
			continue
		}
		if (ctrl == "pids" || ctrl == "freezer") && (c.v2 != "" || c.v1["pids"] != "") {
			continue // tracking is covered; don't leave unused directories
		}
		base := filepath.Join(dir, "parallax", hostName)
		if err := os.MkdirAll(base, 0o755); err != nil {
			log.Debug("cgroup v1 not writable", "controller", ctrl, "dir", base, "error", err)
			continue
		}
		c.v1[ctrl] = base
	}
	if _, err := os.Stat(filepath.Join(c.v1["cpu"], "cpu.cfs_quota_us")); c.v1["cpu"] != "" && err != nil {
		delete(c.v1, "cpu")
	}
	if _, err := os.Stat(filepath.Join(c.v1["memory"], "memory.limit_in_bytes")); c.v1["memory"] != "" && err != nil {
		delete(c.v1, "memory")
	}
	return c
}

func (c *cgroups) cpuLimit() bool    { return c.v2Limits["cpu"] || c.v1["cpu"] != "" }
func (c *cgroups) memoryLimit() bool { return c.v2Limits["memory"] || c.v1["memory"] != "" }

// describe says in a few words how agents are tracked and limited.
func (c *cgroups) describe() string {
	track := "env marker"
	switch {
	case c.v2 != "" && !c.cloneBroken.Load():
		track = "cgroup2 " + c.v2
	case c.v1["pids"] != "":
		track = "cgroup v1 pids " + c.v1["pids"]
	case c.v1["freezer"] != "":
		track = "cgroup v1 freezer " + c.v1["freezer"]
	}
	limit := func(ctrl string) string {
		switch {
		case c.v2Limits[ctrl]:
			return "cgroup2"
		case c.v1[ctrl] != "":
			return "cgroup v1"
		}
		return "not enforced"
	}
	return fmt.Sprintf("tracking by %s; cpu limit: %s; memory limit: %s", track, limit("cpu"), limit("memory"))
}

// ownCgroupDirs returns the directory of this process's cgroup in the
// cgroup2 hierarchy and in each mounted v1 hierarchy, by controller.
func ownCgroupDirs() (v2 string, v1 map[string]string, err error) {
	paths, err := readSelfCgroup()
	if err != nil {
		return "", nil, err
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	v1 = map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source superoptions
		pre, post, ok := strings.Cut(s.Text(), " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 5 || len(qf) < 3 {
			continue
		}
		root, mnt := unescapeMount(pf[3]), unescapeMount(pf[4])
		switch qf[0] {
		case "cgroup2":
			if p, ok := paths[""]; ok && v2 == "" {
				if dir, ok := cgroupDir(mnt, root, p); ok {
					v2 = dir
				}
			}
		case "cgroup":
			for _, opt := range strings.Split(qf[2], ",") {
				p, ok := paths[opt]
				if !ok {
					continue
				}
				if dir, ok := cgroupDir(mnt, root, p); ok {
					if _, seen := v1[opt]; !seen {
						v1[opt] = dir
					}
				}
			}
		}
	}
	return v2, v1, s.Err()
}

// readSelfCgroup maps each controller in /proc/self/cgroup to our path in
// its hierarchy; the cgroup2 hierarchy is under "".
func readSelfCgroup() (map[string]string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	paths := map[string]string{}
	for line := range strings.Lines(string(b)) {
		parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			paths[""] = parts[2]
			continue
		}
		for _, ctrl := range strings.Split(parts[1], ",") {
			paths[ctrl] = parts[2]
		}
	}
	return paths, nil
}

// cgroupDir joins a mount point with our cgroup path, minus the part of it
// the mount's root already covers (a container may mount a sub-cgroup).
func cgroupDir(mnt, root, path string) (string, bool) {
	if strings.HasPrefix(path, "/..") {
		return "", false // outside our cgroup namespace
	}
	if root != "/" {
		rest, ok := strings.CutPrefix(path, root)
		if !ok || (rest != "" && rest[0] != '/') {
			return "", false
		}
		path = rest
	}
	return filepath.Join(mnt, path), true
}

func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// enableController turns a cgroup2 controller on for every level from our
// own cgroup down to base, so agent cgroups under base get it. It fails with
// EBUSY where our own cgroup has processes and is not the root (cgroup2
// allows controllers only above leaves); we don't move the plugin around to
// get round that.
func enableController(own, base, ctrl string) error {
	avail, err := os.ReadFile(filepath.Join(own, "cgroup.controllers"))
	if err != nil {
		return err
	}
	if !containsWord(string(avail), ctrl) {
		return fmt.Errorf("controller %s not available in %s", ctrl, own)
	}
	rel, err := filepath.Rel(own, base)
	if err != nil {
		return err
	}
	dir := own
	for _, part := range append([]string{"."}, strings.Split(rel, "/")...) {
		dir = filepath.Join(dir, part)
		if err := writeFile(filepath.Join(dir, "cgroup.subtree_control"), "+"+ctrl); err != nil {
			return err
		}
	}
	return nil
}

func containsWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}

func writeFile(path, value string) error {
	return os.WriteFile(path, []byte(value), 0o644)
}

// limits are an agent's resource limits; zero is none.
type limits struct {
	cpuMilli int64
	memBytes int64
	cpu, mem string // as the user wrote them, for warnings
}

// agentCgroup is the set of cgroups made for one agent.
type agentCgroup struct {
	// track lists all of the agent's processes; "" when it has none and is
	// tracked by env marker.
	track string
	// clone is set when track is a cgroup2 directory entered at clone time.
	clone bool
	// late are the cgroups the process is moved into right after it
	// started, for v1 hierarchies that have no clone-into.
	late []string
	// dirs lists every directory made, to remove.
	dirs []string
}

// create makes an agent's cgroups and applies its limits. Limits it can't
// apply come back as warnings; the agent starts anyway.
// clone false makes no cgroup2 tracking directory.
func (c *cgroups) create(name string, lim limits, clone bool) (*agentCgroup, []string) {
	ag := &agentCgroup{}
	var warnings []string
	cpuSettled, memSettled := lim.cpuMilli == 0, lim.memBytes == 0

	if c.v2 != "" && clone {
		dir := filepath.Join(c.v2, name)
		if err := c.mkdirAgent(dir); err != nil {
			c.log.Warn("cannot make cgroup2 directory", "dir", dir, "error", err)
		} else {
			ag.track, ag.clone = dir, true
			ag.dirs = append(ag.dirs, dir)
			if !cpuSettled && c.v2Limits["cpu"] {
				cpuSettled = c.apply(&warnings, lim.cpu, "cpu",
					writeFile(filepath.Join(dir, "cpu.max"), fmt.Sprintf("%d %d", cpuQuota(lim.cpuMilli), cgroupPeriodUsec)))
			}
			if !memSettled && c.v2Limits["memory"] {
				err := writeFile(filepath.Join(dir, "memory.max"), strconv.FormatInt(lim.memBytes, 10))
				if err == nil {
					// Like memsw in v1: the limit can't be dodged by swapping.
					_ = writeFile(filepath.Join(dir, "memory.swap.max"), "0")
				}
				memSettled = c.apply(&warnings, lim.mem, "memory", err)
			}
		}
	}
	if !cpuSettled && c.v1["cpu"] != "" {
		dir := filepath.Join(c.v1["cpu"], name)
		err := c.mkdirAgent(dir)
		if err == nil {
			ag.dirs, ag.late = append(ag.dirs, dir), append(ag.late, dir)
			if err = writeFile(filepath.Join(dir, "cpu.cfs_period_us"), strconv.Itoa(cgroupPeriodUsec)); err == nil {
				err = writeFile(filepath.Join(dir, "cpu.cfs_quota_us"), strconv.FormatInt(cpuQuota(lim.cpuMilli), 10))
			}
		}
		cpuSettled = c.apply(&warnings, lim.cpu, "cpu", err)
	}
	if !memSettled && c.v1["memory"] != "" {
		dir := filepath.Join(c.v1["memory"], name)
		err := c.mkdirAgent(dir)
		if err == nil {
			ag.dirs, ag.late = append(ag.dirs, dir), append(ag.late, dir)
			v := strconv.FormatInt(lim.memBytes, 10)
			if err = writeFile(filepath.Join(dir, "memory.limit_in_bytes"), v); err == nil {
				// Absent without swap accounting; then there is no swap to dodge into.
				_ = writeFile(filepath.Join(dir, "memory.memsw.limit_in_bytes"), v)
			}
		}
		memSettled = c.apply(&warnings, lim.mem, "memory", err)
	}
	if ag.track == "" {
		for _, ctrl := range []string{"pids", "freezer"} {
			if c.v1[ctrl] == "" {
				continue
			}
			dir := filepath.Join(c.v1[ctrl], name)
			if err := c.mkdirAgent(dir); err != nil {
				c.log.Warn("cannot make cgroup directory", "dir", dir, "error", err)
				continue
			}
			ag.track = dir
			ag.dirs, ag.late = append(ag.dirs, dir), append(ag.late, dir)
			break
		}
	}
	if !cpuSettled {
		warnings = append(warnings, fmt.Sprintf("cpu limit %s not enforced: no writable cpu cgroup", lim.cpu))
	}
	if !memSettled {
		warnings = append(warnings, fmt.Sprintf("memory limit %s not enforced: no writable memory cgroup", lim.mem))
	}
	return ag, warnings
}

// leftoverDirs lists the agent cgroups under our bases whose names are
// not in live.
func (c *cgroups) leftoverDirs(live map[string]bool) []string {
	var dirs []string
	for _, base := range c.bases() {
		entries, _ := os.ReadDir(base)
		for _, e := range entries {
			if e.IsDir() && !live[e.Name()] {
				dirs = append(dirs, filepath.Join(base, e.Name()))
			}
		}
	}
	return dirs
}

// apply records a limit's failure as a warning. Either way the limit is
// settled: applied or reported, not to be tried again or reported twice.
func (c *cgroups) apply(warnings *[]string, value, what string, err error) bool {
	if err == nil {
		return true
	}
	c.log.Warn("cannot apply limit", "limit", what, "value", value, "error", err)
	*warnings = append(*warnings, fmt.Sprintf("%s limit %s not enforced: %v", what, value, err))
	return true
}

// cpuQuota turns millicores into a CFS quota per period; the kernel's
// minimum is 1 ms.
func cpuQuota(milli int64) int64 {
	return max(milli*cgroupPeriodUsec/1000, 1000)
}

// mkdirAgent makes an agent's cgroup directory in one of our bases. Another
// host instance's sweep (sweepOtherInstances) may have removed the base
// while we had no agents; then it is made again.
func (c *cgroups) mkdirAgent(dir string) error {
	err := mkdirCgroup(dir)
	if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	base := filepath.Dir(dir)
	if err := os.MkdirAll(base, 0o755); err != nil {
		return err
	}
	if base == c.v2 {
		own := filepath.Dir(filepath.Dir(base))
		for ctrl := range c.v2Limits {
			if err := enableController(own, base, ctrl); err != nil {
				return fmt.Errorf("enable %s controller again in %s: %w", ctrl, base, err)
			}
		}
	}
	return mkdirCgroup(dir)
}

// bases lists this host instance's directories, one per hierarchy used.
func (c *cgroups) bases() []string {
	var bases []string
	if c.v2 != "" {
		bases = append(bases, c.v2)
	}
	for _, b := range c.v1 {
		bases = append(bases, b)
	}
	return bases
}

// sweepOtherInstances removes the parallax/<instance> cgroups of other
// host instances that hold no process: leftovers of runs that ended without
// a clean shutdown. An instance whose cgroups hold processes is live and
// left alone. It only ever rmdirs, which the kernel refuses for a cgroup
// that has processes, so a race with a starting agent costs nothing.
func (c *cgroups) sweepOtherInstances(hostName string) []string {
	roots := map[string]bool{}
	for _, b := range c.bases() {
		roots[filepath.Dir(b)] = true
	}
	var removed []string
	for root := range roots {
		entries, _ := os.ReadDir(root)
		for _, e := range entries {
			dir := filepath.Join(root, e.Name())
			if e.IsDir() && e.Name() != hostName && cgroupTreeEmpty(dir) && removeCgroupTree(dir) == nil {
				removed = append(removed, dir)
			}
		}
	}
	return removed
}

// removeOwn removes this host instance's cgroups, which must hold no
// process, and the parallax directory above them if no other instance is
// left in it.
func (c *cgroups) removeOwn() error {
	var errs []error
	for _, base := range c.bases() {
		if !cgroupTreeEmpty(base) {
			errs = append(errs, fmt.Errorf("cgroup %s still has processes", base))
			continue
		}
		if err := removeCgroupTree(base); err != nil {
			errs = append(errs, err)
			continue
		}
		_ = syscall.Rmdir(filepath.Dir(base)) // fails while other instances are there
	}
	return errors.Join(errs...)
}

// cgroupTreeEmpty reports whether no process, zombies included, is in the
// cgroup or any under it. cgroup2 says so for the whole subtree.
func cgroupTreeEmpty(dir string) bool {
	if b, err := os.ReadFile(filepath.Join(dir, "cgroup.events")); err == nil {
		return strings.Contains(string(b), "populated 0")
	}
	if _, err := os.Stat(filepath.Join(dir, "cgroup.procs")); err != nil {
		return false // not a cgroup we can read: leave it
	}
	if len(readPids(filepath.Join(dir, "cgroup.procs"))) > 0 {
		return false
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() && !cgroupTreeEmpty(filepath.Join(dir, e.Name())) {
			return false
		}
	}
	return true
}

// removeCgroupTree rmdirs the cgroups under dir, deepest first, then dir.
// One attempt each: it is for cgroups already empty.
func removeCgroupTree(dir string) error {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() {
			_ = removeCgroupTree(filepath.Join(dir, e.Name()))
		}
	}
	if err := syscall.Rmdir(dir); err != nil && !errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("remove cgroup %s: %w", dir, err)
	}
	return nil
}

func mkdirCgroup(dir string) error {
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return nil
}

// openClone opens the tracking directory for SysProcAttr.CgroupFD; -1 when
// the agent is not cloned into a cgroup.
func (ag *agentCgroup) openClone() (int, error) {
	if ag == nil || !ag.clone {
		return -1, nil
	}
	return unix.Open(ag.track, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
}

// enterLate moves a just-started process into the v1 cgroups. v1 has no
// clone-into, so there is a window of a few microseconds after exec in
// which a fork would land outside them; the cgroup2 tracking directory
// (or the env marker) still holds such a child, so it is killed all the
// same, only not limited.
func (ag *agentCgroup) enterLate(pid int) error {
	var errs []error
	for _, dir := range ag.late {
		if err := writeFile(filepath.Join(dir, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// procs lists the pids in the tracking cgroup.
func (ag *agentCgroup) procs() []int {
	if ag == nil || ag.track == "" {
		return nil
	}
	return readPids(filepath.Join(ag.track, "cgroup.procs"))
}

// kill kills every process in the cgroups. It returns once they are all gone.
func (ag *agentCgroup) kill(ctx context.Context) error {
	if ag == nil {
		return nil
	}
	for _, dir := range ag.dirs {
		if err := killCgroup(ctx, dir); err != nil {
			return err
		}
	}
	return nil
}

// remove removes the agent's cgroups, which must be empty.
func (ag *agentCgroup) remove(ctx context.Context) error {
	if ag == nil {
		return nil
	}
	var errs []error
	for _, dir := range ag.dirs {
		errs = append(errs, removeCgroup(ctx, dir))
	}
	return errors.Join(errs...)
}

// killCgroup kills everything in a cgroup directory and waits until it is
// empty. cgroup.kill does it in one step where the kernel has it (cgroup2,
// Linux 5.14); elsewhere we SIGKILL what cgroup.procs lists until nothing
// is left, which also catches children forked while we kill.
func killCgroup(ctx context.Context, dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	useKill := writeFile(filepath.Join(dir, "cgroup.kill"), "1") == nil
	return pollUntil(ctx, func() bool {
		if cgroupEmpty(dir) {
			return true
		}
		if useKill {
			_ = writeFile(filepath.Join(dir, "cgroup.kill"), "1")
		} else {
			for _, pid := range readPids(filepath.Join(dir, "cgroup.procs")) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		return false
	}, "cgroup "+dir+" still has processes")
}

// cgroupEmpty reports whether no live process is in the cgroup. cgroup2
// says so in cgroup.events; zombies waiting to be reaped don't count there,
// nor for rmdir.
func cgroupEmpty(dir string) bool {
	if b, err := os.ReadFile(filepath.Join(dir, "cgroup.events")); err == nil {
		return strings.Contains(string(b), "populated 0")
	}
	for _, pid := range readPids(filepath.Join(dir, "cgroup.procs")) {
		if p, ok := readProcStat(pid); ok && p.alive() {
			return false
		}
	}
	return true
}

// killMarked SIGKILLs the processes markedProcs finds until none is left.
// A process in the middle of execve shows an empty environment for a
// moment, so "none left" must hold for two scans some milliseconds apart.
func killMarked(ctx context.Context, marker []string, mainPid func() int) error {
	var clean time.Time
	// A dying process loses its environ, and so its marker, before it is
	// a zombie: the ones killed are followed by pid and start time until
	// they are dead, not only until they no longer look marked.
	killed := map[int]uint64{}
	return pollUntil(ctx, func() bool {
		left := false
		for _, p := range markedProcs(marker, mainPid()) {
			if p.alive() {
				left = true
				killed[p.pid] = p.startTicks
				_ = syscall.Kill(p.pid, syscall.SIGKILL)
			}
		}
		for pid, start := range killed {
			if p, ok := readProcStat(pid); ok && p.startTicks == start && p.alive() {
				left = true
			} else {
				delete(killed, pid)
			}
		}
		switch {
		case left:
			clean = time.Time{}
		case clean.IsZero():
			clean = time.Now()
		case time.Since(clean) >= markerRecheck:
			return true
		}
		return false
	}, "agent processes still running")
}

const markerRecheck = 5 * time.Millisecond

func removeCgroup(ctx context.Context, dir string) error {
	var last error
	err := pollUntil(ctx, func() bool {
		last = syscall.Rmdir(dir)
		return last == nil || errors.Is(last, syscall.ENOENT)
	}, "cannot remove cgroup "+dir)
	if err != nil && last != nil {
		return fmt.Errorf("%w: %v", err, last)
	}
	return err
}

// pollUntil calls done with a growing pause until it reports true, ctx ends
// or a minute passed; a kill that takes longer means something is wrong.
func pollUntil(ctx context.Context, done func() bool, what string) error {
	deadline := time.Now().Add(time.Minute)
	pause := 200 * time.Microsecond
	for !done() {
		if time.Now().After(deadline) {
			return errors.New(what)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-time.After(pause):
		}
		pause = min(pause*2, 20*time.Millisecond)
	}
	return nil
}
