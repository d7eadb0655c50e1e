package connect

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/identity/access"
	"github.com/auditgraph/auditgraph/internal/platform/fault"
	"github.com/auditgraph/auditgraph/storage"
)

// labelClientSecret is what the Slack client secret is sealed for.
const labelClientSecret = "slack-client-secret"

// SlackApp describes the Slack app registration without its secret.
type SlackApp struct {
	Configured      bool
	ClientID        string
	ClientSecretSet bool
	UpdatedAt       time.Time
	// RedirectURL is the URL to enter in the Slack app's OAuth settings.
	RedirectURL string
}

func requireInstanceAdmin(actor entity.User) error {
	if !actor.InstanceAdmin {
		return access.Forbidden("%s is not an instance admin: the Slack app is part of the system settings", actor.Username)
	}
	return nil
}

// SlackApp returns the Slack app registration. Instance admins only.
func (s *Service) SlackApp(ctx context.Context, actor entity.User) (SlackApp, error) {
	if err := requireInstanceAdmin(actor); err != nil {
		return SlackApp{}, err
	}
	return s.slackApp(ctx)
}

func (s *Service) slackApp(ctx context.Context) (SlackApp, error) {
	out := SlackApp{RedirectURL: s.RedirectURL()}
	app, err := s.cfg.Store.SlackApp(ctx)
	if errors.Is(err, fault.ErrNotFound) {
		return out, nil
	}
	if err != nil {
		return out, err
	}
	out.Configured, out.ClientID, out.ClientSecretSet, out.UpdatedAt = true, app.ClientID, true, app.UpdatedAt
	return out, nil
}

// checkCredential refuses an empty, overlong or non-printable client ID or
// secret. The text never repeats the value.
func checkCredential(what, v string, maxLen int) error {
	if v == "" {
		return invalid("%s is empty", what)
	}
	if len(v) > maxLen {
		return invalid("%s is %d characters, at most %d", what, len(v), maxLen)
	}
	if strings.IndexFunc(v, func(r rune) bool { return r > unicode.MaxASCII || !unicode.IsPrint(r) || unicode.IsSpace(r) }) >= 0 {
		return invalid("%s holds spaces or characters other than printable ASCII", what)
	}
	return nil
}

// SetSlackApp stores the Slack app's client ID and client secret (sealed),
// replacing any earlier registration. Instance admins only.
func (s *Service) SetSlackApp(ctx context.Context, actor entity.User, clientID, clientSecret string) (SlackApp, error) {
	if err := requireInstanceAdmin(actor); err != nil {
		return SlackApp{}, err
	}
	box, err := s.box()
	if err != nil {
		return SlackApp{}, err
	}
	if err := checkCredential("clientId", clientID, 100); err != nil {
		return SlackApp{}, err
	}
	if err := checkCredential("clientSecret", clientSecret, 200); err != nil {
		return SlackApp{}, err
	}
	sealed := box.Seal(labelClientSecret, []byte(clientSecret))
	err = s.cfg.Store.InTx(ctx, func(tx *storage.Tx) error {
		if err := tx.SetSlackApp(ctx, clientID, sealed); err != nil {
			return err
		}
		return tx.RecordConfigChange(ctx, change(actor, nil, entity.ChangeSlackAppUpdate, "client ID "+clientID))
	})
	if err != nil {
		return SlackApp{}, err
	}
	return s.slackApp(ctx)
}

// ClearSlackApp removes the Slack app registration; installed integrations
// keep working, but no new install can start. Instance admins only.
func (s *Service) ClearSlackApp(ctx context.Context, actor entity.User) (SlackApp, error) {
	if err := requireInstanceAdmin(actor); err != nil {
		return SlackApp{}, err
	}
	err := s.cfg.Store.InTx(ctx, func(tx *storage.Tx) error {
		if err := tx.ClearSlackApp(ctx); err != nil {
			return err
		}
		return tx.RecordConfigChange(ctx, change(actor, nil, entity.ChangeSlackAppClear, ""))
	})
	// Clearing what is not there changes nothing and records nothing.
	if err != nil && !errors.Is(err, fault.ErrNotFound) {
		return SlackApp{}, err
	}
	return s.slackApp(ctx)
}

// clientCredentials returns the client ID and the opened client secret.
func (s *Service) clientCredentials(ctx context.Context) (string, string, error) {
	box, err := s.box()
	if err != nil {
		return "", "", err
	}
	app, err := s.cfg.Store.SlackApp(ctx)
	if errors.Is(err, fault.ErrNotFound) {
		return "", "", ErrNotConfigured
	}
	if err != nil {
		return "", "", err
	}
	secret, err := box.Open(labelClientSecret, app.ClientSecretSealed)
	if err != nil {
		return "", "", fmt.Errorf("connect: Slack client secret: %w", err)
	}
	return app.ClientID, string(secret), nil
}
