package entity

import "time"

// Rule is what an alert rule says. It has exactly alerting.Rule's fields,
// which says what each means and which values are valid, so the two convert
// into each other (alerting.Rule(r), entity.Rule(r)); it is a type of its
// own so that storage, which stores it, does not import the domain.
type Rule struct {
	ID               int64
	OrgID            int64
	Name             string
	Actions          []string
	Actor            string
	Target           string
	Codes            []int
	CodeMin, CodeMax int
	Threshold        int
	Window           time.Duration
	Integrations     []int64
	Enabled          bool
	Suggestion       string
}

// AlertRule is an alert rule as stored.
type AlertRule struct {
	Rule
	CreatedBy *int64
	CreatedAt time.Time
	UpdatedAt time.Time
}
