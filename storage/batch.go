package storage

import (
	"context"
	"fmt"
	"github.com/auditgraph/auditgraph/internal/entity"
)

// Batch reads for the GraphQL dataloaders: one query for many keys.

// OrganizationsByID returns the organizations with the given ids.
func (q queries) OrganizationsByID(ctx context.Context, ids []int64) ([]entity.Organization, error) {
	var os []entity.Organization
	if err := q.sel(ctx, &os, `SELECT `+orgColumns+` FROM organizations WHERE id = ANY($1)`, int64Array(ids)); err != nil {
		return nil, fmt.Errorf("storage: get organizations: %w", err)
	}
	return os, nil
}

// MemberKey names a user in an organization.
type MemberKey struct {
	OrgID, UserID int64
}

// MemberTeam is one team of a member.
type MemberTeam struct {
	UserID int64 `db:"user_id"`
	entity.Team
}

// TeamsOfMembers returns the teams of many members, by team name.
func (q queries) TeamsOfMembers(ctx context.Context, keys []MemberKey) ([]MemberTeam, error) {
	orgs, users := make([]int64, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		orgs[i], users[i] = k.OrgID, k.UserID
	}
	var ts []MemberTeam
	err := q.sel(ctx, &ts, `SELECT tm.user_id, t.id, t.org_id, t.name, t.created_at
		FROM unnest($1::bigint[], $2::bigint[]) AS k(org_id, user_id)
		JOIN teams t ON t.org_id = k.org_id
		JOIN team_members tm ON tm.team_id = t.id AND tm.user_id = k.user_id
		ORDER BY t.name`, int64Array(orgs), int64Array(users))
	if err != nil {
		return nil, fmt.Errorf("storage: teams of members: %w", err)
	}
	return ts, nil
}

// MembershipsOfUsers returns the memberships of many users, by organization.
func (q queries) MembershipsOfUsers(ctx context.Context, userIDs []int64) ([]entity.Membership, error) {
	var ms []entity.Membership
	err := q.sel(ctx, &ms, `SELECT `+membershipColumns+` FROM memberships WHERE user_id = ANY($1) ORDER BY org_id`, int64Array(userIDs))
	if err != nil {
		return nil, fmt.Errorf("storage: memberships of users: %w", err)
	}
	return ms, nil
}
