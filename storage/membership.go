package storage

import (
	"context"
	"fmt"
	"github.com/auditgraph/auditgraph/internal/entity"
	"time"
)

const membershipColumns = `org_id, user_id, role, models_seat, weave_access, added_at,
	accepted_at, invited_by, last_active_at, active_days, run_events, report_events`

// NewMembership is what AddMembership needs.
type NewMembership struct {
	OrgID       int64
	UserID      int64
	Role        string
	ModelsSeat  string
	WeaveAccess string
	// InvitedBy set means an invitation that stays pending until accepted.
	InvitedBy *int64
}

// AddMembership puts a user in an organization.
func (tx *Tx) AddMembership(ctx context.Context, nm NewMembership) (entity.Membership, error) {
	var m entity.Membership
	err := tx.get(ctx, &m, `INSERT INTO memberships (org_id, user_id, role, models_seat, weave_access, invited_by, accepted_at)
		VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $6::bigint IS NULL THEN now() END)
		RETURNING `+membershipColumns,
		nm.OrgID, nm.UserID, nm.Role, nm.ModelsSeat, nm.WeaveAccess, nm.InvitedBy)
	if err != nil {
		return m, fmt.Errorf("storage: add user %d to organization %d: %w", nm.UserID, nm.OrgID, classify(err))
	}
	return m, nil
}

// Membership returns a user's membership of an organization.
func (q queries) Membership(ctx context.Context, orgID, userID int64) (entity.Membership, error) {
	var m entity.Membership
	err := q.get(ctx, &m, `SELECT `+membershipColumns+` FROM memberships WHERE org_id = $1 AND user_id = $2`, orgID, userID)
	return m, notFound(err, "storage: membership of user %d in organization %d", userID, orgID)
}

// UserMemberships returns every membership of a user, by organization id.
func (q queries) UserMemberships(ctx context.Context, userID int64) ([]entity.Membership, error) {
	var ms []entity.Membership
	err := q.sel(ctx, &ms, `SELECT `+membershipColumns+` FROM memberships WHERE user_id = $1 ORDER BY org_id`, userID)
	if err != nil {
		return nil, fmt.Errorf("storage: memberships of user %d: %w", userID, err)
	}
	return ms, nil
}

// OrgMemberships returns up to limit memberships of an organization with
// user id > after, by user id.
func (q queries) OrgMemberships(ctx context.Context, orgID, after int64, limit int) ([]entity.Membership, error) {
	var ms []entity.Membership
	err := q.sel(ctx, &ms, `SELECT `+membershipColumns+` FROM memberships WHERE org_id = $1 AND user_id > $2
		ORDER BY user_id LIMIT $3`, orgID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: members of organization %d: %w", orgID, err)
	}
	return ms, nil
}

// CountOrgMemberships returns how many users an organization has.
func (q queries) CountOrgMemberships(ctx context.Context, orgID int64) (int, error) {
	var n int
	if err := q.get(ctx, &n, `SELECT count(*) FROM memberships WHERE org_id = $1`, orgID); err != nil {
		return 0, fmt.Errorf("storage: count members of organization %d: %w", orgID, err)
	}
	return n, nil
}

// MembershipUpdate holds the fields to change; nil leaves a field as it is.
type MembershipUpdate struct {
	Role        *string
	ModelsSeat  *string
	WeaveAccess *string
}

// UpdateMembership changes a user's role, seat or access in an organization.
func (tx *Tx) UpdateMembership(ctx context.Context, orgID, userID int64, up MembershipUpdate) (entity.Membership, error) {
	var m entity.Membership
	err := tx.get(ctx, &m, `UPDATE memberships SET
		role = COALESCE($3, role), models_seat = COALESCE($4, models_seat), weave_access = COALESCE($5, weave_access)
		WHERE org_id = $1 AND user_id = $2 RETURNING `+membershipColumns,
		orgID, userID, up.Role, up.ModelsSeat, up.WeaveAccess)
	return m, notFound(classify(err), "storage: update membership of user %d in organization %d", userID, orgID)
}

// AcceptMembership marks a pending invitation accepted.
func (tx *Tx) AcceptMembership(ctx context.Context, orgID, userID int64) (entity.Membership, error) {
	var m entity.Membership
	err := tx.get(ctx, &m, `UPDATE memberships SET accepted_at = COALESCE(accepted_at, now())
		WHERE org_id = $1 AND user_id = $2 RETURNING `+membershipColumns, orgID, userID)
	return m, notFound(err, "storage: accept invitation of user %d to organization %d", userID, orgID)
}

// RemoveMembership takes a user out of an organization and its teams.
func (tx *Tx) RemoveMembership(ctx context.Context, orgID, userID int64) error {
	if _, err := tx.exec(ctx, `DELETE FROM team_members WHERE user_id = $2
		AND team_id IN (SELECT id FROM teams WHERE org_id = $1)`, orgID, userID); err != nil {
		return fmt.Errorf("storage: remove user %d from teams of organization %d: %w", userID, orgID, err)
	}
	n, err := tx.exec(ctx, `DELETE FROM memberships WHERE org_id = $1 AND user_id = $2`, orgID, userID)
	if err == nil && n == 0 {
		err = ErrNotFound
	}
	if err == nil {
		_, err = tx.exec(ctx, `UPDATE users SET default_org_id = NULL WHERE id = $1 AND default_org_id = $2`, userID, orgID)
	}
	return notFound(err, "storage: remove user %d from organization %d", userID, orgID)
}

// OrganizationWithMembership returns the organization called name and
// userID's membership in it (nil when there is none), in one round trip:
// every org-scoped GraphQL query by a member needs both.
func (q queries) OrganizationWithMembership(ctx context.Context, name string, userID int64) (entity.Organization, *entity.Membership, error) {
	var row struct {
		entity.Organization

		MOrgID        *int64     `db:"m_org_id"`
		MUserID       *int64     `db:"m_user_id"`
		MRole         *string    `db:"m_role"`
		MModelsSeat   *string    `db:"m_models_seat"`
		MWeaveAccess  *string    `db:"m_weave_access"`
		MAddedAt      *time.Time `db:"m_added_at"`
		MAcceptedAt   *time.Time `db:"m_accepted_at"`
		MInvitedBy    *int64     `db:"m_invited_by"`
		MLastActiveAt *time.Time `db:"m_last_active_at"`
		MActiveDays   *int       `db:"m_active_days"`
		MRunEvents    *int       `db:"m_run_events"`
		MReportEvents *int       `db:"m_report_events"`
	}
	err := q.get(ctx, &row, `SELECT o.id, o.name, o.plan, o.created_at,
			m.org_id AS m_org_id, m.user_id AS m_user_id, m.role AS m_role, m.models_seat AS m_models_seat,
			m.weave_access AS m_weave_access, m.added_at AS m_added_at, m.accepted_at AS m_accepted_at,
			m.invited_by AS m_invited_by, m.last_active_at AS m_last_active_at, m.active_days AS m_active_days,
			m.run_events AS m_run_events, m.report_events AS m_report_events
		FROM organizations o LEFT JOIN memberships m ON m.org_id = o.id AND m.user_id = $2
		WHERE o.name = $1`, name, userID)
	if err != nil {
		return row.Organization, nil, notFound(err, "storage: get organization %q", name)
	}
	if row.MOrgID == nil {
		return row.Organization, nil, nil
	}
	return row.Organization, &entity.Membership{OrgID: *row.MOrgID, UserID: *row.MUserID, Role: *row.MRole,
		ModelsSeat: *row.MModelsSeat, WeaveAccess: *row.MWeaveAccess, AddedAt: *row.MAddedAt,
		AcceptedAt: row.MAcceptedAt, InvitedBy: row.MInvitedBy, LastActiveAt: row.MLastActiveAt,
		ActiveDays: *row.MActiveDays, RunEvents: *row.MRunEvents, ReportEvents: *row.MReportEvents}, nil
}
