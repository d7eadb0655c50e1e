// Package webhook delivers alerts as a signed JSON POST to any HTTP receiver.
//
// The body is {"alerts": [{"idempotency_key", "organization", "rule",
// "event_url", "event"}, ...]}, "event" being the audit event's JSON object as
// the REST API writes it. Each request carries
//
//	X-Auditgraph-Timestamp: <Unix seconds>
//	X-Auditgraph-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//	Idempotency-Key: <the alert's idempotency key>
//
// and a receiver checks the last two with Verify.
package webhook

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/notify"
)

// The request headers that are not Content-Type.
const (
	HeaderTimestamp      = "X-Auditgraph-Timestamp"
	HeaderSignature      = "X-Auditgraph-Signature"
	HeaderIdempotencyKey = "Idempotency-Key"
)

// Notifier posts alerts to one receiver.
type Notifier struct {
	url    notify.Secret
	secret notify.Secret
	client *http.Client
	now    func() time.Time
}

// Option changes a Notifier made by New.
type Option func(*Notifier)

// WithHTTPClient sends with c instead of notify.NewHTTPClient(10 * time.Second).
func WithHTTPClient(c *http.Client) Option { return func(n *Notifier) { n.client = c } }

// WithClock makes now the source of the timestamp header.
func WithClock(now func() time.Time) Option { return func(n *Notifier) { n.now = now } }

// New returns a Notifier that posts to url, signing with secret.
func New(url, secret notify.Secret, opts ...Option) *Notifier {
	n := &Notifier{url: url, secret: secret, client: notify.NewHTTPClient(10 * time.Second), now: time.Now}
	for _, o := range opts {
		o(n)
	}
	return n
}

type payload struct {
	Alerts []alert `json:"alerts"`
}

type alert struct {
	IdempotencyKey string      `json:"idempotency_key"`
	Organization   string      `json:"organization"`
	Rule           string      `json:"rule"`
	EventURL       string      `json:"event_url,omitempty"`
	Event          audit.Event `json:"event"`
}

// Notify makes one POST of alerts. Errors never contain the URL or the
// secret, and the receiver's answer body is not read into them either: a
// receiver may echo the request path, which can hold a token.
func (n *Notifier) Notify(ctx context.Context, alerts ...notify.Alert) (retry bool, err error) {
	if len(alerts) == 0 {
		return false, nil
	}
	if err := notify.ValidateURL(n.url); err != nil {
		return false, fmt.Errorf("webhook: %w", err)
	}
	p := payload{Alerts: make([]alert, len(alerts))}
	for i, a := range alerts {
		p.Alerts[i] = alert{a.IdempotencyKey, a.Organization, a.Rule, a.EventURL, a.Event}
	}
	body, err := json.Marshal(p)
	if err != nil {
		return false, fmt.Errorf("webhook: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.url.Reveal(), bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("webhook: %w", notify.RedactURLError(err))
	}
	ts := strconv.FormatInt(n.now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "auditgraph")
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(n.secret, ts, body))
	req.Header.Set(HeaderIdempotencyKey, idempotencyKey(alerts))
	resp, err := n.client.Do(req)
	if err != nil {
		return true, fmt.Errorf("webhook: %w", notify.RedactURLError(err))
	}
	defer resp.Body.Close()
	// Drain a little so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if retry, err := notify.CheckResponse(resp); err != nil {
		return retry, fmt.Errorf("webhook: %w", err)
	}
	return false, nil
}

// idempotencyKey is the alert's key, or for several alerts a hash of all
// their keys, which is as stable as they are.
func idempotencyKey(alerts []notify.Alert) string {
	if len(alerts) == 1 {
		return alerts[0].IdempotencyKey
	}
	keys := make([]string, len(alerts))
	for i, a := range alerts {
		keys[i] = a.IdempotencyKey
	}
	sum := sha256.Sum256([]byte(strings.Join(keys, "\n")))
	return hex.EncodeToString(sum[:])
}
