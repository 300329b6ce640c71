//go:build unix && !linux

package testcluster

import "syscall"

// sysProcAttr puts a child in its own process group, so that it and all it
// starts can be killed together. Only Linux can also tie its life to the
// test process's.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
