package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/auditgraph/auditgraph/internal/alerting/connect"
	"github.com/auditgraph/auditgraph/internal/app"
	"github.com/auditgraph/auditgraph/internal/identity"
	"github.com/auditgraph/auditgraph/internal/identity/activity"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/identity/session"
	"github.com/auditgraph/auditgraph/internal/log/live"
	"github.com/auditgraph/auditgraph/internal/log/verify"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/internal/platform/metrics"
	"github.com/auditgraph/auditgraph/internal/server"
	"github.com/auditgraph/auditgraph/notify/outbox"
	"github.com/auditgraph/auditgraph/storage"
)

// serve runs the server until ctx ends (SIGINT, SIGTERM) or one of its
// jobs fails. It reads in four steps: flags; the listeners, bound first;
// the database and the first start's setup; then the jobs, run by a
// lifecycle that stops them in the order written below.
func serve(ctx context.Context, args []string, stderr io.Writer) (err error) {
	var sf serveFlags
	if err := sf.parse(args, stderr); err != nil {
		return err
	}
	log, err := newLogger(stderr, sf.db.logLevel, sf.db.logFormat)
	if err != nil {
		return err
	}
	if sf.db.logFormat == "json" {
		// The stream stays JSON to its end: the error that stops the
		// server is its last record rather than a plain line.
		defer func() {
			if err != nil {
				log.Error("auditgraph serve stopped", "err", err)
				err = exitCode(1)
			}
		}()
	}

	// Bound before anything else, so that a taken or bad address fails
	// before the first start creates an admin and prints its key.
	ln, mln, err := sf.bind()
	if err != nil {
		return err
	}
	defer ln.Close()
	if mln != nil {
		defer mln.Close()
	}
	if sf.publicURL == "" {
		sf.publicURL = defaultPublicURL(sf.listen, ln.Addr())
	}

	external := sf.db.databaseURL != "" // else openServeDatabase sets it to the private cluster's
	store, closeDB, err := openServeDatabase(ctx, &sf.db, log)
	if err != nil {
		return err
	}
	// Deferred, so it runs once every job has stopped: the database
	// closes last, and a private PostgreSQL stops after it.
	defer closeDB()
	if err := attachStandby(ctx, store, &sf.db, log); err != nil {
		return err
	}
	secrets, err := loadSecrets(ctx, store, log, os.Getenv("AUDITGRAPH_SECRET_KEY"), sf.secretKeyFile)
	if err != nil {
		return err
	}
	ids := identity.New(store, sf.mode, log)
	if err := firstStart(ctx, ids, sf, log, stderr); err != nil {
		return err
	}
	// Authentication and the caller's organization are answered from
	// memory for a short time; the cache listens for the changes that end
	// them, on every replica (auth.Cache).
	authCache := auth.NewCache(0, log)
	ids.UseCache(authCache)

	tracker := activity.NewTracker(store, log)
	hub := live.New(live.Config{URL: sf.db.databaseURL, Store: store, Log: log})
	reg := metrics.New(store.DB().DB)
	reg.WatchActivity(tracker.Pending, time.Now)
	if sf.db.readURL != "" {
		reg.WatchReplica(func() (time.Duration, bool) { st := store.Standby(); return st.Lag, st.Used })
	}
	signingKey, signer, err := newNotary(&sf.keys, &sf.db, external, store, reg, sf.checkpointInterval(), log)
	if err != nil {
		return err
	}
	bucketSync, expiry, err := sf.jobs.build(ctx, store, signer, reg, log)
	if err != nil {
		return err
	}
	delivery, err := deliveryJob(outbox.Config{DatabaseURL: sf.db.databaseURL, PublicURL: sf.publicURL}, store, secrets, reg, log)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler: server.New(server.Config{Services: app.New(store), Identity: ids, Mode: sf.mode, Log: log, Version: buildVersion(),
			Tracker: tracker, ActivityCutoff: sf.cutoff, Live: hub, Metrics: reg, MetricsElsewhere: mln != nil,
			Secrets: secrets, PublicURL: sf.publicURL, SlackAPIURL: sf.slackAPIURL, SlackAuthorizeURL: sf.slackAuthURL, GraphQLMaxBody: sf.gqlMaxBody, IngestMemory: int64(sf.ingestMemory),
			SessionIdleTimeout: sf.sessionIdle, SessionLifetime: sf.sessionLifetime, AuthCache: authCache,
			Verify: &verify.Service{Store: store, Keys: []ed25519.PublicKey{signingKey.Public()}, Metrics: reg, Setup: sf.integritySetup(time.Now())}}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}

	// Every job starts now. On SIGINT, SIGTERM or a job's failure they
	// stop in this order, each stage waited for before the next.
	var lc lifecycle
	// 1. At once: the HTTP server drains the requests in flight (within
	// --shutdown-timeout); the hub tells open subscriptions to resubscribe,
	// since http.Server.Shutdown leaves WebSockets open; a bucket sync or
	// an expiry cut short is redone at the next start.
	lc.stage(
		httpJob(srv, ln, sf.drainTimeout, log),
		job{"live audit events", hub.Run},
		job{"auth cache", func(ctx context.Context) error { return authCache.Run(ctx, sf.db.databaseURL) }},
		partitionsAhead(store, log),
		standbyJob(store, sf.db.readURL),
		bucketSync, expiry,
		testServeJob,
	)
	// 2. Once the requests are done: the checkpoint job signs once more,
	// covering their events; the tracker writes their activity; the alert
	// outbox finishes its attempt; the metrics listener, which answered
	// scrapes during the drain, closes.
	lc.stage(
		job{"checkpoint job", signer.Run},
		job{"request activity", tracker.Run},
		delivery,
		metricsJob(reg, mln, log),
	)
	// 3. Then, deferred above: the database closes, and a private
	// PostgreSQL stops after it.
	log.Info("auditgraph listening", "addr", ln.Addr().String(), "deployment", sf.mode, "version", buildVersion())
	return lc.run(ctx)
}

// testServeJob, when a test sets its run, is one more of serve's jobs.
var testServeJob job

// serveFlags are serve's flags, checked.
type serveFlags struct {
	db            dbFlags
	jobs          jobFlags
	keys          keyFlags
	listen        string
	mode          deployment.Mode
	publicURL     string
	first         identity.Bootstrap
	cutoff        time.Time
	drainTimeout  time.Duration
	metricsListen string
	secretKeyFile string
	slackAPIURL   string
	slackAuthURL  string
	checkpoints   time.Duration
	gqlMaxBody    int64
	ingestMemory  byteSize
	// sessionIdle and sessionLifetime end the dashboard's sign-in sessions.
	sessionIdle, sessionLifetime time.Duration
}

// parse registers serve's flags, parses args and checks the values.
func (sf *serveFlags) parse(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		listen        = fs.String("listen", "127.0.0.1:8080", "address to serve HTTP on")
		mode          = fs.String("deployment", string(deployment.SelfManaged), "self-managed, dedicated or multi-tenant")
		publicURL     = fs.String("public-url", "", "URL users reach the server at (links, Slack redirect); http://<listen> when empty")
		adminUsername = fs.String("admin-username", "admin", "username of the instance admin created on first start")
		orgName       = fs.String("org-name", "default", "name of the instance's organization created on first start (self-managed, dedicated)")
		cutoff        = fs.String("activity-cutoff", "2025-05-08", "multi-tenant: the first UTC day whose audited actions count as activity")
		drainTimeout  = fs.Duration("shutdown-timeout", 30*time.Second, "how long to let in-flight requests finish on SIGTERM")
		metricsListen = fs.String("metrics-listen", "", "address to serve /metrics on without credentials; empty: on --listen, for instance admins")
		secretKeyFile = fs.String("secret-key-file", "", "file holding the instance key that seals stored secrets (or env AUDITGRAPH_SECRET_KEY)")
		slackAPIURL   = fs.String("slack-api-url", "", "base of Slack's Web API for the OAuth exchange; empty: https://slack.com/api/")
		slackAuthURL  = fs.String("slack-authorize-url", "", "Slack's OAuth v2 authorize URL; empty: "+connect.DefaultAuthorizeURL)
		checkpoints   = fs.Duration("checkpoint-interval", 10*time.Minute, "how often to sign a checkpoint of each audit log that grew, when there is no --bucket (a bucket sync signs one with every upload); 0: never")
		gqlMaxBody    = fs.Int64("graphql-max-body", server.DefaultGraphQLMaxBody, "largest POST /graphql body in bytes; a larger one gets 413")
		sessionIdle   = fs.Duration("session-idle-timeout", session.DefaultIdleTimeout, "end a dashboard sign-in session not used for this long")
		sessionLife   = fs.Duration("session-lifetime", session.DefaultLifetime, "end a dashboard sign-in session this long after sign-in, used or not")
	)
	sf.ingestMemory = byteSize(server.DefaultIngestMemory)
	fs.Var(&sf.ingestMemory, "ingest-memory", "decompressed size of the audit event batches read or stored at once; one batch may be up to 256MiB or this, whichever is less, and a batch that finds no room within 5s gets 503 with Retry-After")
	sf.db.register(fs)
	sf.db.registerServe(fs)
	sf.jobs.register(fs)
	sf.db.retention = &sf.jobs.keep // the retention floor, when serve can set it
	sf.keys.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	m, err := deployment.Parse(*mode)
	if err != nil {
		return usageError{fmt.Errorf("--deployment: %w", err)}
	}
	if err := sf.jobs.check(m); err != nil {
		return err
	}
	if err := sf.db.checkServe(); err != nil {
		return err
	}
	if *gqlMaxBody < 1 {
		return usageError{fmt.Errorf("--graphql-max-body %d: want a number of bytes, 1 or more", *gqlMaxBody)}
	}
	cutoffDay, err := time.Parse(time.DateOnly, *cutoff)
	if err != nil {
		return usageError{fmt.Errorf("--activity-cutoff %q: want a date such as 2025-05-08", *cutoff)}
	}
	if *drainTimeout == 0 {
		return usageError{errors.New("--shutdown-timeout 0s: want a positive duration such as 30s")}
	}
	if *sessionIdle == 0 {
		return usageError{errors.New("--session-idle-timeout 0s: want a positive duration such as 12h")}
	}
	if *sessionLife == 0 {
		return usageError{errors.New("--session-lifetime 0s: want a positive duration such as 168h")}
	}
	if err := checkListenAddr("--listen", *listen); err != nil {
		return err
	}
	if *metricsListen != "" {
		if err := checkListenAddr("--metrics-listen", *metricsListen); err != nil {
			return err
		}
	}
	for _, u := range []struct{ name, value string }{
		{"--public-url", *publicURL}, {"--slack-api-url", *slackAPIURL}, {"--slack-authorize-url", *slackAuthURL},
	} {
		if u.value != "" {
			if err := checkBaseURL(u.name, u.value); err != nil {
				return err
			}
		}
	}
	first := identity.Bootstrap{AdminUsername: *adminUsername, AdminAPIKey: os.Getenv("AUDITGRAPH_ADMIN_API_KEY"), OrgName: *orgName}
	if err := first.Check(m); err != nil {
		return usageError{err}
	}
	if first.AdminAPIKey != "" {
		if err := identity.CheckAPIKey(first.AdminAPIKey); err != nil {
			return usageError{fmt.Errorf("AUDITGRAPH_ADMIN_API_KEY: %w", err)}
		}
	}
	sf.listen, sf.mode, sf.publicURL, sf.first, sf.cutoff, sf.drainTimeout = *listen, m, *publicURL, first, cutoffDay, *drainTimeout
	sf.sessionIdle, sf.sessionLifetime = *sessionIdle, *sessionLife
	sf.metricsListen, sf.secretKeyFile, sf.slackAPIURL, sf.slackAuthURL, sf.checkpoints, sf.gqlMaxBody = *metricsListen, *secretKeyFile, *slackAPIURL, *slackAuthURL, *checkpoints, *gqlMaxBody
	return nil
}

// bind opens the --listen listener, and the --metrics-listen one when set
// (else nil).
func (sf *serveFlags) bind() (ln, mln net.Listener, err error) {
	ln, err = net.Listen("tcp", sf.listen)
	if err != nil {
		return nil, nil, fmt.Errorf("--listen: %w", err)
	}
	if sf.metricsListen != "" {
		if mln, err = net.Listen("tcp", sf.metricsListen); err != nil {
			ln.Close()
			return nil, nil, fmt.Errorf("--metrics-listen: %w", err)
		}
	}
	return ln, mln, nil
}

// checkpointInterval is --checkpoint-interval, or 0 (no periodic job)
// with a bucket: every sync signs the checkpoint it uploads, and the
// periodic job would sign ranges the sync then could not.
func (sf *serveFlags) checkpointInterval() time.Duration {
	if sf.jobs.bucket != "" {
		return 0
	}
	return sf.checkpoints
}

// integritySetup is what the Integrity page shows of the flags: how often
// checkpoints are signed (by the periodic job, or by each bucket sync), the
// bucket sync's interval counted from started, and the retention.
func (sf *serveFlags) integritySetup(started time.Time) verify.Setup {
	s := verify.Setup{CheckpointInterval: sf.checkpointInterval(), Retention: sf.jobs.keep, HIPAA: sf.jobs.hipaa}
	if sf.jobs.bucket != "" {
		s.CheckpointInterval = sf.jobs.syncInterval
		s.Bucket = &verify.BucketSetup{Interval: sf.jobs.syncInterval, Started: started}
	}
	return s
}

// firstStart creates the instance admin and organization on the first
// start, and prints a generated admin key once.
func firstStart(ctx context.Context, ids *identity.Service, sf serveFlags, log *slog.Logger, stderr io.Writer) error {
	key, created, err := ids.Bootstrap(ctx, sf.first)
	if err != nil {
		return fmt.Errorf("first-start setup: %w", err)
	}
	if created {
		log.Info("created instance admin", "username", sf.first.AdminUsername)
	}
	if key != "" {
		printAdminKey(stderr, sf.db.logFormat, sf.first.AdminUsername, key, sf.publicURL)
	}
	return nil
}

// httpJob serves the API on ln until its context ends, then lets the
// requests in flight finish within drain.
func httpJob(srv *http.Server, ln net.Listener, drain time.Duration, log *slog.Logger) job {
	return job{"http server", func(ctx context.Context) error {
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()
		select {
		case err := <-served:
			return err
		case <-ctx.Done():
		}
		log.Info("shutting down: draining in-flight requests", "timeout", drain)
		sctx, cancel := context.WithTimeout(context.Background(), drain)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("shutdown did not finish cleanly", "err", err)
		}
		<-served // http.ErrServerClosed, once Shutdown began
		return nil
	}}
}

// metricsJob serves /metrics on mln, without credentials; with no mln it
// is off.
func metricsJob(reg *metrics.Metrics, mln net.Listener, log *slog.Logger) job {
	if mln == nil {
		return job{}
	}
	log.Info("serving metrics", "addr", mln.Addr().String())
	return job{"metrics listener", func(ctx context.Context) error { return reg.Serve(ctx, mln) }}
}

// printAdminKey shows a generated admin key once, with a command to try it.
// It is written straight to stderr, never through the logger, so that no
// --log-level hides it; with --log-format json it is one JSON record, which
// keeps the stream parseable.
func printAdminKey(w io.Writer, logFormat, username, key, publicURL string) {
	graphqlURL := strings.TrimSuffix(publicURL, "/") + "/graphql"
	signinURL := strings.TrimSuffix(publicURL, "/") + "/signin"
	if logFormat == "json" {
		try := fmt.Sprintf(`curl -u %s:%s -H 'Content-Type: application/json' -d '{"query":"{ viewer { username } }"}' %s`, username, key, graphqlURL)
		slog.New(jsonHandler(w, slog.LevelInfo)).Info(adminKeyMessage, "username", username, "api_key", key, "try", try, "dashboard", signinURL)
		return
	}
	fmt.Fprintf(w, `
  Created instance admin %q. Its API key, shown only this once:

      %s

  Try it:
      curl -u %s:%s -H 'Content-Type: application/json' \
        -d '{"query":"{ viewer { username } }"}' %s

  Open the dashboard: %s (username %s, this key)

`, username, key, username, key, graphqlURL, signinURL, username)
}

// adminKeyMessage is the msg of the JSON record that carries the key.
const adminKeyMessage = "created instance admin; its API key (api_key) is shown only this once"

// checkListenAddr refuses an address net.Listen could never bind.
func checkListenAddr(name, addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return usageError{fmt.Errorf("%s %q: want host:port, such as 127.0.0.1:8080 or :8080", name, addr)}
	}
	return nil
}

// checkBaseURL refuses anything but an absolute http or https URL with a
// host and no credentials, query or fragment.
func checkBaseURL(name, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return usageError{fmt.Errorf("%s %q: want an absolute http:// or https:// URL with no credentials, query or fragment, such as https://audit.example.com", name, s)}
	}
	return nil
}

// defaultPublicURL is http:// and the --listen address, with the port the
// listener got (for :0) and localhost for a wildcard host (such as :8080 or
// 0.0.0.0:8080), so that links and the first start's curl command reach it.
func defaultPublicURL(listen string, bound net.Addr) string {
	host, _, _ := net.SplitHostPort(listen)
	_, port, err := net.SplitHostPort(bound.String())
	if err != nil {
		return "http://" + listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// standbyJob checks the read standby every second, when there is one.
func standbyJob(store *storage.Store, readURL string) job {
	if readURL == "" {
		return job{}
	}
	return job{"read standby checks", store.WatchStandby}
}
