// Package connect connects organizations to the places their alerts go: the
// instance's Slack app registration, the Slack OAuth v2 install that yields an
// incoming webhook, signed generic webhooks, and disconnecting them. Every
// change is recorded in config_changes in the transaction that makes it.
package connect

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/auditgraph/auditgraph/internal/alerting/secretbox"
	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/platform/fault"
	"github.com/auditgraph/auditgraph/storage"
)

// DefaultAuthorizeURL is where Slack's OAuth v2 install starts.
const DefaultAuthorizeURL = "https://slack.com/oauth/v2/authorize"

// CallbackPath is the path of the redirect URL Slack sends the browser back to.
const CallbackPath = "/slack/oauth/callback"

// ErrNoKey means a secret would have to be sealed or opened but the server
// was started without the instance key.
var ErrNoKey = errors.New("the instance key is not set: restart the server with AUDITGRAPH_SECRET_KEY or " +
	"--secret-key-file (32 random bytes, e.g. `openssl rand -base64 32`) to store Slack and webhook secrets")

// ErrInvalid wraps errors about bad input; the text says what was wrong and
// never holds a secret.
var ErrInvalid = errors.New("invalid input")

// ErrNotConfigured means no Slack app is registered.
var ErrNotConfigured = errors.New("no Slack app is registered: an instance admin stores its client ID and " +
	"client secret first (setSlackApp)")

func invalid(format string, args ...any) error {
	return fault.New(ErrInvalid, format, args...)
}

// Config is what a Service needs.
type Config struct {
	Store *storage.Store
	// Secrets seals and opens the stored secrets; nil when the server was
	// started without the instance key.
	Secrets *secretbox.Box
	// PublicURL is the URL users reach the server at; the Slack redirect URL
	// is built from it.
	PublicURL string
	// SlackAPIURL is the base of Slack's Web API (slack.APIURL when empty),
	// ending in a slash.
	SlackAPIURL string
	// SlackAuthorizeURL is where the install sends the browser
	// (DefaultAuthorizeURL when empty).
	SlackAuthorizeURL string
	// HTTPClient calls Slack; nil means a client with a 15-second timeout.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	Log *slog.Logger
}

// Service connects and disconnects integrations.
type Service struct {
	cfg Config
}

// New returns a Service for cfg.
func New(cfg Config) *Service {
	if cfg.SlackAPIURL == "" {
		cfg.SlackAPIURL = slack.APIURL
	}
	if !strings.HasSuffix(cfg.SlackAPIURL, "/") {
		cfg.SlackAPIURL += "/"
	}
	if cfg.SlackAuthorizeURL == "" {
		cfg.SlackAuthorizeURL = DefaultAuthorizeURL
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg}
}

// RedirectURL is the URL to enter as the Slack app's Redirect URL.
func (s *Service) RedirectURL() string {
	return strings.TrimSuffix(s.cfg.PublicURL, "/") + CallbackPath
}

// box returns the instance key's Box or ErrNoKey.
func (s *Service) box() (*secretbox.Box, error) {
	if s.cfg.Secrets == nil {
		return nil, ErrNoKey
	}
	return s.cfg.Secrets, nil
}

// change returns the record of a change by actor in org (nil: instance-wide).
func change(actor entity.User, orgID *int64, action, target string) entity.ConfigChange {
	return entity.ConfigChange{OrgID: orgID, ActorUserID: &actor.ID, ActorUsername: actor.Username, Action: action, Target: target}
}
