package connect

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/identity/access"
	"github.com/auditgraph/auditgraph/internal/platform/fault"
	"github.com/auditgraph/auditgraph/notify"
	"github.com/auditgraph/auditgraph/notify/integration"
	"github.com/auditgraph/auditgraph/storage"
)

// minSigningSecret is the shortest signing secret accepted from a caller,
// so that the HMAC key cannot be guessed.
const minSigningSecret = 16

// Webhook is a webhook integration just created. SigningSecret is set only
// when the server generated it: it is shown this once.
type Webhook struct {
	Integration   entity.Integration
	SigningSecret string
}

// CreateWebhook connects a generic signed webhook to the organization
// called orgName. An empty signingSecret makes the server generate one.
// The organization's admins and instance admins only.
func (s *Service) CreateWebhook(ctx context.Context, actor entity.User, orgName, name, url, signingSecret string) (Webhook, error) {
	var out Webhook
	org, err := access.AdminOrg(ctx, s.cfg.Store, actor, orgName)
	if err != nil {
		return out, err
	}
	box, err := s.box()
	if err != nil {
		return out, err
	}
	switch {
	case signingSecret == "":
		b := make([]byte, 32)
		rand.Read(b)
		signingSecret = hex.EncodeToString(b)
		out.SigningSecret = signingSecret
	case len(signingSecret) < minSigningSecret:
		return out, invalid("signingSecret is %d characters, at least %d", len(signingSecret), minSigningSecret)
	}
	cfg := integration.Config{Name: name, Kind: integration.Webhook, URL: notify.NewSecret(url), SigningSecret: notify.NewSecret(signingSecret)}
	if err := cfg.Validate(); err != nil {
		return out, fault.New(ErrInvalid, "%v", err)
	}
	sealedURL, sealedSecret := integration.Seal(box, cfg)
	err = s.cfg.Store.InTx(ctx, func(tx *storage.Tx) error {
		in, err := tx.CreateIntegration(ctx, entity.Integration{OrgID: org.ID, Name: name, Kind: string(integration.Webhook),
			URLSealed: sealedURL, SigningSecretSealed: sealedSecret, CreatedBy: &actor.ID})
		if err != nil {
			return err
		}
		out.Integration = in
		return tx.RecordConfigChange(ctx, change(actor, &org.ID, entity.ChangeIntegrationConnect, name))
	})
	if errors.Is(err, fault.ErrConflict) {
		return Webhook{}, fault.New(fault.ErrConflict, "organization %q has an integration called %q already", org.Name, name)
	}
	if errors.Is(err, fault.ErrInvalid) {
		return Webhook{}, invalid("name %q: 1 to 100 characters, no control characters", name)
	}
	return out, err
}

// Disconnect stops an integration for good: its status becomes
// disconnected; it stays listed so its history stays readable. The
// organization's admins and instance admins only.
func (s *Service) Disconnect(ctx context.Context, actor entity.User, id int64) (entity.Integration, error) {
	in, err := s.cfg.Store.Integration(ctx, id)
	if err := access.RequireOwnerAdmin(ctx, s.cfg.Store, actor, in.OrgID, err, fmt.Sprintf("integration %d", id)); err != nil {
		return in, err
	}
	org, err := s.cfg.Store.Organization(ctx, in.OrgID)
	if err != nil {
		return in, err
	}
	if in.Status == entity.IntegrationDisconnected {
		return in, invalid("integration %d (%q) is disconnected already", id, in.Name)
	}
	err = s.cfg.Store.InTx(ctx, func(tx *storage.Tx) error {
		if err := tx.SetIntegrationStatus(ctx, id, entity.IntegrationDisconnected, "disconnected by "+actor.Username); err != nil {
			return err
		}
		return tx.RecordConfigChange(ctx, change(actor, &org.ID, entity.ChangeIntegrationDisconnect, in.Name))
	})
	if err != nil {
		return in, err
	}
	return s.cfg.Store.Integration(ctx, id)
}
