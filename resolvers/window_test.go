package resolvers_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/auditgraph/auditgraph/internal/platform/deployment"
)

// GraphQL's auditEvents(filter: {from, to}) and REST's startDate/endDate
// read the same window: multi-tenant reaches back at most 8 days (the 7-day
// cap plus the start day) before the end, other modes as far as asked.
func TestAuditEventsWindowMatchesREST(t *testing.T) {
	t.Parallel()
	const events = `{"action":"run:update","cli_version":"12 days ago","timestamp":"2026-10-02T09:00:00Z"}
{"action":"run:update","cli_version":"9 days ago","timestamp":"2026-10-05T09:00:00Z"}
{"action":"run:update","cli_version":"7 days ago","timestamp":"2026-10-07T09:00:00Z"}
{"action":"run:update","cli_version":"today","timestamp":"2026-10-14T09:00:00Z"}
`
	all := []string{"12 days ago", "9 days ago", "7 days ago", "today"}
	for _, tc := range []struct {
		mode                 deployment.Mode
		twelveDays, fromOnly []string
	}{
		{deployment.SelfManaged, all, all},
		{deployment.Dedicated, all, all},
		// Without to, the end is a day after now (2026-10-15T15:30), so the
		// window starts 2026-10-07T15:30.
		{deployment.MultiTenant, []string{"7 days ago", "today"}, []string{"today"}},
	} {
		t.Run(string(tc.mode), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tc.mode)
			e.addUsers("acme", "admin", "alice")
			e.ingest("alice", "acme", events)
			for _, w := range []struct {
				from, to string
				want     []string
			}{
				{"2026-10-02T00:00:00Z", "2026-10-15T00:00:00Z", tc.twelveDays},
				{"2026-10-05T00:00:00Z", "2026-10-08T00:00:00Z", []string{"9 days ago", "7 days ago"}},
			} {
				t.Run(w.from[:10]+".."+w.to[:10], func(t *testing.T) {
					if got := graphQLWindow(e, w.from, w.to); !slices.Equal(got, w.want) {
						t.Errorf("auditEvents(from: %s, to: %s) = %v, want %v", w.from, w.to, got, w.want)
					}
					if got := restWindow(e, w.from[:10], w.to[:10]); !slices.Equal(got, w.want) {
						t.Errorf("GET /admin/audit_logs?startDate=%s&endDate=%s = %v, want %v", w.from[:10], w.to[:10], got, w.want)
					}
				})
			}
			if got := graphQLWindow(e, "2026-10-02T00:00:00Z", ""); !slices.Equal(got, tc.fromOnly) {
				t.Errorf("auditEvents(from: 2026-10-02T00:00:00Z) = %v, want %v", got, tc.fromOnly)
			}
		})
	}
}

// graphQLWindow returns the cli_version of the events auditEvents answers
// for the range, oldest first.
func graphQLWindow(e *env, from, to string) []string {
	e.t.Helper()
	filter := fmt.Sprintf(`from: %q`, from)
	if to != "" {
		filter += fmt.Sprintf(`, to: %q`, to)
	}
	var d struct {
		Organization struct {
			AuditEvents struct {
				Nodes []struct{ CliVersion *string }
			}
		}
	}
	e.mustQuery("alice", `{ organization(name: "acme") { auditEvents(first: 100, order: OLDEST_FIRST, filter: {`+filter+`}) { nodes { cliVersion } } } }`, nil, &d)
	var got []string
	for _, n := range d.Organization.AuditEvents.Nodes {
		if n.CliVersion != nil {
			got = append(got, *n.CliVersion)
		}
	}
	return got
}

// restWindow does the same through GET /admin/audit_logs.
func restWindow(e *env, startDate, endDate string) []string {
	e.t.Helper()
	code, b := e.do(http.MethodGet, "/admin/audit_logs?org=acme&startDate="+startDate+"&endDate="+endDate, "alice", nil)
	var page struct {
		AuditLogs []struct {
			CLIVersion string `json:"cli_version"`
		} `json:"audit_logs"`
	}
	if err := json.Unmarshal(b, &page); code != http.StatusOK || err != nil {
		e.t.Fatalf("GET /admin/audit_logs = %d %s (%v)", code, b, err)
	}
	var got []string
	for _, ev := range page.AuditLogs {
		if ev.CLIVersion != "" {
			got = append(got, ev.CLIVersion)
		}
	}
	return got
}
