package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/auditgraph/auditgraph/internal/alerting/connect"
	"github.com/auditgraph/auditgraph/internal/alerting/secretbox"
	"github.com/auditgraph/auditgraph/storage"
)

// loadSecrets returns the instance key's Box from env (AUDITGRAPH_SECRET_KEY)
// or the file at path, nil when neither is given, after connect.CheckKey has
// decided that the server may start with it.
func loadSecrets(ctx context.Context, store *storage.Store, log *slog.Logger, env, path string) (*secretbox.Box, error) {
	box, err := secretbox.Load(env, path)
	if errors.Is(err, secretbox.ErrNoKey) {
		box, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("instance key: %w", err)
	}
	if err := connect.CheckKey(ctx, store, box); err != nil {
		return nil, fmt.Errorf("instance key: %w", err)
	}
	if box == nil {
		log.Warn("no instance key (AUDITGRAPH_SECRET_KEY or --secret-key-file): Slack and webhook integrations cannot be set up")
	}
	return box, nil
}
