// Package slack delivers alerts to a Slack incoming webhook as Block Kit
// messages, through github.com/slack-go/slack.
package slack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/auditgraph/auditgraph/notify"
)

// Notifier posts alerts to one incoming webhook.
type Notifier struct {
	url    notify.Secret
	client *http.Client
}

// Option changes a Notifier made by New.
type Option func(*Notifier)

// WithHTTPClient sends with c instead of notify.NewHTTPClient(10 * time.Second).
func WithHTTPClient(c *http.Client) Option { return func(n *Notifier) { n.client = c } }

// New returns a Notifier that posts to the incoming webhook URL (the
// https://hooks.slack.com/services/... URL an OAuth install returns).
func New(webhookURL notify.Secret, opts ...Option) *Notifier {
	n := &Notifier{url: webhookURL, client: notify.NewHTTPClient(10 * time.Second)}
	for _, o := range opts {
		o(n)
	}
	return n
}

// Notify posts one message holding the alerts. Slack answers 404 or 410 for
// a removed hook or archived channel and 403 for a revoked token: those are
// notify.ErrRevoked.
func (n *Notifier) Notify(ctx context.Context, alerts ...notify.Alert) (retry bool, err error) {
	if len(alerts) == 0 {
		return false, nil
	}
	if err := notify.ValidateURL(n.url); err != nil {
		return false, fmt.Errorf("slack: webhook %w", err)
	}
	rec := &recorder{next: n.client.Transport}
	if rec.next == nil {
		rec.next = http.DefaultTransport
	}
	client := *n.client
	client.Transport = rec
	err = slackapi.PostWebhookCustomHTTPContext(ctx, n.url.Reveal(), &client, message(alerts))
	retry, err = classify(err, rec.resp)
	if err != nil {
		return retry, fmt.Errorf("slack: %w", err)
	}
	return false, nil
}

// classify maps what slack-go's PostWebhook returned onto notify's shared
// classification. slack-go reports a 429 with a Retry-After in seconds as
// *RateLimitedError and other non-200 answers as StatusCodeError (so a 204
// is an error to it and a success here); when it cannot parse a 429's
// Retry-After (an HTTP date, garbage) it returns only the parse error, so the
// answer itself, recorded by the transport, is classified instead. Errors
// without an answer are net/http's *url.Error, whose URL holds the token.
func classify(err error, resp *http.Response) (retry bool, _ error) {
	if err == nil {
		return false, nil
	}
	if rl, ok := errors.AsType[*slackapi.RateLimitedError](err); ok {
		return notify.CheckStatus(http.StatusTooManyRequests, rl.RetryAfter)
	}
	if sc, ok := errors.AsType[slackapi.StatusCodeError](err); ok {
		return notify.CheckStatus(sc.Code, 0)
	}
	if resp != nil {
		return notify.CheckResponse(resp)
	}
	return true, notify.RedactURLError(err)
}

// recorder keeps the last answer that passed through it.
type recorder struct {
	next http.RoundTripper
	resp *http.Response
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if err == nil {
		r.resp = resp
	}
	return resp, err
}
