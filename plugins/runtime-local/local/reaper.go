package local

import (
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// The plugin is a child subreaper: a daemon that double-forks out of an
// agent is re-parented to us, not to init, so it stays findable and we
// reap it once killed (some inits, like this VM's, never reap orphans).
//
// Each agent's main process is reaped by its own cmd.Wait and nothing else.
// The reaper reaps only zombies that are not a registered main process, and
// a start holds forks.RLock from fork until its pid is registered, so the
// reaper, which checks under forks.Lock, never takes an unregistered main
// process for an orphan.
//
// This is process-wide state, shared by every Runtime in the process.
var reaper struct {
	once  sync.Once
	forks sync.RWMutex

	mu    sync.Mutex
	mains map[int]bool
}

// startReaper makes this process a subreaper and starts reaping orphans.
func startReaper(log hclog.Logger) {
	reaper.once.Do(func() {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			log.Warn("cannot become child subreaper; orphaned agent processes go to init", "error", err)
			return
		}
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGCHLD)
		go func() {
			for range sigs {
				reapOrphans()
			}
		}()
	})
}

// spawnMain runs start, which forks a main process, and registers its pid
// before the reaper can look.
func spawnMain(start func() (pid int, err error)) (int, error) {
	reaper.forks.RLock()
	defer reaper.forks.RUnlock()
	pid, err := start()
	if err == nil {
		reaper.mu.Lock()
		if reaper.mains == nil {
			reaper.mains = make(map[int]bool)
		}
		reaper.mains[pid] = true
		reaper.mu.Unlock()
	}
	return pid, err
}

// reaped unregisters a main process once cmd.Wait reaped it.
func reaped(pid int) {
	reaper.mu.Lock()
	delete(reaper.mains, pid)
	reaper.mu.Unlock()
}

func reapOrphans() {
	// Scan without the lock, so starts go on meanwhile; a main process
	// forked during the scan is registered by the time we hold the lock.
	self := os.Getpid()
	var zombies []int
	for _, p := range allProcs() {
		if p.ppid == self && !p.alive() {
			zombies = append(zombies, p.pid)
		}
	}
	if len(zombies) == 0 {
		return
	}
	reaper.forks.Lock()
	defer reaper.forks.Unlock()
	reaper.mu.Lock()
	defer reaper.mu.Unlock()
	for _, pid := range zombies {
		if !reaper.mains[pid] {
			var ws unix.WaitStatus
			_, _ = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		}
	}
}
