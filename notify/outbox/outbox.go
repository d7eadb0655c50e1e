// Package outbox delivers the alerts that storage writes to the durable
// outbox (table alert_outbox) in the transaction that stores their events.
//
// Any number of server processes run a Worker on the same database. A
// worker claims due rows with FOR UPDATE SKIP LOCKED and holds each for a
// lease, so no two workers send the same alert while the lease lasts; it
// makes one attempt per claim through the integration's notifier and
// records the outcome, scheduling the next attempt with notify.Backoff. A
// worker that dies between claiming and recording leaves the row to be
// claimed again once its lease ends: delivery is at least once, and every
// alert carries an idempotency key so receivers can drop the rare repeat.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/lib/pq"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/alerting"
	"github.com/auditgraph/auditgraph/internal/alerting/secretbox"
	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/platform/fault"
	"github.com/auditgraph/auditgraph/internal/platform/metrics"
	"github.com/auditgraph/auditgraph/notify"
	"github.com/auditgraph/auditgraph/notify/integration"
	"github.com/auditgraph/auditgraph/storage"
)

// DefaultBackoff spaces the attempts of one alert: 1 s doubling to 5
// minutes, for a day. A receiver's Retry-After wins, however long.
var DefaultBackoff = notify.Backoff{
	Initial:    time.Second,
	Max:        5 * time.Minute,
	Multiplier: 2,
	Jitter:     0.2,
	MaxElapsed: 24 * time.Hour,
}

// Config is what a Worker needs; zero values take the defaults named.
type Config struct {
	Store   *storage.Store
	Secrets *secretbox.Box // opens the integrations' URLs and signing secrets
	// DatabaseURL, when set, is LISTENed on for new alerts, so they leave
	// within a moment rather than at the next poll.
	DatabaseURL string
	// PublicURL is where users reach the server, for the alerts' links to
	// their events; empty leaves the links out.
	PublicURL string
	Backoff   notify.Backoff // DefaultBackoff
	Lease     time.Duration  // 1 minute: longer than any one attempt takes
	Poll      time.Duration  // 2 seconds
	Batch     int            // 20 alerts per claim
	Client    *http.Client   // nil: each plugin's default client
	// Keep is how long finished alerts stay as delivery history: 30 days.
	Keep    time.Duration
	Metrics *metrics.Metrics
	Log     *slog.Logger
}

// Worker delivers alerts from the outbox.
type Worker struct {
	cfg         Config
	lastCounted time.Time
	lastPruned  time.Time
}

// New returns a Worker for cfg, with its defaults filled in.
func New(cfg Config) (*Worker, error) {
	if cfg.Backoff == (notify.Backoff{}) {
		cfg.Backoff = DefaultBackoff
	}
	if err := cfg.Backoff.Validate(); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	if cfg.Lease == 0 {
		cfg.Lease = time.Minute
	}
	if cfg.Poll == 0 {
		cfg.Poll = 2 * time.Second
	}
	if cfg.Batch == 0 {
		cfg.Batch = 20
	}
	if cfg.Keep == 0 {
		cfg.Keep = 30 * 24 * time.Hour
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Store == nil || cfg.Secrets == nil {
		return nil, errors.New("outbox: a store and the secret box are required")
	}
	return &Worker{cfg: cfg}, nil
}

// Run delivers alerts until ctx is done, then finishes the attempt in
// progress (the claimed rest return to the outbox when their lease ends)
// and returns nil: failed deliveries are logged and retried, never returned.
func (w *Worker) Run(ctx context.Context) error {
	wake := make(chan struct{}, 1)
	if w.cfg.DatabaseURL != "" {
		l := pq.NewListener(w.cfg.DatabaseURL, time.Second, time.Minute, func(ev pq.ListenerEventType, err error) {
			if err != nil {
				w.cfg.Log.Warn("alert outbox listener", "err", err)
			}
		})
		defer l.Close()
		if err := l.Listen(storage.OutboxChannel); err != nil {
			w.cfg.Log.Warn("alert outbox: LISTEN failed; polling only", "err", err)
		}
		go func() {
			for range l.Notify {
				select {
				case wake <- struct{}{}:
				default:
				}
			}
		}()
	}
	tick := time.NewTicker(w.cfg.Poll)
	defer tick.Stop()
	for {
		for ctx.Err() == nil && w.RunOnce(ctx) == w.cfg.Batch {
			// A full batch: more may be due at once.
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-wake:
		}
	}
}

// RunOnce claims one batch of due alerts and attempts each, and says how
// many it claimed.
func (w *Worker) RunOnce(ctx context.Context) int {
	w.countPending(ctx)
	w.prune(ctx)
	claims, err := w.cfg.Store.ClaimAlerts(ctx, w.cfg.Lease, w.cfg.Batch)
	if err != nil {
		if ctx.Err() == nil {
			w.cfg.Log.Error("alert outbox: claim", "err", err)
		}
		return 0
	}
	for i, c := range claims {
		if ctx.Err() != nil {
			// Shutting down: the rest wait out their lease.
			return i
		}
		w.deliver(context.WithoutCancel(ctx), c)
	}
	return len(claims)
}

// countPending refreshes the pending gauge every 10 seconds at most.
func (w *Worker) countPending(ctx context.Context) {
	if w.cfg.Metrics == nil || time.Since(w.lastCounted) < 10*time.Second {
		return
	}
	w.lastCounted = time.Now()
	if n, err := w.cfg.Store.PendingAlerts(ctx); err == nil {
		w.cfg.Metrics.OutboxPending(n)
	}
}

// prune drops finished alerts older than Keep, once an hour at most.
func (w *Worker) prune(ctx context.Context) {
	if time.Since(w.lastPruned) < time.Hour {
		return
	}
	w.lastPruned = time.Now()
	if n, err := w.cfg.Store.PruneOutbox(ctx, time.Now().Add(-w.cfg.Keep)); err != nil {
		w.cfg.Log.Error("alert outbox: prune", "err", err)
	} else if n > 0 {
		w.cfg.Log.Info("alert outbox: pruned finished alerts", "count", n, "older_than", w.cfg.Keep.String())
	}
}

// deliver makes one attempt at a claimed alert and records the outcome.
// The error texts it stores and logs come from the notifiers, which never
// include a URL's path or a secret.
func (w *Worker) deliver(ctx context.Context, c storage.Claim) {
	log := w.cfg.Log.With("alert", c.ID, "integration", c.IntegrationID, "attempt", c.Attempts)
	in, err := w.cfg.Store.Integration(ctx, c.IntegrationID)
	if err != nil {
		log.Error("alert outbox: integration", "err", err)
		return // the lease runs out and the alert is tried again
	}
	switch in.Status {
	case entity.IntegrationRevoked, entity.IntegrationDisconnected:
		w.record(ctx, log, in.Kind, metrics.DeliveryDropped,
			w.cfg.Store.AlertFailed(ctx, c, entity.AlertDropped, "integration is "+in.Status))
		return
	}
	n, alert, err := w.prepare(ctx, c, in)
	var bad badAlert
	switch {
	case errors.As(err, &bad):
		log.Error("alert outbox: cannot send", "err", err)
		w.record(ctx, log, in.Kind, metrics.DeliveryFailed, w.cfg.Store.AlertFailed(ctx, c, entity.AlertFailed, err.Error()))
		if bad.integration {
			w.setStatus(ctx, log, in, entity.IntegrationFailing, err.Error())
		}
		return
	case err != nil:
		log.Error("alert outbox: reading the alert", "err", err)
		return // the lease runs out and the alert is tried again
	}
	retry, err := n.Notify(ctx, alert)
	switch {
	case err == nil:
		w.record(ctx, log, in.Kind, metrics.DeliveryDelivered, w.cfg.Store.AlertDelivered(ctx, c))
		if in.Status == entity.IntegrationFailing {
			w.setStatus(ctx, log, in, entity.IntegrationOK, "")
		}
	case errors.Is(err, notify.ErrRevoked):
		log.Warn("alert outbox: integration revoked by the receiver; nothing more is sent to it", "err", err)
		w.record(ctx, log, in.Kind, metrics.DeliveryRevoked, w.cfg.Store.AlertFailed(ctx, c, entity.AlertFailed, err.Error()))
		w.setStatus(ctx, log, in, entity.IntegrationRevoked, err.Error())
		if _, err := w.cfg.Store.DropIntegrationAlerts(ctx, in.ID, "integration is revoked"); err != nil {
			log.Error("alert outbox: drop alerts of revoked integration", "err", err)
		}
	case retry:
		wait := w.cfg.Backoff.Wait(c.Attempts, err, rand.Float64())
		if !w.cfg.Backoff.Exhausted(c.Attempts, time.Since(c.CreatedAt), wait) {
			log.Warn("alert outbox: attempt failed", "retry_in", wait.String(), "err", err)
			w.record(ctx, log, in.Kind, metrics.DeliveryRetry, w.cfg.Store.RetryAlert(ctx, c, wait, err.Error()))
			return
		}
		log.Error("alert outbox: giving up: attempts exhausted", "err", err)
		w.record(ctx, log, in.Kind, metrics.DeliveryFailed, w.cfg.Store.AlertFailed(ctx, c, entity.AlertFailed, err.Error()))
		w.setStatus(ctx, log, in, entity.IntegrationFailing, err.Error())
	default:
		log.Error("alert outbox: giving up: the receiver refused the alert", "err", err)
		w.record(ctx, log, in.Kind, metrics.DeliveryFailed, w.cfg.Store.AlertFailed(ctx, c, entity.AlertFailed, err.Error()))
		w.setStatus(ctx, log, in, entity.IntegrationFailing, err.Error())
	}
}

// badAlert is an alert that can never be sent: its integration's secrets
// do not open or its configuration is invalid (integration is true), or
// its event is gone (retention dropped it).
type badAlert struct {
	error
	integration bool
}

func (b badAlert) Unwrap() error { return b.error }

// prepare builds the integration's notifier and the alert. An error that
// retrying cannot fix is a badAlert; others (the database failing) are not.
func (w *Worker) prepare(ctx context.Context, c storage.Claim, in entity.Integration) (notify.Notifier, notify.Alert, error) {
	var a notify.Alert
	cfg, err := integration.Open(w.cfg.Secrets, in)
	if err != nil {
		return nil, a, badAlert{err, true}
	}
	n, err := integration.New(cfg, w.cfg.Client)
	if err != nil {
		return nil, a, badAlert{err, true}
	}
	org, err := w.cfg.Store.Organization(ctx, c.OrgID)
	if err != nil {
		return nil, a, err
	}
	// A test alert has no event: it shows when it was asked for.
	e := audit.Event{Timestamp: c.CreatedAt.UTC()}
	if c.EventSeq != nil {
		es, err := w.cfg.Store.EventsBySeq(ctx, c.OrgID, *c.EventSeq, *c.EventSeq)
		if err != nil {
			return nil, a, err
		}
		if len(es) != 1 {
			return nil, a, badAlert{fmt.Errorf("outbox: event %d of organization %d is gone", *c.EventSeq, c.OrgID), false}
		}
		e = es[0].Event
	}
	a = notify.Alert{Event: e, Organization: org.Name, Rule: c.RuleName, IdempotencyKey: c.IdempotencyKey}
	if c.EventSeq != nil {
		a.EventURL = alerting.EventURL(w.cfg.PublicURL, org.Name, e.Timestamp)
	}
	return n, a, nil
}

// record counts an attempt's result once its outcome is stored. A claim
// lost to another worker (its lease ran out first) is not counted: that
// worker's attempt is.
func (w *Worker) record(ctx context.Context, log *slog.Logger, plugin, result string, err error) {
	if err != nil {
		if !errors.Is(err, fault.ErrNotFound) {
			log.Error("alert outbox: record outcome", "result", result, "err", err)
		}
		return
	}
	if w.cfg.Metrics != nil {
		w.cfg.Metrics.Delivery(plugin, result)
	}
}

func (w *Worker) setStatus(ctx context.Context, log *slog.Logger, in entity.Integration, status, reason string) {
	if in.Status == status && in.StatusReason == reason {
		return
	}
	err := w.cfg.Store.InTx(ctx, func(tx *storage.Tx) error { return tx.SetIntegrationStatus(ctx, in.ID, status, reason) })
	if err != nil && !errors.Is(err, fault.ErrNotFound) {
		log.Error("alert outbox: set integration status", "status", status, "err", err)
	}
}
