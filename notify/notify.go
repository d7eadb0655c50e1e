// Package notify is how alerts leave auditgraph: the Notifier interface each
// plugin implements (notify/slack, notify/webhook), the one retry stage that
// retries them, the one status-code classification they share, and the Secret
// type that keeps webhook URLs and signing secrets out of errors and logs.
// notify/integration builds the notifiers from the stored configuration.
//
// Plugins make one attempt per call and say whether another could help;
// only Retrier.Deliver waits and tries again.
package notify

import (
	"context"

	"github.com/auditgraph/auditgraph/audit"
)

// Alert is one audit event that matched an alert rule.
type Alert struct {
	Event        audit.Event
	Organization string // the organization's name
	Rule         string // the rule's name
	// IdempotencyKey is the same for every delivery of this alert, so a
	// receiver can drop the duplicates at-least-once delivery may cause.
	IdempotencyKey string
	// EventURL links to the event in auditgraph; empty leaves the link out.
	EventURL string
}

// Notifier sends alerts to one integration.
type Notifier interface {
	// Notify makes one attempt to deliver the alerts. When it fails, retry
	// says whether trying again later can help.
	Notify(ctx context.Context, alerts ...Alert) (retry bool, err error)
}
