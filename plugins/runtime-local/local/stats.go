package local

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/parallax/parallax/sdk/runtime"
)

func (r *Runtime) Stats(ctx context.Context, id string) (runtime.Stats, error) {
	a, err := r.agents.Get(id)
	if err != nil {
		return runtime.Stats{}, err
	}
	return a.stats(), nil
}

// stats reports usage over all the agent's processes. CPU is the share used
// since the previous call, or since the start on the first call, so the
// first call needs no second sample and returns at once.
func (a *agent) stats() runtime.Stats {
	procs := a.processes()
	var st runtime.Stats
	var ticks uint64
	for _, p := range procs {
		st.MemoryBytes += p.rssPages * pageSize
		ticks += p.cpuTicks
	}
	st.Processes = len(procs)
	cur := cpuSample{usec: ticks * 1e6 / clockTicks, at: time.Now()}
	if a.cg != nil && a.cg.clone {
		if usec, ok := cgroupCPUUsec(a.cg.track); ok {
			cur.usec = usec
		}
	}

	a.mu.Lock()
	prev := a.sample
	if prev.at.IsZero() {
		prev = cpuSample{at: a.StartedAt}
	}
	a.sample = cur
	a.mu.Unlock()
	st.CPUPercent = cpuPercent(prev, cur)
	st.Uptime = a.Uptime()
	return st
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
// It is 100 on every Linux architecture Go supports, and Go can't read
// sysconf(_SC_CLK_TCK) without cgo.
const clockTicks = 100

var pageSize = uint64(os.Getpagesize())

// procStat is what we use of /proc/<pid>/stat.
type procStat struct {
	pid, ppid, pgrp, session int
	state                    byte
	cpuTicks                 uint64 // utime + stime
	startTicks               uint64 // start time since boot; tells a reused pid apart
	rssPages                 uint64
}

func (p procStat) alive() bool { return p.state != 'Z' && p.state != 'X' }

func readProcStat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	return parseProcStat(pid, b)
}

func parseProcStat(pid int, b []byte) (procStat, bool) {
	// comm may hold spaces and parentheses; the fields after the last ')'
	// are fixed.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return procStat{}, false
	}
	f := strings.Fields(string(b[i+2:]))
	// f[0] is field 3 (state) of proc(5).
	if len(f) < 22 {
		return procStat{}, false
	}
	num := func(field int) uint64 {
		n, _ := strconv.ParseUint(f[field-3], 10, 64)
		return n
	}
	return procStat{
		pid:        pid,
		state:      f[0][0],
		ppid:       int(num(4)),
		pgrp:       int(num(5)),
		session:    int(num(6)),
		cpuTicks:   num(14) + num(15),
		startTicks: num(22),
		rssPages:   num(24),
	}, true
}

// allProcs lists every process in /proc.
func allProcs() []procStat {
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	procs := make([]procStat, 0, len(names))
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		if p, ok := readProcStat(pid); ok {
			procs = append(procs, p)
		}
	}
	return procs
}

// hasEnv reports whether the process's environment holds every one of
// the given "KEY=value" entries.
func hasEnv(pid int, entries ...string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil || len(b) == 0 {
		return false
	}
	b = append([]byte{0}, b...)
	for _, e := range entries {
		if !bytes.Contains(b, []byte("\x00"+e+"\x00")) && !bytes.HasSuffix(b, []byte("\x00"+e)) {
			return false
		}
	}
	return true
}

// markedProcs finds an agent's processes without a cgroup: those carrying
// its env marker, those in the session or process group of its main process
// (while that pid is still ours), and every descendant of either. A process
// that both leaves the session and clears its environment escapes this;
// only a cgroup catches that.
func markedProcs(marker []string, mainPid int) []procStat {
	procs := allProcs()
	in := make(map[int]bool)
	children := make(map[int][]int)
	for _, p := range procs {
		children[p.ppid] = append(children[p.ppid], p.pid)
		if mainPid > 0 && (p.pid == mainPid || p.session == mainPid || p.pgrp == mainPid) {
			in[p.pid] = true
		} else if p.alive() && hasEnv(p.pid, marker...) {
			in[p.pid] = true
		}
	}
	queue := make([]int, 0, len(in))
	for pid := range in {
		queue = append(queue, pid)
	}
	for len(queue) > 0 {
		pid := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		for _, c := range children[pid] {
			if !in[c] {
				in[c] = true
				queue = append(queue, c)
			}
		}
	}
	out := make([]procStat, 0, len(in))
	for _, p := range procs {
		if in[p.pid] {
			out = append(out, p)
		}
	}
	return out
}

// readPids reads a cgroup.procs file.
func readPids(path string) []int {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// cgroupCPUUsec reads usage_usec from a cgroup2 cpu.stat, which the kernel
// keeps even where the cpu controller is not enabled, and which counts
// processes that already exited.
func cgroupCPUUsec(dir string) (uint64, bool) {
	f, err := os.Open(dir + "/cpu.stat")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "usage_usec "); ok {
			n, err := strconv.ParseUint(v, 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// cpuSample is a point on an agent's cumulative CPU time.
type cpuSample struct {
	usec uint64
	at   time.Time
}

// cpuPercent is the CPU used between two samples, 100 being one core.
// Usage summed over processes can drop when one exits; that reads as 0.
func cpuPercent(prev, cur cpuSample) float64 {
	wall := cur.at.Sub(prev.at).Microseconds()
	if wall <= 0 || cur.usec <= prev.usec {
		return 0
	}
	return float64(cur.usec-prev.usec) / float64(wall) * 100
}
