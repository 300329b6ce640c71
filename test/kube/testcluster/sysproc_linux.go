package testcluster

import "syscall"

// sysProcAttr puts a child in its own process group, so that it and all it
// starts can be killed together, and has the kernel kill it if the test
// process dies without cleaning up (a panic, a go test timeout).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
