package main

import (
	"context"
	"log/slog"

	"github.com/auditgraph/auditgraph/metrics"
	"github.com/auditgraph/auditgraph/notify/outbox"
	"github.com/auditgraph/auditgraph/secretbox"
	"github.com/auditgraph/auditgraph/storage"
)

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
