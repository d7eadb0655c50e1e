package integration

import (
	"fmt"

	"github.com/auditgraph/auditgraph/internal/alerting/secretbox"
	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/notify"
)

// The labels values are sealed under, so that a sealed URL cannot be opened
// as a signing secret or the other way round.
const (
	labelURL           = "integration-url"
	labelSigningSecret = "integration-signing-secret"
)

// Seal returns c's URL and signing secret sealed for storage (the secret nil
// when c has none).
func Seal(box *secretbox.Box, c Config) (url, signingSecret []byte) {
	url = box.Seal(labelURL, []byte(c.URL.Reveal()))
	if !c.SigningSecret.IsZero() {
		signingSecret = box.Seal(labelSigningSecret, []byte(c.SigningSecret.Reveal()))
	}
	return url, signingSecret
}

// Open returns the configuration of a stored integration, its secrets
// opened. Its name is the stored name.
func Open(box *secretbox.Box, in entity.Integration) (Config, error) {
	c := Config{Name: in.Name, Kind: Kind(in.Kind)}
	url, err := box.Open(labelURL, in.URLSealed)
	if err != nil {
		return c, fmt.Errorf("integration %q: URL: %w", in.Name, err)
	}
	c.URL = notify.NewSecret(string(url))
	if in.SigningSecretSealed != nil {
		secret, err := box.Open(labelSigningSecret, in.SigningSecretSealed)
		if err != nil {
			return c, fmt.Errorf("integration %q: signing secret: %w", in.Name, err)
		}
		c.SigningSecret = notify.NewSecret(string(secret))
	}
	return c, nil
}
