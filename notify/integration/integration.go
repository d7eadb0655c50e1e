// Package integration turns configured integrations into notifiers. It is
// notify's registry of plugins: an explicit switch over the kinds, which is
// why it lives apart from notify (each plugin imports notify).
package integration

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/auditgraph/auditgraph/notify"
	"github.com/auditgraph/auditgraph/notify/slack"
	"github.com/auditgraph/auditgraph/notify/webhook"
)

// Kind names a plugin.
type Kind string

// The plugins.
const (
	Slack   Kind = "slack"
	Webhook Kind = "webhook"
)

// Config is one integration as it is stored, with its secrets decrypted.
type Config struct {
	Name          string // unique among the integrations
	Kind          Kind
	URL           notify.Secret // the Slack incoming webhook or the receiver's URL
	SigningSecret notify.Secret // webhook only: the HMAC key of the signature
}

// Validate checks c on its own; errors name the integration but hold no
// secret.
func (c Config) Validate() error {
	if c.Name == "" {
		return fmt.Errorf("integration: name is empty (kind %q)", c.Kind)
	}
	if err := c.validate(); err != nil {
		return fmt.Errorf("integration %q: %w", c.Name, err)
	}
	return nil
}

func (c Config) validate() error {
	switch c.Kind {
	case Slack:
		if !c.SigningSecret.IsZero() {
			return errors.New("slack takes no signing secret")
		}
	case Webhook:
		if c.SigningSecret.IsZero() {
			return errors.New("webhook needs a signing secret")
		}
	default:
		return fmt.Errorf("unknown kind %q", c.Kind)
	}
	return notify.ValidateURL(c.URL)
}

// New returns the notifier for a valid c. client replaces each plugin's
// default HTTP client unless nil.
func New(c Config, client *http.Client) (notify.Notifier, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	switch c.Kind {
	case Slack:
		var opts []slack.Option
		if client != nil {
			opts = append(opts, slack.WithHTTPClient(client))
		}
		return slack.New(c.URL, opts...), nil
	case Webhook:
		var opts []webhook.Option
		if client != nil {
			opts = append(opts, webhook.WithHTTPClient(client))
		}
		return webhook.New(c.URL, c.SigningSecret, opts...), nil
	}
	panic("unreachable: Validate accepted kind " + string(c.Kind))
}

// Build returns a notifier per integration, by name, or the first
// configuration error.
func Build(cfgs []Config, client *http.Client) (map[string]notify.Notifier, error) {
	ns := make(map[string]notify.Notifier, len(cfgs))
	for _, c := range cfgs {
		if _, dup := ns[c.Name]; dup {
			return nil, fmt.Errorf("integration %q: duplicate name", c.Name)
		}
		n, err := New(c, client)
		if err != nil {
			return nil, err
		}
		ns[c.Name] = n
	}
	return ns, nil
}
