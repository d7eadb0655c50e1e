package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/lib/pq"

	"github.com/auditgraph/auditgraph/internal/log/retention"
	"github.com/auditgraph/auditgraph/internal/platform/pgembed"
	"github.com/auditgraph/auditgraph/storage"
)

// dbFlags are the flags of every command that opens the database.
type dbFlags struct {
	databaseURL string
	migrateURL  string // serve only: the owner's URL for migrations
	// readURL and maxReplicaLag (serve only): the read standby.
	readURL       string
	maxReplicaLag time.Duration
	// retention, when set, becomes the retention floor the owner sets for
	// audit_events_expire (serve: its --retention; migrate: --retention).
	retention   *retention.Period
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
// stops the cluster it started. The store connects as the URL's role, or the
// private cluster's superuser: migrate and verify use it; serve uses
// openServeDatabase.
func openDatabase(ctx context.Context, f *dbFlags, log *slog.Logger) (*storage.Store, func(), error) {
	url := f.databaseURL
	var cluster *pgembed.Cluster
	stopCluster := func() {}
	if url == "" {
		var err error
		if cluster, stopCluster, err = startEmbedded(ctx, f, log); err != nil {
			return nil, nil, err
		}
		url = cluster.URL("auditgraph")
		f.databaseURL = url // the live hub's LISTEN connection needs it too
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
	if err := migrateStore(ctx, store, log); err != nil {
		store.Close()
		stopCluster()
		return nil, nil, err
	}
	return store, func() { store.Close(); stopCluster() }, nil
}

// startEmbedded starts the private cluster under --data-dir; the returned
// func stops it.
func startEmbedded(ctx context.Context, f *dbFlags, log *slog.Logger) (*pgembed.Cluster, func(), error) {
	cluster, err := pgembed.Start(ctx, pgembed.Config{DataDir: f.dataDir, BinDir: f.postgresBin, Logger: log, UseRunning: f.useRunning})
	var inUse *pgembed.InUseError
	if errors.As(err, &inUse) {
		return nil, nil, fmt.Errorf("%w; stop that process first, or choose another --data-dir", err)
	}
	if err != nil {
		return nil, nil, err
	}
	return cluster, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
		defer cancel()
		if err := cluster.Stop(sctx); err != nil {
			log.Error("stopping PostgreSQL", "err", err)
		}
	}, nil
}

// migrateStore applies pending migrations and, when the store's role owns
// the tables, grants storage.AppRole what serve needs; then it makes sure
// the audit partitions of the coming months exist.
func migrateStore(ctx context.Context, store *storage.Store, log *slog.Logger) error {
	role, err := store.Role(ctx)
	if err != nil {
		return err
	}
	// A standby (verify --database-url pointed at one) takes no writes: its
	// schema is the primary's, which must be migrated already.
	if standby, err := store.InRecovery(ctx); err != nil {
		return err
	} else if standby {
		n, err := store.Pending(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%d database migrations are pending on the standby's primary: migrate the primary first", n)
		}
		return nil
	}
	if !role.Owner {
		if err := checkMigrated(ctx, store, role); err != nil {
			return err
		}
		return ensurePartitions(ctx, store)
	}
	n, err := store.Migrate(ctx)
	var pe *pq.Error
	if errors.As(err, &pe) && pe.Code == "42501" {
		return fmt.Errorf("%w (role %s may not create the tables: apply migrations as their owner, with auditgraph migrate --database-url OWNER-URL or serve --migrate-database-url OWNER-URL)", err, role.Name)
	}
	if err != nil {
		return err
	}
	if n > 0 {
		log.Info("applied database migrations", "count", n)
	}
	switch err := store.SetUpAppRole(ctx); {
	case errors.Is(err, storage.ErrNoCreateRole):
		log.Warn("cannot set up the role serve should run as", "role", storage.AppRole, "err", err)
	case err != nil:
		return err
	}
	return ensurePartitions(ctx, store)
}

func ensurePartitions(ctx context.Context, store *storage.Store) error {
	now := time.Now()
	if err := store.EnsurePartitions(ctx, now.AddDate(0, -1, 0), now.AddDate(0, 3, 0)); err != nil {
		return fmt.Errorf("creating audit partitions: %w", err)
	}
	return nil
}

// embeddedServeRole is the login role serve connects to the private cluster
// as: a member of storage.AppRole, owning nothing.
const embeddedServeRole = "auditgraph_server"

// registerServe adds the flags only serve has.
func (f *dbFlags) registerServe(fs *flag.FlagSet) {
	fs.StringVar(&f.migrateURL, "migrate-database-url", "", "PostgreSQL URL of the role that owns the tables, used to apply migrations; --database-url then names a role without ownership (see README: Database roles)")
	fs.StringVar(&f.readURL, "read-database-url", "", "PostgreSQL URL of a hot standby of --database-url (or a session-mode pooler in front of several) for exports, dashboards, search and verification; empty: everything reads the primary")
	fs.DurationVar(&f.maxReplicaLag, "max-replica-lag", storage.DefaultMaxLag, "replication lag past which reads bypass --read-database-url and go to the primary")
}

// checkServe checks the flags only serve has.
func (f *dbFlags) checkServe() error {
	if f.readURL == "" {
		return nil
	}
	if f.databaseURL == "" {
		return usageError{errors.New("--read-database-url needs --database-url (the private cluster has no standby)")}
	}
	// The URL may hold a password: the message leaves it out.
	if _, err := pq.NewConfig(f.readURL); err != nil {
		return usageError{errors.New("--read-database-url: not a PostgreSQL URL (postgres://...) or connection string (host=... dbname=...)")}
	}
	if f.maxReplicaLag <= 0 {
		return usageError{fmt.Errorf("--max-replica-lag %s: want a positive duration such as 30s", f.maxReplicaLag)}
	}
	return nil
}

// attachStandby gives store the read standby of --read-database-url, if
// any, logging when reads start or stop going to it.
func attachStandby(ctx context.Context, store *storage.Store, f *dbFlags, log *slog.Logger) error {
	if f.readURL == "" {
		return nil
	}
	return store.AttachStandby(ctx, storage.StandbyConfig{URL: f.readURL, MaxLag: f.maxReplicaLag,
		OnChange: func(st storage.StandbyStatus) {
			if st.Used {
				log.Info("reading from the standby (--read-database-url)", "lag", st.Lag)
				return
			}
			log.Warn("standby bypassed: reads go to the primary", "reason", st.Reason, "lag", st.Lag, "err", st.Err)
		}})
}

// openServeDatabase opens the store serve runs on, connected as a role that
// does not own the tables wherever it can. The private cluster is migrated
// as its superuser, which owns the tables, and serve then connects as
// embeddedServeRole. With --database-url, migrations run as the role of
// --migrate-database-url when given, else as --database-url's when that
// role owns the tables; a role that owns them, or is a superuser, can get
// past the append-only rules, and serve says so at start.
func openServeDatabase(ctx context.Context, f *dbFlags, log *slog.Logger) (*storage.Store, func(), error) {
	if f.databaseURL == "" {
		if f.migrateURL != "" {
			return nil, nil, usageError{errors.New("--migrate-database-url needs --database-url (the private cluster sets up both roles itself)")}
		}
		return openEmbeddedAsApp(ctx, f, log)
	}
	if f.migrateURL != "" {
		owner, err := storage.Open(ctx, f.migrateURL)
		if err != nil {
			return nil, nil, fmt.Errorf("--migrate-database-url: %w", err)
		}
		err = migrateStore(ctx, owner, log)
		if err == nil {
			err = setRetentionFloor(ctx, owner, f, log)
		}
		owner.Close()
		if err != nil {
			return nil, nil, err
		}
	}
	store, err := storage.Open(ctx, f.databaseURL)
	if err != nil {
		return nil, nil, err
	}
	role, err := store.Role(ctx)
	if err == nil {
		err = migrateStore(ctx, store, log)
	}
	if err == nil && role.Owner && f.migrateURL == "" {
		err = setRetentionFloor(ctx, store, f, log)
	}
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	warnPrivilegedRole(log, role)
	return store, func() { store.Close() }, nil
}

// setRetentionFloor has the owner's store set the retention floor of
// audit_events_expire to f.retention, when set.
func setRetentionFloor(ctx context.Context, owner *storage.Store, f *dbFlags, log *slog.Logger) error {
	if f.retention == nil {
		return nil
	}
	if err := owner.SetRetentionFloor(ctx, f.retention.Years, f.retention.Days); err != nil {
		return err
	}
	log.Debug("set the retention the database enforces on expiry", "retention", f.retention.String())
	return nil
}

// checkMigrated refuses to serve a database with migrations pending that
// the role cannot apply.
func checkMigrated(ctx context.Context, store *storage.Store, role storage.RoleInfo) error {
	n, err := store.Pending(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("%d database migrations are pending and role %s does not own the tables to apply them: run auditgraph migrate --database-url OWNER-URL, or pass serve --migrate-database-url OWNER-URL", n, role.Name)
	}
	return nil
}

// warnPrivilegedRole logs, once at start, that serve's role can disable
// the audit log's append-only triggers.
func warnPrivilegedRole(log *slog.Logger, role storage.RoleInfo) {
	if role.Privileged() {
		log.Warn("the database role serve connects as "+role.Why()+": it could disable the audit log's append-only triggers, "+
			"so only the hash chain and checkpoints would show tampering; connect as a member of "+storage.AppRole+
			" and migrate as the owner with --migrate-database-url (README: Database roles)", "role", role.Name)
	}
}

// openEmbeddedAsApp starts the private cluster, migrates it as the
// superuser and opens the store as embeddedServeRole.
func openEmbeddedAsApp(ctx context.Context, f *dbFlags, log *slog.Logger) (*storage.Store, func(), error) {
	cluster, stopCluster, err := startEmbedded(ctx, f, log)
	if err != nil {
		return nil, nil, err
	}
	owner, err := storage.Open(ctx, cluster.URL("auditgraph"))
	if err == nil {
		err = migrateStore(ctx, owner, log)
		if err == nil {
			err = owner.EnsureLoginRole(ctx, embeddedServeRole)
		}
		if err == nil {
			err = setRetentionFloor(ctx, owner, f, log)
		}
		owner.Close()
	}
	if err != nil {
		stopCluster()
		return nil, nil, err
	}
	f.databaseURL = cluster.URLAs(embeddedServeRole, "auditgraph") // for the live hub and the outbox too
	store, err := storage.Open(ctx, f.databaseURL)
	if err != nil {
		stopCluster()
		return nil, nil, err
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
	keep := fs.String("retention", "", "set the retention the database enforces on expiry, whatever the role serve runs as asks for (days or years: 2192d, 6y; or forever); empty: leave it as it is")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *keep != "" {
		p, err := retention.Parse(*keep)
		if err != nil {
			return usageError{fmt.Errorf("--retention: %w", err)}
		}
		f.retention = &p
	}
	log, err := newLogger(stderr, f.logLevel, f.logFormat)
	if err != nil {
		return err
	}
	store, closeDB, err := openDatabase(ctx, &f, log)
	if err != nil {
		return err
	}
	err = setRetentionFloor(ctx, store, &f, log)
	closeDB()
	if err != nil {
		return err
	}
	if f.retention != nil {
		log.Info("the database keeps audit events at least", "retention", f.retention.String())
	}
	log.Info("database is up to date")
	return nil
}
