package pgembed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/internal/platform/logtest"
)

// wantInUse checks that err says the folder is in use by this test process,
// which started the running postmaster.
func wantInUse(t *testing.T, err error, dir string) {
	t.Helper()
	var inUse *InUseError
	if !errors.As(err, &inUse) {
		t.Fatalf("Start on a folder in use = %v, want an *InUseError", err)
	}
	pid, ok := postmasterPID(filepath.Join(dir, "pgdata"))
	if !ok {
		t.Fatal("no postmaster.pid")
	}
	if inUse.PID != os.Getpid() || inUse.Postmaster != pid {
		t.Errorf("InUseError PID, Postmaster = %d, %d; want %d (the process that started postgres), %d", inUse.PID, inUse.Postmaster, os.Getpid(), pid)
	}
	if want := fmt.Sprintf("data folder in use by PID %d ", os.Getpid()); !strings.Contains(err.Error(), want) {
		t.Errorf("error = %q, want it to contain %q", err, want)
	}
}

func TestStartOnFolderInUse(t *testing.T) {
	needBinaries(t)
	t.Parallel()
	dir := reachableDir(t)
	cfg := testConfig(t, dir)
	first := start(t, cfg)

	var log logtest.Buffer
	cfg.Logger = slog.New(slog.NewTextHandler(&log, nil))
	second, err := Start(t.Context(), cfg)
	if err == nil {
		second.Stop(context.Background())
	}
	wantInUse(t, err, dir)
	if strings.Contains(log.String(), "PostgreSQL started") {
		t.Errorf("second Start logged %q, want no PostgreSQL started", log.String())
	}
	var n int
	if err := open(t, first, "postgres").QueryRow("SELECT 1").Scan(&n); err != nil {
		t.Errorf("first cluster after a second Start: %v", err)
	}
	stop(t, first)
}

// Two starts at once both find the folder free; the one whose postgres
// loses the lock file must not use the other's.
func TestConcurrentStartsOneWins(t *testing.T) {
	needBinaries(t)
	t.Parallel()
	dir := reachableDir(t)
	cfg := testConfig(t, dir)
	stop(t, start(t, cfg)) // initdb once

	var (
		wg       sync.WaitGroup
		clusters [2]*Cluster
		errs     [2]error
	)
	for i := range 2 {
		wg.Go(func() {
			clusters[i], errs[i] = Start(t.Context(), cfg)
		})
	}
	wg.Wait()
	var won int
	for i := range 2 {
		if errs[i] == nil {
			won++
			t.Cleanup(func() { clusters[i].Stop(context.Background()) })
		}
	}
	if won != 1 {
		t.Fatalf("concurrent Starts: errors %v, %v; want exactly one to succeed", errs[0], errs[1])
	}
	for _, err := range errs {
		if err != nil {
			wantInUse(t, err, dir)
		}
	}
}

func TestUseRunning(t *testing.T) {
	needBinaries(t)
	t.Parallel()
	dir := reachableDir(t)
	cfg := testConfig(t, dir)
	first := start(t, cfg)
	if _, err := open(t, first, "auditgraph").Exec("CREATE TABLE shared (v text); INSERT INTO shared VALUES ('first')"); err != nil {
		t.Fatal(err)
	}

	cfg.UseRunning = true
	second := start(t, cfg)
	if !second.Shared() {
		t.Error("Shared() of a Cluster Start found running = false, want true")
	}
	var v string
	if err := open(t, second, "auditgraph").QueryRow("SELECT v FROM shared").Scan(&v); err != nil || v != "first" {
		t.Errorf("query through the second Cluster = %q, %v; want the first cluster's row", v, err)
	}
	stop(t, second)
	if err := open(t, first, "auditgraph").QueryRow("SELECT v FROM shared").Scan(&v); err != nil {
		t.Errorf("first cluster after the second's Stop: %v, want it still running", err)
	}
	stop(t, first)

	// With nothing running, UseRunning starts the cluster as usual.
	third := start(t, cfg)
	if third.Shared() {
		t.Error("UseRunning on a stopped cluster did not start postgres")
	}
	stop(t, third)
}

// A postmaster.pid left by a postgres that is gone does not stop a start,
// nor one whose PID is now this process's (PIDs are reused after a crash).
func TestStaleLockFile(t *testing.T) {
	needBinaries(t)
	t.Parallel()
	dir := reachableDir(t)
	cfg := testConfig(t, dir)
	stop(t, start(t, cfg))

	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		pid  int
	}{
		{"process gone", gone.Process.Pid},
		{"this process", os.Getpid()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pidFile := filepath.Join(dir, "pgdata", "postmaster.pid")
			if err := os.WriteFile(pidFile, []byte(strconv.Itoa(tc.pid)+"\n"+filepath.Join(dir, "pgdata")+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if owner, err := runAs(); err != nil {
				t.Fatal(err)
			} else if owner != nil {
				if err := os.Chown(pidFile, int(owner.cred.Uid), int(owner.cred.Gid)); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			c, err := Start(ctx, cfg)
			if err != nil {
				t.Fatalf("Start with a stale postmaster.pid naming %s: %v", tc.name, err)
			}
			stop(t, c)
		})
	}
}

func TestInUseErrorText(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  InUseError
		want string
	}{
		{"auditgraph", InUseError{DataDir: "/srv/data", PID: 10, Name: "auditgraph", Postmaster: 20},
			"data folder in use by PID 10 (auditgraph, running PostgreSQL as PID 20): /srv/data"},
		{"postgres", InUseError{DataDir: "/srv/data", PID: 20, Name: "postgres", Postmaster: 20},
			"data folder in use by PID 20 (postgres): /srv/data"},
		{"unknown name", InUseError{DataDir: "/srv/data", PID: 20, Postmaster: 20},
			"data folder in use by PID 20 (PostgreSQL): /srv/data"},
		{"another program", InUseError{DataDir: "/srv/data", PID: 20, Name: "sh", Postmaster: 20},
			"data folder in use by PID 20 (sh): /srv/data (if no PostgreSQL uses the folder, /srv/data/pgdata/postmaster.pid is stale: remove it)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("Error() = %q, want %q", got, tc.want)
			}
		})
	}
}
