package pgembed

import "syscall"

// sysProcAttr puts initdb and postgres in their own process group, so that a
// Ctrl-C in the terminal reaches only auditgraph, which stops postgres after
// draining, and makes the kernel send SIGINT (fast shutdown) to them if
// auditgraph dies. Go applies Pdeathsig after switching to cred, which would
// otherwise clear it.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGINT, Credential: cred}
}
