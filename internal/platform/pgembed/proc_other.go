//go:build unix && !linux

package pgembed

import (
	"errors"
	"syscall"
)

// sysProcAttr puts initdb and postgres in their own process group, so that a
// Ctrl-C in the terminal reaches only auditgraph, which stops postgres after
// draining. There is no parent-death signal outside Linux.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Credential: cred}
}

// Without /proc a data folder in use is reported by the postmaster's PID.

func parentPID(int) (int, bool) { return 0, false }

func processExe(int) (string, error) { return "", errors.ErrUnsupported }

func commandName(int) string { return "" }
