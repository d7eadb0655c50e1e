package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/auditgraph/auditgraph/pgembed"
	"github.com/auditgraph/auditgraph/storage"
)

// dbFlags are the flags of every command that opens the database.
type dbFlags struct {
	databaseURL string
	dataDir     string
	postgresBin string
	logLevel    string
	logFormat   string
	// useRunning lets a command that only needs a connection (verify, keys
	// create-admin-key) use the embedded cluster a running server holds.
	useRunning bool
}

func (f *dbFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.databaseURL, "database-url", "", "PostgreSQL URL; empty runs a private PostgreSQL under --data-dir")
	fs.StringVar(&f.dataDir, "data-dir", "./data", "folder of the private PostgreSQL cluster, used when --database-url is empty")
	fs.StringVar(&f.postgresBin, "postgres-bin", "", "folder holding initdb and postgres; found on PATH or under /usr/lib/postgresql when empty")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&f.logFormat, "log-format", "text", "text or json")
}

// openDatabase opens the store named by the flags, starting the private
// cluster first when no URL is given, and applies pending migrations. A
// cluster a running server holds (f.useRunning) is used as it is, and refused
// if this binary would migrate it. The returned func closes the store and
// stops the cluster it started.
func openDatabase(ctx context.Context, f *dbFlags, log *slog.Logger) (*storage.Store, func(), error) {
	url := f.databaseURL
	var cluster *pgembed.Cluster
	if url == "" {
		var err error
		cluster, err = pgembed.Start(ctx, pgembed.Config{DataDir: f.dataDir, BinDir: f.postgresBin, Logger: log, UseRunning: f.useRunning})
		var inUse *pgembed.InUseError
		if errors.As(err, &inUse) {
			return nil, nil, fmt.Errorf("%w; stop that process first, or choose another --data-dir", err)
		}
		if err != nil {
			return nil, nil, err
		}
		url = cluster.URL("auditgraph")
		f.databaseURL = url // the live hub's LISTEN connection needs it too
	}
	stopCluster := func() {
		if cluster == nil {
			return
		}
		sctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
		defer cancel()
		if err := cluster.Stop(sctx); err != nil {
			log.Error("stopping PostgreSQL", "err", err)
		}
	}
	store, err := storage.Open(ctx, url)
	if err != nil {
		stopCluster()
		return nil, nil, err
	}
	if cluster != nil && cluster.Shared() {
		if err := checkShared(ctx, store); err != nil {
			store.Close()
			return nil, nil, err
		}
		return store, func() { store.Close() }, nil
	}
	n, err := store.Migrate(ctx)
	if err != nil {
		store.Close()
		stopCluster()
		return nil, nil, err
	}
	if n > 0 {
		log.Info("applied database migrations", "count", n)
	}
	now := time.Now()
	if err := store.EnsurePartitions(ctx, now.AddDate(0, -1, 0), now.AddDate(0, 3, 0)); err != nil {
		store.Close()
		stopCluster()
		return nil, nil, fmt.Errorf("creating audit partitions: %w", err)
	}
	return store, func() { store.Close(); stopCluster() }, nil
}

// checkShared refuses a running server's database whose schema this binary
// would migrate: migrating under a running server of another version could
// break it, and the server has done its own migrations and partitions.
func checkShared(ctx context.Context, store *storage.Store) error {
	n, err := store.Pending(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("the server running in the data folder uses an older database schema (%d migrations behind this auditgraph %s): stop it first, or use the auditgraph version it runs", n, buildVersion())
	}
	return nil
}

func migrate(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f dbFlags
	f.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log, err := newLogger(stderr, f.logLevel, f.logFormat)
	if err != nil {
		return err
	}
	_, closeDB, err := openDatabase(ctx, &f, log)
	if err != nil {
		return err
	}
	closeDB()
	log.Info("database is up to date")
	return nil
}
