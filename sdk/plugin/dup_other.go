//go:build unix && !linux

package plugin

import (
	"os"
	"syscall"
)

// dupTo makes fd refer to f's file.
func dupTo(f *os.File, fd int) error { return syscall.Dup2(int(f.Fd()), fd) }
