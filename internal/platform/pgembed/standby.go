package pgembed

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
)

// StartStandby makes a hot standby of primary, a cluster Start started, in
// cfg.DataDir: it copies the primary with pg_basebackup -R (over the
// primary's socket, streaming the WAL it needs, writing standby.signal and
// primary_conninfo), then starts it as Start does. The standby streams from
// the primary from then on and answers read-only queries; a DataDir that
// holds a cluster already is started as it is. Tests and benchmarks use it
// to run auditgraph against a real streaming standby.
func StartStandby(ctx context.Context, primary *Cluster, cfg Config) (*Cluster, error) {
	if primary == nil || primary.Shared() {
		return nil, errors.New("pgembed: a standby needs a primary this process started")
	}
	if cfg.DataDir == "" {
		return nil, errors.New("pgembed: no data dir given")
	}
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("pgembed: %w", err)
	}
	pgData := filepath.Join(dataDir, "pgdata")
	if _, err := os.Stat(filepath.Join(pgData, "PG_VERSION")); err == nil {
		return Start(ctx, cfg)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("pgembed: %w", err)
	}
	owner, err := runAs()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("pgembed: %w", err)
	}
	if err := os.Mkdir(pgData, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("pgembed: %w", err)
	}
	var c Cluster
	if owner != nil {
		if err := owner.checkReachable(dataDir); err != nil {
			return nil, err
		}
		if err := owner.chownTree(pgData); err != nil {
			return nil, err
		}
		c.cred = owner.cred
	}
	args := []string{"-D", pgData, "-R", "-X", "stream", "-c", "fast",
		"-h", primary.runDir, "-p", port, "-U", superuser}
	if cfg.Settings["fsync"] == "off" {
		args = append(args, "--no-sync")
	}
	cmd := exec.CommandContext(ctx, filepath.Join(primary.binDir, "pg_basebackup"), args...)
	cmd.Dir = dataDir
	cmd.SysProcAttr = sysProcAttr(c.cred)
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(pgData) // a half-copied cluster would be started next time
		return nil, fmt.Errorf("pgembed: pg_basebackup: %w: %s", err, out)
	}
	if cfg.BinDir == "" {
		cfg.BinDir = primary.binDir
	}
	return Start(ctx, cfg)
}
