package connect

import (
	"context"
	"errors"
	"fmt"

	"github.com/auditgraph/auditgraph/internal/alerting/secretbox"
	"github.com/auditgraph/auditgraph/internal/platform/fault"
	"github.com/auditgraph/auditgraph/storage"
)

// CheckKey decides whether the server may start with box (nil: no instance
// key given). Without a key it may only when the database holds nothing
// sealed (no Slack app registration, no integration): then the Slack and
// integration mutations answer ErrNoKey. With a key, that key must open the
// stored Slack client secret, so that a wrong key is found at start and not
// at the first install.
func CheckKey(ctx context.Context, store *storage.Store, box *secretbox.Box) error {
	if box == nil {
		held, err := store.HoldsSealedSecrets(ctx)
		if err != nil {
			return err
		}
		if held {
			return errors.New("the database holds sealed secrets (the Slack app registration or integrations) " +
				"but no instance key was given: set AUDITGRAPH_SECRET_KEY or --secret-key-file to the key they were sealed with")
		}
		return nil
	}
	app, err := store.SlackApp(ctx)
	if errors.Is(err, fault.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := box.Open(labelClientSecret, app.ClientSecretSealed); err != nil {
		return fmt.Errorf("the instance key does not open the stored Slack client secret (is it the key it was sealed with?): %w", err)
	}
	return nil
}
