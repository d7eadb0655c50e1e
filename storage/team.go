package storage

import (
	"context"
	"fmt"
	"github.com/auditgraph/auditgraph/internal/entity"
	"time"
)

const teamColumns = `id, org_id, name, created_at`

// CreateTeam inserts a team.
func (tx *Tx) CreateTeam(ctx context.Context, orgID int64, name string) (entity.Team, error) {
	var t entity.Team
	err := tx.get(ctx, &t, `INSERT INTO teams (org_id, name) VALUES ($1, $2) RETURNING `+teamColumns, orgID, name)
	if err != nil {
		return t, fmt.Errorf("storage: create team %q: %w", name, classify(err))
	}
	return t, nil
}

// Team returns the team with id.
func (q queries) Team(ctx context.Context, id int64) (entity.Team, error) {
	var t entity.Team
	err := q.get(ctx, &t, `SELECT `+teamColumns+` FROM teams WHERE id = $1`, id)
	return t, notFound(err, "storage: get team %d", id)
}

// TeamByName returns an organization's team called name.
func (q queries) TeamByName(ctx context.Context, orgID int64, name string) (entity.Team, error) {
	var t entity.Team
	err := q.get(ctx, &t, `SELECT `+teamColumns+` FROM teams WHERE org_id = $1 AND name = $2`, orgID, name)
	return t, notFound(err, "storage: get team %q", name)
}

// OrgTeams returns up to limit teams of an organization with id > after, by id.
func (q queries) OrgTeams(ctx context.Context, orgID, after int64, limit int) ([]entity.Team, error) {
	var ts []entity.Team
	err := q.sel(ctx, &ts, `SELECT `+teamColumns+` FROM teams WHERE org_id = $1 AND id > $2 ORDER BY id LIMIT $3`, orgID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: teams of organization %d: %w", orgID, err)
	}
	return ts, nil
}

// CountOrgTeams returns how many teams an organization has.
func (q queries) CountOrgTeams(ctx context.Context, orgID int64) (int, error) {
	var n int
	if err := q.get(ctx, &n, `SELECT count(*) FROM teams WHERE org_id = $1`, orgID); err != nil {
		return 0, fmt.Errorf("storage: count teams of organization %d: %w", orgID, err)
	}
	return n, nil
}

// UserTeams returns the teams a user belongs to in an organization, by name.
func (q queries) UserTeams(ctx context.Context, orgID, userID int64) ([]entity.Team, error) {
	var ts []entity.Team
	err := q.sel(ctx, &ts, `SELECT t.id, t.org_id, t.name, t.created_at FROM teams t
		JOIN team_members m ON m.team_id = t.id WHERE t.org_id = $1 AND m.user_id = $2 ORDER BY t.name`, orgID, userID)
	if err != nil {
		return nil, fmt.Errorf("storage: teams of user %d: %w", userID, err)
	}
	return ts, nil
}

// DeleteTeam removes a team, its memberships and its service accounts, and
// returns the ids of the service accounts it removed.
func (tx *Tx) DeleteTeam(ctx context.Context, id int64) ([]int64, error) {
	var accounts []int64
	if err := tx.sel(ctx, &accounts, `DELETE FROM users WHERE service_account_team = $1 RETURNING id`, id); err != nil {
		return nil, fmt.Errorf("storage: delete service accounts of team %d: %w", id, err)
	}
	n, err := tx.exec(ctx, `DELETE FROM teams WHERE id = $1`, id)
	if err == nil && n == 0 {
		err = ErrNotFound
	}
	return accounts, notFound(err, "storage: delete team %d", id)
}

// TeamMember is a user's place in a team.
type TeamMember struct {
	TeamID  int64     `db:"team_id"`
	UserID  int64     `db:"user_id"`
	AddedAt time.Time `db:"added_at"`
}

// AddTeamMember puts a user in a team.
func (tx *Tx) AddTeamMember(ctx context.Context, teamID, userID int64) (TeamMember, error) {
	var m TeamMember
	err := tx.get(ctx, &m, `INSERT INTO team_members (team_id, user_id) VALUES ($1, $2)
		RETURNING team_id, user_id, added_at`, teamID, userID)
	if err != nil {
		return m, fmt.Errorf("storage: add user %d to team %d: %w", userID, teamID, classify(err))
	}
	return m, nil
}

// RemoveTeamMember takes a user out of a team.
func (tx *Tx) RemoveTeamMember(ctx context.Context, teamID, userID int64) error {
	n, err := tx.exec(ctx, `DELETE FROM team_members WHERE team_id = $1 AND user_id = $2`, teamID, userID)
	if err == nil && n == 0 {
		err = ErrNotFound
	}
	return notFound(err, "storage: remove user %d from team %d", userID, teamID)
}

// TeamMembers returns up to limit members of a team with user id > after, by user id.
func (q queries) TeamMembers(ctx context.Context, teamID, after int64, limit int) ([]TeamMember, error) {
	var ms []TeamMember
	err := q.sel(ctx, &ms, `SELECT team_id, user_id, added_at FROM team_members WHERE team_id = $1 AND user_id > $2
		ORDER BY user_id LIMIT $3`, teamID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: members of team %d: %w", teamID, err)
	}
	return ms, nil
}

// CountTeamMembers returns how many members a team has.
func (q queries) CountTeamMembers(ctx context.Context, teamID int64) (int, error) {
	var n int
	if err := q.get(ctx, &n, `SELECT count(*) FROM team_members WHERE team_id = $1`, teamID); err != nil {
		return 0, fmt.Errorf("storage: count members of team %d: %w", teamID, err)
	}
	return n, nil
}
