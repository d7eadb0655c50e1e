package integration_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/auditgraph/auditgraph/internal/alerting/secretbox"
	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/notify"
	"github.com/auditgraph/auditgraph/notify/integration"
)

func TestSealOpen(t *testing.T) {
	box, err := secretbox.New(bytes.Repeat([]byte{9}, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	c := integration.Config{Name: "siem", Kind: integration.Webhook, URL: notify.NewSecret("https://siem.example/in?token=" + signingSecret),
		SigningSecret: notify.NewSecret(signingSecret)}
	url, secret := integration.Seal(box, c)
	if bytes.Contains(url, []byte(signingSecret)) || bytes.Contains(secret, []byte(signingSecret)) {
		t.Fatal("sealed values hold the secret in the clear")
	}
	got, err := integration.Open(box, entity.Integration{Name: "siem", Kind: "webhook", URLSealed: url, SigningSecretSealed: secret})
	if err != nil || got.URL.Reveal() != c.URL.Reveal() || got.SigningSecret.Reveal() != signingSecret || got.Kind != integration.Webhook {
		t.Fatalf("Open = %+v, %v", got, err)
	}
	// A URL sealed value is not accepted as a signing secret.
	_, err = integration.Open(box, entity.Integration{Name: "siem", Kind: "webhook", URLSealed: url, SigningSecretSealed: url})
	if !errors.Is(err, secretbox.ErrOpen) {
		t.Errorf("Open(swapped) err = %v, want ErrOpen", err)
	}
	url, secret = integration.Seal(box, integration.Config{Name: "ops", Kind: integration.Slack, URL: notify.NewSecret(slackURL)})
	if secret != nil {
		t.Errorf("Seal(slack) gave a signing secret")
	}
	if got, err := integration.Open(box, entity.Integration{Name: "ops", Kind: "slack", URLSealed: url}); err != nil || got.URL.Reveal() != slackURL {
		t.Errorf("Open(slack) = %+v, %v", got, err)
	}
}
