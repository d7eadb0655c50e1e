package pgembed

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// sysProcAttr puts initdb and postgres in their own process group, so that a
// Ctrl-C in the terminal reaches only auditgraph, which stops postgres after
// draining, and makes the kernel send SIGINT (fast shutdown) to them if
// auditgraph dies. Go applies Pdeathsig after switching to cred, which would
// otherwise clear it.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGINT, Credential: cred}
}

// parentPID returns pid's parent from /proc/PID/stat.
func parentPID(pid int) (int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return ppid, err == nil
}

// processExe returns the executable pid runs.
func processExe(pid int) (string, error) {
	return os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
}

// commandName returns pid's command name, or "" when it cannot be read.
func commandName(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
