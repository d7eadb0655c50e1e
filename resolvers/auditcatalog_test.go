package resolvers_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestAuditActions checks the catalog query: the 29 documented actions,
// sorted, with their kind and the reference's definition, for any caller.
func TestAuditActions(t *testing.T) {
	t.Parallel()
	e := auditEnv(t)
	e.addUsers("acme", "member", "bob")
	for _, user := range []string{"alice", "bob"} {
		var d struct {
			AuditActions []struct{ Name, Kind, Description string }
		}
		e.mustQuery(user, `{ auditActions { name kind description } }`, nil, &d)
		if len(d.AuditActions) != 29 {
			t.Fatalf("%s: auditActions has %d actions, want 29", user, len(d.AuditActions))
		}
		names := make([]string, len(d.AuditActions))
		for i, a := range d.AuditActions {
			names[i] = a.Name
			if !strings.HasPrefix(a.Name, a.Kind+":") || a.Description == "" {
				t.Errorf("%s: %+v, want its kind and description", user, a)
			}
		}
		if !slices.IsSorted(names) || names[0] != "artifact:create" || names[28] != "user:update" {
			t.Errorf("%s: auditActions = %v, want the catalog sorted", user, names)
		}
		if a := d.AuditActions[slices.Index(names, "user:login")]; a.Kind != "user" || a.Description != "User logs in." {
			t.Errorf("user:login = %+v", a)
		}
	}
}

// TestAuditEventsAfterSequence checks filter.afterSequence: the events
// stored after a sequence, with no time window unless one is given, and
// refused when negative.
func TestAuditEventsAfterSequence(t *testing.T) {
	t.Parallel()
	e := auditEnv(t)
	var d struct {
		Organization struct {
			AuditEvents struct {
				Nodes []struct {
					Sequence   int
					CliVersion *string
				}
			}
		}
	}
	e.mustQuery("alice", `{ organization(name: "acme") { auditEvents(first: 100, order: OLDEST_FIRST, filter: {numDays: 30, actions: ["user:update"]}) { nodes { sequence cliVersion } } } }`, nil, &d)
	var e6 int
	for _, n := range d.Organization.AuditEvents.Nodes {
		if n.CliVersion != nil && *n.CliVersion == "e6" {
			e6 = n.Sequence
		}
	}
	if e6 == 0 {
		t.Fatal("no e6 event")
	}
	for _, tc := range []struct {
		filter string
		want   []string // in sequence order
	}{
		// No window: x1 (weeks old) too, stored after e6.
		{fmt.Sprintf(`afterSequence: %d`, e6), []string{"t1", "t2", "t3", "e7", "x1"}},
		{fmt.Sprintf(`afterSequence: %d, actions: ["run:update"]`, e6), []string{"x1"}},
		// A window still applies when given.
		{fmt.Sprintf(`afterSequence: %d, numDays: 10`, e6), []string{"t1", "t2", "t3", "e7"}},
		{fmt.Sprintf(`afterSequence: %d`, e6+100), nil},
	} {
		var p struct {
			Organization struct {
				AuditEvents struct {
					Nodes []struct {
						Sequence   int
						CliVersion *string
					}
				}
			}
		}
		e.mustQuery("alice", `{ organization(name: "acme") { auditEvents(first: 100, filter: {`+tc.filter+`}) { nodes { sequence cliVersion } } } }`, nil, &p)
		nodes := p.Organization.AuditEvents.Nodes
		slices.SortFunc(nodes, func(a, b struct {
			Sequence   int
			CliVersion *string
		}) int {
			return a.Sequence - b.Sequence
		})
		var got []string
		for _, n := range nodes {
			if n.Sequence <= e6 {
				t.Errorf("filter {%s}: sequence %d returned", tc.filter, n.Sequence)
			}
			if n.CliVersion != nil {
				got = append(got, *n.CliVersion)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("auditEvents(filter: {%s}) = %v, want %v", tc.filter, got, tc.want)
		}
	}
	err := e.queryError("alice", `{ organization(name: "acme") { auditEvents(filter: {afterSequence: -1}) { nodes { action } } } }`, nil)
	if !strings.Contains(err.Message, "afterSequence") {
		t.Errorf("afterSequence: -1: error %q, want it to name afterSequence", err.Message)
	}
}
