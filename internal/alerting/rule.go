// Package alerting decides which audit events raise alerts: what an alert
// rule is and which rules are valid, whether an event matches one, when a
// threshold rule fires, the built-in suggestions, and what an alert carries
// (its idempotency key and the link to its event). It holds no SQL: package
// ledger calls it on every append, inside the transaction that stores the
// events.
package alerting

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/platform/fault"
)

// ErrInvalid wraps every reason a rule is refused; the text names the field.
var ErrInvalid = errors.New("invalid alert rule")

// Limits on a rule, so that one rule cannot make matching or its state
// unbounded.
const (
	MaxNameLength   = 100
	MaxCodes        = 50
	MaxThreshold    = 1000
	MaxWindow       = 24 * time.Hour
	MaxIntegrations = 20
)

// Rule is an organization's alert rule. Its conditions are all required to
// hold (an empty one holds for every event). entity.Rule, its stored form,
// has the same fields, so each converts to the other.
type Rule struct {
	ID    int64
	OrgID int64
	Name  string
	// Actions are catalog actions ("user:login") or prefixes ending in
	// ":*" ("user:*"); at least one.
	Actions []string
	// Actor, when set, is an email (compared ignoring case) or a user id
	// that the event's actor_email or actor_user_id must equal.
	Actor string
	// Target, when set, is an email (compared ignoring case) or an asset
	// that the event's user_email or user_asset must equal.
	Target string
	// Codes, when set, lists the response codes that match; CodeMin and
	// CodeMax, when not 0, bound them (inclusive). An event without a
	// response code fails every code condition.
	Codes            []int
	CodeMin, CodeMax int
	// Threshold, when above 1, makes the rule fire once when Threshold
	// matching events by one actor fall within Window.
	Threshold int
	Window    time.Duration
	// Integrations are where its alerts are delivered.
	Integrations []int64
	Enabled      bool
	// Suggestion names the built-in suggestion the rule was made from, if
	// any.
	Suggestion string
}

// Validate checks r's fields (not that its integrations exist, which is
// the store's to say). Errors wrap ErrInvalid and name the field.
func (r Rule) Validate() error {
	bad := func(format string, args ...any) error {
		return fault.New(ErrInvalid, format, args...)
	}
	switch {
	case strings.TrimSpace(r.Name) == "":
		return bad("name is empty")
	case len(r.Name) > MaxNameLength:
		return bad("name is longer than %d bytes", MaxNameLength)
	case strings.ContainsFunc(r.Name, isControl):
		return bad("name holds a control character")
	case len(r.Actions) == 0:
		return bad("actions: give at least one action or prefix such as \"user:*\"")
	case len(r.Actions) > len(audit.Actions()):
		// More than the catalog holds must repeat one.
		return bad("actions: at most %d", len(audit.Actions()))
	}
	for _, a := range r.Actions {
		if err := validAction(a); err != nil {
			return bad("actions: %v", err)
		}
	}
	for _, c := range r.Codes {
		if c < 100 || c > 599 {
			return bad("responseCodes: %d is not between 100 and 599", c)
		}
	}
	switch {
	case len(r.Codes) > MaxCodes:
		return bad("responseCodes: at most %d", MaxCodes)
	case r.CodeMin != 0 && (r.CodeMin < 100 || r.CodeMin > 599):
		return bad("responseCodeMin: %d is not between 100 and 599", r.CodeMin)
	case r.CodeMax != 0 && (r.CodeMax < 100 || r.CodeMax > 599):
		return bad("responseCodeMax: %d is not between 100 and 599", r.CodeMax)
	case r.CodeMin != 0 && r.CodeMax != 0 && r.CodeMin > r.CodeMax:
		return bad("responseCodeMin %d is above responseCodeMax %d", r.CodeMin, r.CodeMax)
	case r.Threshold < 0 || r.Threshold > MaxThreshold:
		return bad("threshold: %d is not between 0 and %d", r.Threshold, MaxThreshold)
	case r.Threshold > 1 && (r.Window <= 0 || r.Window > MaxWindow):
		return bad("window: a threshold needs a window between 1 second and %s, got %s", MaxWindow, r.Window)
	case r.Threshold <= 1 && r.Window != 0:
		return bad("window: only a threshold above 1 takes a window")
	case r.Window%time.Second != 0:
		return bad("window: %s is not whole seconds", r.Window)
	case len(r.Integrations) == 0:
		return bad("integrations: give at least one")
	case len(r.Integrations) > MaxIntegrations:
		return bad("integrations: at most %d", MaxIntegrations)
	case len(r.Actor) > 4096:
		return bad("actor is longer than 4096 bytes")
	case len(r.Target) > 4096:
		return bad("target is longer than 4096 bytes")
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// validAction accepts a catalog action or a prefix "kind:*" that at least
// one catalog action has.
func validAction(a string) error {
	if kind, ok := strings.CutSuffix(a, ":*"); ok {
		if kind == "" || !slices.ContainsFunc(audit.Actions(), func(c audit.Action) bool {
			return strings.HasPrefix(string(c), kind+":")
		}) {
			return fmt.Errorf("prefix %q matches no action of the catalog", a)
		}
		return nil
	}
	_, err := audit.ParseAction(a)
	return err
}

// Matches reports whether e meets every condition of r. Thresholds are not
// its concern: see Thresholds.
func (r *Rule) Matches(e audit.Event) bool {
	if !slices.ContainsFunc(r.Actions, func(a string) bool { return actionMatches(a, e.Action) }) {
		return false
	}
	if r.Actor != "" && !sameParty(r.Actor, e.ActorEmail, e.ActorUserID) {
		return false
	}
	if r.Target != "" && !sameParty(r.Target, e.UserEmail, e.UserAsset) {
		return false
	}
	hasCodeCondition := len(r.Codes) > 0 || r.CodeMin != 0 || r.CodeMax != 0
	if hasCodeCondition && e.ResponseCode == 0 {
		return false
	}
	switch {
	case len(r.Codes) > 0 && !slices.Contains(r.Codes, e.ResponseCode),
		r.CodeMin != 0 && e.ResponseCode < r.CodeMin,
		r.CodeMax != 0 && e.ResponseCode > r.CodeMax:
		return false
	}
	return true
}

func actionMatches(pattern string, a audit.Action) bool {
	if kind, ok := strings.CutSuffix(pattern, ":*"); ok {
		return strings.HasPrefix(string(a), kind+":")
	}
	return pattern == string(a)
}

// sameParty compares a filter with an event's email (ignoring case, as
// users' emails are unique regardless of case) and id.
func sameParty(filter, email, id string) bool {
	return strings.EqualFold(filter, email) && email != "" || filter == id
}

// Actor is who a threshold counts per: the actor's user id, else their
// email in lower case, else their IP address ("" when the event names no
// actor at all, which then counts as one anonymous actor).
func Actor(e audit.Event) string {
	switch {
	case e.ActorUserID != "":
		return "id:" + e.ActorUserID
	case e.ActorEmail != "":
		return "email:" + strings.ToLower(e.ActorEmail)
	case e.ActorIP != "":
		return "ip:" + e.ActorIP
	}
	return ""
}
