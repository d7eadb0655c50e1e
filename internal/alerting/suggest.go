package alerting

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/platform/fault"
)

// Suggestion is a built-in rule an admin can enable in one call.
type Suggestion struct {
	Key  string // the GraphQL enum value, such as API_KEY_CREATED
	Rule Rule   // without organization, integrations or id
}

// Suggestions are the built-in rules, in the order the API lists them.
var Suggestions = []Suggestion{
	{"API_KEY_CREATED", Rule{Name: "API key created", Actions: []string{string(audit.UserCreateAPIKey)}}},
	{"USER_DEACTIVATED", Rule{Name: "User deactivated", Actions: []string{string(audit.UserDeactivate)}}},
	{"TEAM_DELETED", Rule{Name: "Team deleted", Actions: []string{string(audit.TeamDelete)}}},
	{"FAILED_LOGINS", Rule{Name: "Repeated failed logins", Actions: []string{string(audit.UserLogin)},
		Codes: []int{401, 403}, Threshold: 5, Window: 10 * time.Minute}},
}

// Suggested returns the rule of the suggestion key for an organization's
// integrations, enabled.
func Suggested(key string, orgID int64, integrations []int64) (Rule, error) {
	for _, s := range Suggestions {
		if s.Key == key {
			r := s.Rule
			r.OrgID, r.Integrations, r.Enabled, r.Suggestion = orgID, integrations, true, key
			return r, nil
		}
	}
	return Rule{}, fault.New(ErrInvalid, "suggestion %q does not exist", key)
}

// TestRuleName is the rule name a test alert carries.
const TestRuleName = "Test alert"

// IdempotencyKey is the key of the alert rule raised for an organization's
// event seq: the same for every integration and every delivery attempt.
func IdempotencyKey(orgID, ruleID, seq int64) string {
	return "auditgraph-" + strconv.FormatInt(orgID, 10) + "-" + strconv.FormatInt(seq, 10) + "-" + strconv.FormatInt(ruleID, 10)
}

// EventURL links to an event in the REST audit-log API: the paginated mode
// narrowed to the event's organization and second, which a browser opens
// with the admin's credentials. The API cannot name one event, so the page
// shows the few events of that second; the wire-compatible API beats a
// GraphiQL link that needs the playground's login form first. Empty when
// publicURL or t is.
func EventURL(publicURL, org string, t time.Time) string {
	if publicURL == "" || t.IsZero() {
		return ""
	}
	t = t.UTC().Truncate(time.Second)
	q := url.Values{}
	q.Set("org", org)
	q.Set("startDate", t.Format("2006-01-02T15:04:05"))
	q.Set("endDate", t.Add(time.Second).Format("2006-01-02T15:04:05"))
	return strings.TrimSuffix(publicURL, "/") + "/admin/audit_logs?" + q.Encode()
}
