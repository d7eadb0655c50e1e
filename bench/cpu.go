package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// On a shared machine wall times are noisy; the CPU time each process spent
// says where a measurement's time went, whatever else the machine ran.

// clockTick is the unit of /proc/<pid>/stat times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// cpuTimes are cumulative CPU times: the whole PostgreSQL cluster, the
// auditgraph server process and this process.
type cpuTimes struct{ pg, server, self time.Duration }

func (a cpuTimes) sub(b cpuTimes) cpuTimes {
	return cpuTimes{a.pg - b.pg, a.server - b.server, a.self - b.self}
}

// procStat returns the fields of /proc/<pid>/stat after the command name
// (field 3, the state, is [0]).
func procStat(pid int) ([]string, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return strings.Fields(s[i+1:]), nil
}

// ticks sums the given /proc/<pid>/stat fields (1-based numbers as in proc(5)).
func ticks(f []string, fields ...int) time.Duration {
	var n int64
	for _, k := range fields {
		if k-3 < len(f) {
			v, _ := strconv.ParseInt(f[k-3], 10, 64)
			n += v
		}
	}
	return time.Duration(n) * clockTick
}

// findPostmaster records the pid of the PostgreSQL server process: the
// parent of our own backend.
func (b *bench) findPostmaster(ctx context.Context) error {
	var backend int
	if err := b.db.GetContext(ctx, &backend, `SELECT pg_backend_pid()`); err != nil {
		return err
	}
	f, err := procStat(backend)
	if err != nil {
		return fmt.Errorf("PostgreSQL must run on this machine: %w", err)
	}
	b.postmaster, err = strconv.Atoi(f[1])
	return err
}

// cpuNow samples the cumulative CPU times. The cluster's is the postmaster's
// own and its reaped children's (utime, stime, cutime, cstime) plus that of
// its live children, so backends that exited in between, such as psql's,
// are counted too.
func (b *bench) cpuNow() cpuTimes {
	var c cpuTimes
	if f, err := procStat(b.postmaster); err == nil {
		c.pg = ticks(f, 14, 15, 16, 17)
	}
	if dir, err := os.ReadDir("/proc"); err == nil {
		parent := strconv.Itoa(b.postmaster)
		for _, e := range dir {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			if f, err := procStat(pid); err == nil && len(f) > 1 && f[1] == parent {
				c.pg += ticks(f, 14, 15)
			}
		}
	}
	// Both servers, when the multi-tenant one runs: each section's requests
	// go to one of them, so the other adds only its idle time.
	for _, s := range []*server{b.srv, b.mtSrv} {
		if s != nil {
			if f, err := procStat(s.cmd.Process.Pid); err == nil {
				c.server += ticks(f, 14, 15)
			}
		}
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		c.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return c
}

func secs(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s" }

// loadAverage returns the 1-minute load average.
func loadAverage() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Fields(string(raw))[0]
}
