// Package pgembed runs a private PostgreSQL cluster under a data folder from
// the server binaries installed on the machine, so that auditgraph works
// without anyone setting up a database server for it.
package pgembed

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lib/pq"
)

const (
	// superuser is the bootstrap superuser initdb creates; URL connects as it.
	superuser = "auditgraph"
	port      = "5432"
	// maxSocketPath is the size of sun_path in struct sockaddr_un on Linux,
	// less the terminating NUL.
	maxSocketPath = 107
	readyTimeout  = 60 * time.Second
	stopTimeout   = 30 * time.Second
)

// Config says where and how to run the cluster.
type Config struct {
	DataDir  string            // the folder; cluster lives in DataDir/pgdata, the Unix socket and postgres.log in DataDir/run
	BinDir   string            // optional: folder holding initdb and postgres; found automatically when empty
	Database string            // database created on first start if missing; default "auditgraph"
	Settings map[string]string // extra postgres -c settings, e.g. {"fsync":"off"} for tests
	Logger   *slog.Logger      // optional; nil = discard
	// UseRunning makes Start connect to the cluster when a postgres already
	// runs it (another auditgraph's), instead of failing with *InUseError;
	// Stop then leaves it running.
	UseRunning bool
}

// Cluster is a postgres server started by Start.
type Cluster struct {
	binDir  string
	dataDir string
	pgData  string
	runDir  string
	logPath string
	cred    *syscall.Credential // nil: run as the current user
	log     *slog.Logger

	proc    *os.Process   // nil when UseRunning found the cluster running
	exited  chan struct{} // closed once postgres has exited and waitErr is set
	waitErr error

	stopOnce sync.Once
	stopErr  error
}

// Start initialises the cluster on first use (initdb), starts postgres
// listening only on a Unix socket in DataDir/run, waits until it accepts
// connections and creates cfg.Database if missing. When a postgres already
// runs the cluster it returns an *InUseError, or with cfg.UseRunning
// connects to that one.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("pgembed: no data dir given")
	}
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("pgembed: %w", err)
	}
	c := &Cluster{
		dataDir: dataDir,
		pgData:  filepath.Join(dataDir, "pgdata"),
		runDir:  filepath.Join(dataDir, "run"),
		log:     cfg.Logger,
		exited:  make(chan struct{}),
	}
	c.logPath = filepath.Join(c.runDir, "postgres.log")
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if sock := filepath.Join(c.runDir, ".s.PGSQL."+port); len(sock) > maxSocketPath {
		return nil, fmt.Errorf("pgembed: the PostgreSQL socket path %s is %d bytes, longer than the %d a Unix socket allows; choose a --data-dir with a shorter path", sock, len(sock), maxSocketPath)
	}
	// Without this check a second postgres would fail on its lock file while
	// ready() connected to the first one's socket and reported success.
	if err := c.inUse(0); err != nil {
		if !cfg.UseRunning {
			return nil, err
		}
		return c, c.useRunning(ctx, cmp.Or(cfg.Database, "auditgraph"), err.(*InUseError))
	}
	if c.binDir, err = FindBinaries(cfg.BinDir); err != nil {
		return nil, err
	}
	owner, err := runAs()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("pgembed: %w", err)
	}
	if owner != nil {
		if err := owner.checkReachable(dataDir); err != nil {
			return nil, err
		}
		c.cred = owner.cred
	}
	// Creating pgdata here, rather than leaving it to initdb, lets DataDir
	// itself stay owned by root when postgres runs as another user.
	for _, dir := range []string{c.pgData, c.runDir} {
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("pgembed: %w", err)
		}
	}
	// Whoever can reach the socket is superuser (trust auth, see initdb), so
	// its folder must stay private to its owner (and root).
	if err := os.Chmod(c.runDir, 0o700); err != nil {
		return nil, fmt.Errorf("pgembed: %w", err)
	}
	logFile, err := os.OpenFile(c.logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("pgembed: %w", err)
	}
	defer logFile.Close() // initdb and postgres get their own copies
	if owner != nil {
		for _, dir := range []string{c.pgData, c.runDir} {
			if err := owner.chownTree(dir); err != nil {
				return nil, err
			}
		}
	}

	if _, err := os.Stat(filepath.Join(c.pgData, "PG_VERSION")); errors.Is(err, fs.ErrNotExist) {
		if err := c.initdb(ctx, logFile, cfg.Settings["fsync"] == "off"); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, fmt.Errorf("pgembed: %w", err)
	}
	if err := c.start(logFile, cfg.Settings); err != nil {
		return nil, err
	}
	version, err := c.ready(ctx, cmp.Or(cfg.Database, "auditgraph"))
	if err != nil {
		c.Stop(context.Background()) // the startup error is the one worth reporting
		return nil, err
	}
	c.log.Info("PostgreSQL started", "dir", c.dataDir, "version", version, "bin", c.binDir)
	return c, nil
}

// useRunning connects to the postgres that runs the cluster already.
func (c *Cluster) useRunning(ctx context.Context, database string, running *InUseError) error {
	version, err := c.ready(ctx, database)
	if err != nil {
		return err
	}
	c.log.Info("using the PostgreSQL already running in the data folder", "dir", c.dataDir, "version", version,
		"pid", running.Postmaster, "holder_pid", running.PID)
	return nil
}

// Shared reports whether Start found the cluster running, with
// Config.UseRunning, rather than starting it: the process that started it
// owns it (and its schema).
func (c *Cluster) Shared() bool { return c.proc == nil }

// URL returns a lib/pq connection URL to db.
func (c *Cluster) URL(db string) string {
	return "postgres:///" + url.PathEscape(db) + "?host=" + url.QueryEscape(c.runDir) +
		"&user=" + superuser + "&sslmode=disable"
}

// URLAs returns a lib/pq connection URL to db as role user, which
// connects without a password like the superuser: the socket's folder is
// what keeps others out.
func (c *Cluster) URLAs(user, db string) string {
	return "postgres:///" + url.PathEscape(db) + "?host=" + url.QueryEscape(c.runDir) +
		"&user=" + url.QueryEscape(user) + "&sslmode=disable"
}

// Stop shuts postgres down with a fast shutdown (SIGINT), which rolls back
// open transactions and checkpoints; if that takes longer than 30s or ctx
// ends first, it falls back to an immediate shutdown (SIGQUIT), which leaves
// crash recovery to the next start. Calling Stop again returns the same result.
func (c *Cluster) Stop(ctx context.Context) error {
	c.stopOnce.Do(func() { c.stopErr = c.stop(ctx) })
	return c.stopErr
}

func (c *Cluster) stop(ctx context.Context) error {
	if c.proc == nil {
		return nil // UseRunning: the cluster is another process's to stop
	}
	defer c.log.Info("PostgreSQL stopped", "dir", c.dataDir)
	if err := c.proc.Signal(os.Interrupt); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("pgembed: stopping postgres: %w", err)
	}
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	var why string
	select {
	case <-c.exited:
		if c.waitErr != nil {
			return fmt.Errorf("pgembed: postgres: %w; last lines of %s:\n%s", c.waitErr, c.logPath, logTail(c.logPath))
		}
		return nil
	case <-timer.C:
		why = fmt.Sprintf("not stopped after %v", stopTimeout)
	case <-ctx.Done():
		why = ctx.Err().Error()
	}
	if err := c.proc.Signal(syscall.SIGQUIT); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("pgembed: stopping postgres: %w", err)
	}
	<-c.exited
	return fmt.Errorf("pgembed: postgres %s, forced an immediate shutdown", why)
}

// initdb creates the cluster with auditgraph as its bootstrap superuser.
// Trust authentication is acceptable because postgres listens only on a
// socket in a 0700 folder, which only its owner and root can reach.
func (c *Cluster) initdb(ctx context.Context, logFile *os.File, noSync bool) error {
	c.log.Info("initialising PostgreSQL cluster", "dir", c.pgData)
	args := []string{"-D", c.pgData, "-U", superuser, "--auth=trust", "-E", "UTF8", "--no-locale"}
	if noSync {
		// A cluster running with fsync=off gains nothing from a synced
		// initdb, and skipping it saves tests about a second each.
		args = append(args, "--no-sync")
	}
	cmd := c.command(exec.CommandContext(ctx, filepath.Join(c.binDir, "initdb"), args...), logFile)
	// On SIGINT initdb removes what it created; a killed initdb would leave a
	// half-built cluster with PG_VERSION that is never redone.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("pgembed: initdb: %w", ctx.Err())
		}
		return fmt.Errorf("pgembed: initdb: %w; last lines of %s:\n%s", err, c.logPath, logTail(c.logPath))
	}
	return nil
}

// start launches postgres in the background.
func (c *Cluster) start(logFile *os.File, settings map[string]string) error {
	args := []string{"-D", c.pgData}
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		args = append(args, "-c", k+"="+settings[k])
	}
	// Last, so that settings cannot open a TCP port or move the socket URL
	// points at. The folder is quoted because the setting is a list.
	args = append(args,
		"-c", "listen_addresses=",
		"-c", `unix_socket_directories="`+strings.ReplaceAll(c.runDir, `"`, `""`)+`"`,
		"-c", "port="+port)
	cmd := c.command(exec.Command(filepath.Join(c.binDir, "postgres"), args...), logFile)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgembed: %w", err)
	}
	c.proc = cmd.Process
	go func() {
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()
	return nil
}

// command sets up cmd to run in DataDir, which the postgres user can reach
// unlike perhaps the current folder, as c.cred, logging to logFile.
func (c *Cluster) command(cmd *exec.Cmd, logFile *os.File) *exec.Cmd {
	cmd.Dir = c.dataDir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr(c.cred)
	return cmd
}

// ready waits until postgres accepts connections, then creates database if
// it does not exist yet. It returns the server's version.
func (c *Cluster) ready(ctx context.Context, database string) (string, error) {
	db, err := sql.Open("postgres", c.URL("postgres"))
	if err != nil {
		return "", fmt.Errorf("pgembed: %w", err)
	}
	defer db.Close()

	waitCtx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		var one int
		err := db.QueryRowContext(waitCtx, "SELECT 1").Scan(&one)
		if err == nil {
			break
		}
		select {
		case <-c.exited:
			if err := c.inUse(c.proc.Pid); err != nil {
				return "", err // lost a race to start the cluster
			}
			return "", fmt.Errorf("pgembed: postgres exited during startup (%v); last lines of %s:\n%s", c.waitErr, c.logPath, logTail(c.logPath))
		case <-waitCtx.Done():
			return "", fmt.Errorf("pgembed: postgres not accepting connections: %w (last error: %v); last lines of %s:\n%s", waitCtx.Err(), err, c.logPath, logTail(c.logPath))
		case <-tick.C:
		}
	}
	// Two starts at once both pass Start's check; the one whose postgres
	// lost the lock file has just reached the other's socket.
	if c.proc != nil {
		if err := c.inUse(c.proc.Pid); err != nil {
			return "", err
		}
	}

	var one int
	err = db.QueryRowContext(ctx, "SELECT 1 FROM pg_database WHERE datname = $1", database).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		_, err = db.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(database))
	}
	if err != nil {
		return "", fmt.Errorf("pgembed: creating database %s: %w", database, err)
	}
	var version string
	if err := db.QueryRowContext(ctx, "SHOW server_version").Scan(&version); err != nil {
		return "", fmt.Errorf("pgembed: %w", err)
	}
	return version, nil
}

// logTail returns the last lines of the log at path, where postgres and
// initdb explain why they failed.
func logTail(path string) string {
	const maxBytes, maxLines = 4096, 20
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err.Error()
	}
	cut := fi.Size() > maxBytes
	if cut {
		if _, err := f.Seek(-maxBytes, io.SeekEnd); err != nil {
			return err.Error()
		}
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if cut {
		lines = lines[1:] // starts mid-line
	}
	return strings.Join(lines[max(0, len(lines)-maxLines):], "\n")
}
