package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/auditgraph/auditgraph/activity"
	"github.com/auditgraph/auditgraph/connect"
	"github.com/auditgraph/auditgraph/deployment"
	"github.com/auditgraph/auditgraph/identity"
	"github.com/auditgraph/auditgraph/live"
	"github.com/auditgraph/auditgraph/metrics"
	"github.com/auditgraph/auditgraph/notify/outbox"
	"github.com/auditgraph/auditgraph/server"
	"github.com/auditgraph/auditgraph/verify"
)

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		f             dbFlags
		jobs          jobFlags
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
		kf            keyFlags
		ingestMemory  = byteSize(server.DefaultIngestMemory)
	)
	fs.Var(&ingestMemory, "ingest-memory", "decompressed size of the audit event batches read or stored at once; one batch may be up to 256MiB or this, whichever is less, and a batch that finds no room within 5s gets 503 with Retry-After")
	f.register(fs)
	jobs.register(fs)
	kf.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	m, err := deployment.Parse(*mode)
	if err != nil {
		return usageError{fmt.Errorf("--deployment: %w", err)}
	}
	if err := jobs.check(m); err != nil {
		return err
	}
	cutoffDay, err := time.Parse(time.DateOnly, *cutoff)
	if err != nil {
		return usageError{fmt.Errorf("--activity-cutoff %q: want a date such as 2025-05-08", *cutoff)}
	}
	if *publicURL == "" {
		*publicURL = "http://" + *listen
	}
	log, err := newLogger(stderr, f.logLevel, f.logFormat)
	if err != nil {
		return err
	}

	external := f.databaseURL != ""
	store, closeDB, err := openDatabase(ctx, &f, log)
	if err != nil {
		return err
	}
	defer closeDB()

	secrets, err := loadSecrets(ctx, store, log, os.Getenv("AUDITGRAPH_SECRET_KEY"), *secretKeyFile)
	if err != nil {
		return err
	}

	ids := identity.New(store, m, log)
	key, created, err := ids.Bootstrap(ctx, identity.Bootstrap{
		AdminUsername: *adminUsername,
		AdminAPIKey:   os.Getenv("AUDITGRAPH_ADMIN_API_KEY"),
		OrgName:       *orgName,
	})
	if err != nil {
		return fmt.Errorf("first-start setup: %w", err)
	}
	if created {
		log.Info("created instance admin", "username", *adminUsername)
	}
	if key != "" {
		printAdminKey(stderr, *adminUsername, key, *publicURL)
	}

	// Partitions are created months ahead; refreshing that daily keeps the
	// server's own events from ever waiting for one.
	go func() {
		tick := time.NewTicker(24 * time.Hour)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				if err := store.EnsurePartitions(ctx, now, now.AddDate(0, 3, 0)); err != nil {
					log.Error("creating audit partitions ahead", "err", err)
				}
			}
		}
	}()

	tracker := activity.NewTracker(store, log)
	trackerDone := make(chan struct{})
	trackCtx, stopTracking := context.WithCancel(context.WithoutCancel(ctx))
	go func() { tracker.Run(trackCtx, 10*time.Second); close(trackerDone) }()
	defer func() { stopTracking(); <-trackerDone }()

	// The hub ends with the serve context: on SIGTERM open subscriptions are
	// told to resubscribe, since http.Server.Shutdown leaves WebSockets open.
	hub := live.New(live.Config{URL: f.databaseURL, Store: store, Log: log})
	hubCtx, stopHub := context.WithCancel(ctx)
	hubDone := make(chan struct{})
	go func() {
		if err := hub.Run(hubCtx); err != nil {
			log.Error("live audit events stopped", "err", err)
		}
		close(hubDone)
	}()
	defer func() { stopHub(); <-hubDone }()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	reg := metrics.New(store.DB().DB)
	reg.WatchActivity(tracker.Pending, time.Now)
	// With a bucket, every sync signs the checkpoint it uploads; the
	// periodic job would sign ranges the sync then could not.
	if jobs.bucket != "" {
		*checkpoints = 0
	}
	signingKey, signer, checkpointsDone, err := startCheckpoints(ctx, &kf, &f, external, store, reg, *checkpoints, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer checkpointsDone()
	stopJobs, err := jobs.start(ctx, store, signer, reg, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopJobs()
	stopDelivery, err := startDelivery(ctx, outbox.Config{DatabaseURL: f.databaseURL, PublicURL: *publicURL}, store, secrets, reg, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopDelivery()
	srv := &http.Server{
		Handler: server.New(server.Config{Store: store, Identity: ids, Mode: m, Log: log, Version: buildVersion(),
			Tracker: tracker, ActivityCutoff: cutoffDay, Live: hub, Metrics: reg, MetricsElsewhere: *metricsListen != "",
			Secrets: secrets, PublicURL: *publicURL, SlackAPIURL: *slackAPIURL, SlackAuthorizeURL: *slackAuthURL,
			Verify: &verify.Service{Store: store, Keys: []ed25519.PublicKey{signingKey.Public()}, Metrics: reg}, IngestMemory: int64(ingestMemory)}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	errc := make(chan error, 2)
	if *metricsListen != "" {
		mln, err := net.Listen("tcp", *metricsListen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("--metrics-listen: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", reg.Handler())
		msrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		// Closed after the main listener has drained, so that a scrape
		// during the drain still answers.
		defer msrv.Close()
		log.Info("serving metrics", "addr", mln.Addr().String())
		go func() { errc <- msrv.Serve(mln) }()
	}
	log.Info("auditgraph listening", "addr", ln.Addr().String(), "deployment", m, "version", buildVersion())
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: draining in-flight requests", "timeout", *drainTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), *drainTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("shutdown did not finish cleanly", "err", err)
	}
	return nil
}

// printAdminKey shows a generated admin key once, with a command to try it.
// It is written straight to stderr, never through the logger.
func printAdminKey(w io.Writer, username, key, publicURL string) {
	fmt.Fprintf(w, `
  Created instance admin %q. Its API key, shown only this once:

      %s

  Try it:
      curl -u %s:%s -H 'Content-Type: application/json' \
        -d '{"query":"{ viewer { username } }"}' %s/graphql

`, username, key, username, key, strings.TrimSuffix(publicURL, "/"))
}
