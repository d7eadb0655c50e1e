package resolvers_test

import (
	"context"
	"testing"

	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/storage"
)

func TestOrganizationIntegrations(t *testing.T) {
	t.Parallel()
	e := newEnv(t, deployment.SelfManaged)
	e.addUsers("acme", "admin", "olga")
	e.addUsers("acme", "member", "mia")
	acme, err := e.store.OrganizationByName(e.ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, in := range []entity.Integration{
		{OrgID: acme.ID, Name: "#alerts", Kind: "slack", URLSealed: []byte{1}, SlackChannel: "#alerts", SlackTeam: "Acme"},
		{OrgID: acme.ID, Name: "siem", Kind: "webhook", URLSealed: []byte{2}, SigningSecretSealed: []byte{3}},
	} {
		if err := e.store.InTx(ctx, func(tx *storage.Tx) error { _, err := tx.CreateIntegration(ctx, in); return err }); err != nil {
			t.Fatal(err)
		}
	}
	const q = `query($after: String) { organization(name: "acme") { integrations(first: 1, after: $after) {
		totalCount pageInfo { hasNextPage endCursor } nodes: edges { node { name kind slackChannel slackTeam status statusReason } } } } }`
	type page struct {
		Organization struct {
			Integrations struct {
				TotalCount int
				PageInfo   struct {
					HasNextPage bool
					EndCursor   string
				}
				Nodes []struct {
					Node struct {
						Name, Kind, Status, StatusReason string
						SlackChannel, SlackTeam          *string
					}
				}
			}
		}
	}
	for _, user := range []string{"admin", "olga"} {
		t.Run(user, func(t *testing.T) {
			var p1, p2 page
			e.mustQuery(user, q, nil, &p1)
			c := p1.Organization.Integrations
			if c.TotalCount != 2 || !c.PageInfo.HasNextPage || len(c.Nodes) != 1 {
				t.Fatalf("%s: first page = %+v", user, c)
			}
			if n := c.Nodes[0].Node; n.Name != "#alerts" || n.Kind != "SLACK" || n.Status != "OK" || n.SlackChannel == nil || *n.SlackChannel != "#alerts" || *n.SlackTeam != "Acme" {
				t.Errorf("%s: slack node = %+v", user, n)
			}
			e.mustQuery(user, q, map[string]any{"after": c.PageInfo.EndCursor}, &p2)
			c = p2.Organization.Integrations
			if len(c.Nodes) != 1 || c.PageInfo.HasNextPage {
				t.Fatalf("%s: second page = %+v", user, c)
			}
			if n := c.Nodes[0].Node; n.Name != "siem" || n.Kind != "WEBHOOK" || n.SlackChannel != nil || n.SlackTeam != nil {
				t.Errorf("%s: webhook node = %+v", user, n)
			}
		})
	}
	if err := e.queryError("mia", q, nil); err.code() != "FORBIDDEN" {
		t.Errorf("member: error %+v, want FORBIDDEN", err)
	}
}
