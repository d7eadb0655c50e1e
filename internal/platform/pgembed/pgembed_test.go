package pgembed

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv makes TestHelperNonRoot run; the test re-execs itself with it.
const helperEnv = "PGEMBED_TEST_HELPER"

// needBinaries skips tests that need a real PostgreSQL when it is not installed.
func needBinaries(t *testing.T) {
	t.Helper()
	if _, err := FindBinaries(""); err != nil {
		t.Skip(err)
	}
}

// reachableDir returns a fresh folder that the postgres user can reach when
// the test runs as root: t.TempDir and its parents may be 0700.
func reachableDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pgembed-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func testConfig(t *testing.T, dir string) Config {
	return Config{
		DataDir:  dir,
		Settings: map[string]string{"fsync": "off"},
		Logger:   slog.New(slog.NewTextHandler(t.Output(), nil)),
	}
}

func start(t *testing.T, cfg Config) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	c, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop(context.Background()) })
	return c
}

func stop(t *testing.T, c *Cluster) {
	t.Helper()
	if err := c.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func open(t *testing.T, c *Cluster, db string) *sql.DB {
	t.Helper()
	conn, err := sql.Open("postgres", c.URL(db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestRestartKeepsData(t *testing.T) {
	needBinaries(t)
	t.Parallel()
	cfg := testConfig(t, reachableDir(t))

	c := start(t, cfg)
	db := open(t, c, "auditgraph")
	if _, err := db.Exec("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	stop(t, c)

	c = start(t, cfg)
	var v string
	if err := open(t, c, "auditgraph").QueryRow("SELECT v FROM kept").Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != "still here" {
		t.Errorf("got %q, want %q", v, "still here")
	}
	stop(t, c)
}

func TestRootRunsPostgresAsOtherUser(t *testing.T) {
	needBinaries(t)
	if os.Geteuid() != 0 || runtime.GOOS != "linux" {
		t.Skip("needs root on Linux")
	}
	t.Parallel()
	dir := reachableDir(t)
	c := start(t, testConfig(t, dir))

	pidFile, err := os.ReadFile(filepath.Join(dir, "pgdata", "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _, _ := strings.Cut(string(pidFile), "\n")
	status, err := os.ReadFile(filepath.Join("/proc", pid, "status"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			// Real, effective, saved and filesystem uid.
			for _, uid := range strings.Fields(rest) {
				if uid == "0" {
					t.Errorf("postgres (pid %s) runs as root: %s", pid, line)
				}
			}
		}
	}
	var n int
	if err := open(t, c, "postgres").QueryRow("SELECT 41 + 1").Scan(&n); err != nil || n != 42 {
		t.Errorf("query: %d, %v", n, err)
	}
}

func TestNonRoot(t *testing.T) {
	needBinaries(t)
	t.Parallel()
	if os.Geteuid() != 0 {
		exercise(t, t.TempDir())
		return
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Skip("no postgres user to run the test as:", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)

	// Copy the test binary where that user can run it (the go build cache
	// may be private), with a TMPDIR it owns.
	dir := reachableDir(t)
	bin := filepath.Join(dir, "pgembed.test")
	copyFile(t, os.Args[0], bin)
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(tmp, uid, gid); err != nil {
		t.Fatal(err)
	}

	cmd := exec.CommandContext(t.Context(), bin, "-test.run=^TestHelperNonRoot$", "-test.v", "-test.count=1")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), helperEnv+"=1", "TMPDIR="+tmp)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	out, err := cmd.CombinedOutput()
	t.Logf("helper output:\n%s", out)
	if err != nil {
		t.Fatalf("helper as user postgres: %v", err)
	}
	if !strings.Contains(string(out), "--- PASS: TestHelperNonRoot") {
		t.Fatal("helper did not pass")
	}
}

// TestHelperNonRoot is TestNonRoot re-executed as the postgres user.
func TestHelperNonRoot(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		t.Skip("run by TestNonRoot")
	}
	if os.Geteuid() == 0 {
		t.Fatal("helper runs as root")
	}
	exercise(t, t.TempDir())
}

// exercise starts a cluster as the current, non-root user in a folder it owns.
func exercise(t *testing.T, dir string) {
	c := start(t, testConfig(t, dir))
	var who string
	if err := open(t, c, "auditgraph").QueryRow("SELECT current_user").Scan(&who); err != nil {
		t.Fatal(err)
	}
	if who != "auditgraph" {
		t.Errorf("current_user = %q, want auditgraph", who)
	}
	stop(t, c)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestStopIsIdempotent(t *testing.T) {
	needBinaries(t)
	t.Parallel()
	dir := reachableDir(t)
	c := start(t, testConfig(t, dir))
	db := open(t, c, "postgres")
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	db.Close()

	stop(t, c)
	stop(t, c)
	if _, err := os.Stat(filepath.Join(dir, "run", ".s.PGSQL.5432")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket after Stop: %v, want it gone", err)
	}
	if err := open(t, c, "postgres").Ping(); err == nil {
		t.Error("connected after Stop")
	}
}

func TestStartReportsPostgresLog(t *testing.T) {
	needBinaries(t)
	t.Parallel()
	cfg := testConfig(t, reachableDir(t))
	cfg.Settings["shared_buffers"] = "lots"
	_, err := Start(t.Context(), cfg)
	if err == nil || !strings.Contains(err.Error(), `invalid value for parameter "shared_buffers"`) {
		t.Fatalf("got %v, want postgres's complaint about shared_buffers", err)
	}
}

func TestSocketPathTooLong(t *testing.T) {
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 100))
	_, err := Start(t.Context(), Config{DataDir: dir})
	if err == nil || !strings.Contains(err.Error(), "socket path") {
		t.Fatalf("got %v, want socket path error", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Start created %s before failing: %v", dir, err)
	}
}

func TestUnreachableDataDir(t *testing.T) {
	needBinaries(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	private := filepath.Join(reachableDir(t), "private")
	if err := os.Mkdir(private, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := Start(t.Context(), Config{DataDir: filepath.Join(private, "data")})
	if err == nil || !strings.Contains(err.Error(), private+" ") || !strings.Contains(err.Error(), "--data-dir") {
		t.Fatalf("got %v, want an error naming %s and --data-dir", err, private)
	}
}

func TestBinariesNotFound(t *testing.T) {
	empty := t.TempDir()
	t.Setenv("PATH", empty)
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrBinariesNotFound) {
			t.Fatalf("%s: got %v, want ErrBinariesNotFound", what, err)
		}
		for _, want := range []string{"--database-url", "apt-get install"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q does not mention %s", what, err, want)
			}
		}
	}

	_, err := FindBinaries(empty)
	check("FindBinaries(empty)", err)
	_, err = Start(t.Context(), Config{DataDir: t.TempDir(), BinDir: empty})
	check("Start with empty BinDir", err)
	_, err = findBinaries("", []string{filepath.Join(empty, "*", "bin")})
	check("auto-discovery", err)
}

func TestFindBinaries(t *testing.T) {
	root := t.TempDir()
	fake := func(dir string, names ...string) string {
		t.Helper()
		dir = filepath.Join(root, dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	fake("lib/9.6/bin", "initdb", "postgres")
	v15 := fake("lib/15/bin", "initdb", "postgres")
	fake("lib/16/bin", "initdb") // no postgres: skipped
	globs := []string{filepath.Join(root, "lib", "*", "bin")}

	t.Setenv("PATH", fake("initdb-only", "initdb"))
	if got, err := findBinaries("", globs); err != nil || got != v15 {
		t.Errorf("highest version: got %q, %v; want %q", got, err, v15)
	}
	onPath := fake("path", "initdb", "postgres")
	t.Setenv("PATH", onPath)
	if got, err := findBinaries("", globs); err != nil || got != onPath {
		t.Errorf("PATH: got %q, %v; want %q", got, err, onPath)
	}
	linked := fake("linked")
	if err := os.Symlink(filepath.Join(v15, "initdb"), filepath.Join(linked, "initdb")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", linked)
	if got, err := findBinaries("", nil); err != nil || got != v15 {
		t.Errorf("linked initdb on PATH: got %q, %v; want %q", got, err, v15)
	}
	if got, err := findBinaries(v15, nil); err != nil || got != v15 {
		t.Errorf("hint: got %q, %v; want %q", got, err, v15)
	}
}
