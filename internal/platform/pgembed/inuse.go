package pgembed

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// InUseError is returned by Start when a live postgres already runs the
// cluster under the data folder. Starting a second one fails on its lock
// file while the first one's socket, in the same folder, answers.
type InUseError struct {
	DataDir string
	// PID holds the folder: the process that started the postmaster when
	// that is an auditgraph (the same executable as this one, or one named
	// auditgraph*), else the postmaster itself.
	PID        int
	Name       string // PID's command name, when known
	Postmaster int    // the postmaster's PID, from postmaster.pid
}

func (e *InUseError) Error() string {
	if e.PID != e.Postmaster {
		return fmt.Sprintf("data folder in use by PID %d (%s, running PostgreSQL as PID %d): %s",
			e.PID, cmp.Or(e.Name, "the process that started PostgreSQL"), e.Postmaster, e.DataDir)
	}
	msg := fmt.Sprintf("data folder in use by PID %d (%s): %s", e.PID, cmp.Or(e.Name, "PostgreSQL"), e.DataDir)
	if e.Name != "" && e.Name != "postgres" {
		// PIDs are reused: after a crash the lock file can name a new,
		// unrelated process, and postgres then refuses to start too.
		msg += fmt.Sprintf(" (if no PostgreSQL uses the folder, %s is stale: remove it)", filepath.Join(e.DataDir, "pgdata", "postmaster.pid"))
	}
	return msg
}

// inUse returns an *InUseError if pgdata's postmaster.pid names a live
// process other than self (the postmaster this Cluster started; 0: none),
// and nil when there is no lock file, it is unreadable or names a process
// that is gone (postgres itself replaces a stale one). This process and its
// parent are not in the way: a stale file can name them when PIDs are
// reused (a container's restart), and postgres ignores its parent and
// grandparent's PIDs there too.
func (c *Cluster) inUse(self int) error {
	pid, ok := postmasterPID(c.pgData)
	if !ok || pid == self || pid == os.Getpid() || pid == os.Getppid() || !alive(pid) {
		return nil
	}
	e := &InUseError{DataDir: c.dataDir, PID: pid, Postmaster: pid}
	if ppid, ok := parentPID(pid); ok && ppid > 1 && isAuditgraph(ppid) {
		e.PID = ppid
	}
	e.Name = commandName(e.PID)
	return e
}

// postmasterPID reads the first line of pgdata/postmaster.pid.
func postmasterPID(pgData string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(pgData, "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	return pid, err == nil && pid > 0
}

// alive reports whether pid is a running process, as postgres decides it
// for its lock file: EPERM means another user's process, which cannot be
// the postmaster of a cluster this user runs.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || (!errors.Is(err, syscall.ESRCH) && !errors.Is(err, syscall.EPERM))
}

// isAuditgraph reports whether pid runs this executable or one whose
// command name starts with auditgraph.
func isAuditgraph(pid int) bool {
	if self, err := os.Executable(); err == nil {
		if exe, err := processExe(pid); err == nil && exe == self {
			return true
		}
	}
	return strings.HasPrefix(commandName(pid), "auditgraph")
}
