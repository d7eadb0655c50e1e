package main

import (
	"context"
	"errors"
	"log/slog"
	"os"

	"github.com/auditgraph/auditgraph/metrics"
	"github.com/auditgraph/auditgraph/notify/outbox"
	"github.com/auditgraph/auditgraph/secretbox"
	"github.com/auditgraph/auditgraph/storage"
)

// loadSecrets returns the instance's secret box from AUDITGRAPH_SECRET_KEY,
// or nil when no key is set (nothing can be delivered then).
func loadSecrets() (*secretbox.Box, error) {
	box, err := secretbox.Load(os.Getenv("AUDITGRAPH_SECRET_KEY"), "")
	if errors.Is(err, secretbox.ErrNoKey) {
		return nil, nil
	}
	return box, err
}

// startDelivery runs the alert outbox's delivery worker until the returned
// stop is called, which waits for the attempt in progress to finish. With
// no secret box it runs nothing and says why.
func startDelivery(ctx context.Context, cfg outbox.Config, store *storage.Store, secrets *secretbox.Box, reg *metrics.Metrics, log *slog.Logger) (stop func(), err error) {
	if secrets == nil {
		log.Warn("alert delivery is off: no secret key to open the integrations with", "err", secretbox.ErrNoKey)
		return func() {}, nil
	}
	cfg.Store, cfg.Secrets, cfg.Metrics, cfg.Log = store, secrets, reg, log
	w, err := outbox.New(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	return func() { cancel(); <-done }, nil
}
