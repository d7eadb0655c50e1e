package entity

import "time"

// Outbox statuses.
const (
	AlertPending   = "pending"
	AlertDelivered = "delivered"
	AlertFailed    = "failed"
	AlertDropped   = "dropped"
)

// OutboxAlert is one alert to one integration.
type OutboxAlert struct {
	ID             int64      `db:"id"`
	OrgID          int64      `db:"org_id"`
	IntegrationID  int64      `db:"integration_id"`
	RuleID         *int64     `db:"rule_id"`
	RuleName       string     `db:"rule_name"`
	EventSeq       *int64     `db:"event_seq"`
	IdempotencyKey string     `db:"idempotency_key"`
	Status         string     `db:"status"`
	Attempts       int        `db:"attempts"`
	NextAttemptAt  time.Time  `db:"next_attempt_at"`
	LastError      string     `db:"last_error"`
	LastAttemptAt  *time.Time `db:"last_attempt_at"`
	DeliveredAt    *time.Time `db:"delivered_at"`
	CreatedAt      time.Time  `db:"created_at"`
}

// DeliveryStats sums up the deliveries to one integration.
type DeliveryStats struct {
	IntegrationID int64      `db:"integration_id"`
	Delivered     int        `db:"delivered"`
	Pending       int        `db:"pending"`
	Failed        int        `db:"failed"`
	Dropped       int        `db:"dropped"`
	Attempts      int        `db:"attempts"`
	LastSuccessAt *time.Time `db:"last_success_at"`
	// LastError is the latest failed attempt's error (secrets are never
	// in it: notifiers redact them) and when it happened.
	LastError   string     `db:"last_error"`
	LastErrorAt *time.Time `db:"last_error_at"`
}

// Recovered reports whether an alert was delivered after the latest failed
// attempt: the integration works again and LastError is history.
func (d DeliveryStats) Recovered() bool {
	return d.LastErrorAt != nil && d.LastSuccessAt != nil && d.LastSuccessAt.After(*d.LastErrorAt)
}
