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

func serve(ctx context.Context, args []string, stderr io.Writer) (err error) {
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
		gqlMaxBody    = fs.Int64("graphql-max-body", server.DefaultGraphQLMaxBody, "largest POST /graphql body in bytes; a larger one gets 413")
	)
	f.register(fs)
	f.registerServe(fs)
	jobs.register(fs)
	f.retention = &jobs.keep // the retention floor, when serve can set it
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
	log, err := newLogger(stderr, f.logLevel, f.logFormat)
	if err != nil {
		return err
	}
	if f.logFormat == "json" {
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
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	defer ln.Close()
	var mln net.Listener
	if *metricsListen != "" {
		if mln, err = net.Listen("tcp", *metricsListen); err != nil {
			return fmt.Errorf("--metrics-listen: %w", err)
		}
		defer mln.Close()
	}
	if *publicURL == "" {
		*publicURL = defaultPublicURL(*listen, ln.Addr())
	}

	external := f.databaseURL != ""
	store, closeDB, err := openServeDatabase(ctx, &f, log)
	if err != nil {
		return err
	}
	defer closeDB()

	secrets, err := loadSecrets(ctx, store, log, os.Getenv("AUDITGRAPH_SECRET_KEY"), *secretKeyFile)
	if err != nil {
		return err
	}

	ids := identity.New(store, m, log)
	key, created, err := ids.Bootstrap(ctx, first)
	if err != nil {
		return fmt.Errorf("first-start setup: %w", err)
	}
	if created {
		log.Info("created instance admin", "username", *adminUsername)
	}
	if key != "" {
		printAdminKey(stderr, f.logFormat, *adminUsername, key, *publicURL)
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

	reg := metrics.New(store.DB().DB)
	reg.WatchActivity(tracker.Pending, time.Now)
	// With a bucket, every sync signs the checkpoint it uploads; the
	// periodic job would sign ranges the sync then could not.
	if jobs.bucket != "" {
		*checkpoints = 0
	}
	signingKey, signer, checkpointsDone, err := startCheckpoints(ctx, &kf, &f, external, store, reg, *checkpoints, log)
	if err != nil {
		return err
	}
	defer checkpointsDone()
	stopJobs, err := jobs.start(ctx, store, signer, reg, log)
	if err != nil {
		return err
	}
	defer stopJobs()
	stopDelivery, err := startDelivery(ctx, outbox.Config{DatabaseURL: f.databaseURL, PublicURL: *publicURL}, store, secrets, reg, log)
	if err != nil {
		return err
	}
	defer stopDelivery()
	srv := &http.Server{
		Handler: server.New(server.Config{Store: store, Identity: ids, Mode: m, Log: log, Version: buildVersion(),
			Tracker: tracker, ActivityCutoff: cutoffDay, Live: hub, Metrics: reg, MetricsElsewhere: *metricsListen != "",
			Secrets: secrets, PublicURL: *publicURL, SlackAPIURL: *slackAPIURL, SlackAuthorizeURL: *slackAuthURL, GraphQLMaxBody: *gqlMaxBody,
			Verify: &verify.Service{Store: store, Keys: []ed25519.PublicKey{signingKey.Public()}, Metrics: reg}}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	errc := make(chan error, 2)
	if mln != nil {
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
// It is written straight to stderr, never through the logger, so that no
// --log-level hides it; with --log-format json it is one JSON record, which
// keeps the stream parseable.
func printAdminKey(w io.Writer, logFormat, username, key, publicURL string) {
	graphqlURL := strings.TrimSuffix(publicURL, "/") + "/graphql"
	if logFormat == "json" {
		try := fmt.Sprintf(`curl -u %s:%s -H 'Content-Type: application/json' -d '{"query":"{ viewer { username } }"}' %s`, username, key, graphqlURL)
		slog.New(jsonHandler(w, slog.LevelInfo)).Info(adminKeyMessage, "username", username, "api_key", key, "try", try)
		return
	}
	fmt.Fprintf(w, `
  Created instance admin %q. Its API key, shown only this once:

      %s

  Try it:
      curl -u %s:%s -H 'Content-Type: application/json' \
        -d '{"query":"{ viewer { username } }"}' %s

`, username, key, username, key, graphqlURL)
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
