package resolvers

import (
	"context"

	"github.com/auditgraph/auditgraph/graph/model"
	"github.com/auditgraph/auditgraph/internal/alerting/connect"
	"github.com/auditgraph/auditgraph/internal/identity"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
)

func slackAppModel(app connect.SlackApp) *model.SlackApp {
	m := &model.SlackApp{Configured: app.Configured, ClientSecretSet: app.ClientSecretSet, RedirectURL: app.RedirectURL}
	if app.Configured {
		m.ClientID, m.UpdatedAt = &app.ClientID, &app.UpdatedAt
	}
	return m
}

// configChanges answers a page of an organization's (org nil: the
// instance's) configuration changes, newest first.
func (r *Resolver) configChanges(ctx context.Context, p *auth.Principal, org *identity.Organization, first *int, after *string) (*model.ConfigChangeConnection, error) {
	limit, err := pageSize(first)
	if err != nil {
		return nil, err
	}
	beforeID, err := parseCursor("config_change", after)
	if err != nil {
		return nil, err
	}
	rows, total, err := r.Connect.ConfigChanges(ctx, p.User, org, beforeID, limit+1)
	if err != nil {
		return nil, err
	}
	rows, more := page(rows, limit)
	conn := &model.ConfigChangeConnection{Edges: []model.ConfigChangeEdge{}, TotalCount: total}
	for _, c := range rows {
		conn.Edges = append(conn.Edges, model.ConfigChangeEdge{Cursor: cursor("config_change", c.ID), Node: &c})
	}
	conn.PageInfo = edgesPageInfo(conn.Edges, func(e model.ConfigChangeEdge) string { return e.Cursor }, more, beforeID != 0)
	return conn, nil
}
