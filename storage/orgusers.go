package storage

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/auditgraph/auditgraph/internal/entity"
)

// OrgUser is a member of an organization with their user record.
type OrgUser struct {
	entity.User
	entity.Membership

	// Status is the member's status, computed by the database with the same
	// rules as userstatus.Of so that it can be filtered on.
	Status string `db:"status"`
}

// UserSort is the order of an organization's users.
type UserSort string

// The orders.
const (
	// SortLastActive orders by last activity; never-active users come last
	// in both directions.
	SortLastActive UserSort = "LAST_ACTIVE"
	SortName       UserSort = "NAME"
	SortDateAdded  UserSort = "DATE_ADDED"
)

// OrgUsersQuery selects a page of an organization's users.
type OrgUsersQuery struct {
	OrgID int64
	// MultiTenant picks the multi-tenant status rules.
	MultiTenant bool
	// ActiveSince is the earliest last-active time that counts as ACTIVE
	// (self-managed).
	ActiveSince time.Time
	Statuses    []string
	Roles       []string
	TeamID      *int64
	// Search matches name, username or email, case-insensitively.
	Search string
	// OnlyUserID limits the list to one user (members who are not admins
	// see only themselves).
	OnlyUserID *int64
	Sort       UserSort
	Desc       bool
	// After or Before continue from a cursor; Last reads the page that ends
	// at Before (or at the end) instead of the one that starts after After.
	After, Before string
	Limit         int
	Last          bool
	// SkipTotal leaves OrgUsersPage.Total 0 instead of counting every user
	// the filters keep (GraphQL counts only when totalCount is asked for).
	SkipTotal bool
}

// OrgUsersPage is a page of users with its cursors.
type OrgUsersPage struct {
	Users   []OrgUser
	Cursors []string
	// More is true when users follow the page in the direction read.
	More  bool
	Total int
}

// statusSQL is userstatus.Of in SQL (p.active_since is the query's ActiveSince).
func statusSQL(multiTenant bool) string {
	if multiTenant {
		return `CASE WHEN m.last_active_at IS NOT NULL THEN 'ACTIVE' ELSE 'NEVER_ACTIVE' END`
	}
	return `CASE WHEN u.deactivated_at IS NOT NULL THEN 'DEACTIVATED'
		WHEN m.accepted_at IS NULL THEN 'INVITE_PENDING'
		WHEN m.last_active_at >= p.active_since THEN 'ACTIVE' ELSE 'INACTIVE' END`
}

// sortKey is the SQL expression users are ordered by, before the user id,
// and the type a cursor's key is cast back to. Times sort as epoch seconds;
// never-active users sort last both ways, their missing time standing in as
// -1e15 when descending and +1e15 when ascending.
func sortKey(s UserSort, desc bool) (expr, typ string, err error) {
	switch s {
	case SortLastActive, "":
		if desc {
			return `COALESCE(extract(epoch FROM m.last_active_at), -1e15)`, "numeric", nil
		}
		return `COALESCE(extract(epoch FROM m.last_active_at), 1e15)`, "numeric", nil
	case SortName:
		return `lower(COALESCE(NULLIF(u.name, ''), u.username))`, "text", nil
	case SortDateAdded:
		return `extract(epoch FROM m.added_at)`, "numeric", nil
	}
	return "", "", fmt.Errorf("storage: unknown user order %q", s)
}

// userCursor is the position of a user in one order.
type userCursor struct {
	Sort UserSort `json:"s"`
	Desc bool     `json:"d"`
	Key  string   `json:"k"`
	ID   int64    `json:"i"`
}

// encode writes the cursor as json.Marshal does (decodeUserCursor reads it
// with json.Unmarshal), by hand when its strings need no escaping: a page
// encodes a cursor per row, and encoding/json's reflection was 2% of the
// server's CPU on the members page.
func (c userCursor) encode() string {
	if !plainJSON(string(c.Sort)) || !plainJSON(c.Key) {
		b, _ := json.Marshal(c)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	b := make([]byte, 0, 40+len(c.Sort)+len(c.Key))
	b = append(append(append(b, `{"s":"`...), c.Sort...), `","d":`...)
	b = strconv.AppendBool(b, c.Desc)
	b = append(append(append(b, `,"k":"`...), c.Key...), `","i":`...)
	b = append(strconv.AppendInt(b, c.ID, 10), '}')
	return base64.RawURLEncoding.EncodeToString(b)
}

// plainJSON reports whether json.Marshal writes s between quotes as it is:
// printable ASCII without the characters it escapes.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

func decodeUserCursor(s string, sort UserSort, desc bool) (userCursor, error) {
	var c userCursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &c) != nil || c.Sort != sort || c.Desc != desc {
		return c, ErrBadCursor
	}
	return c, nil
}

// OrgUsers returns a page of an organization's users, filtered and sorted,
// with keyset pagination in both directions.
func (q queries) OrgUsers(ctx context.Context, uq OrgUsersQuery) (OrgUsersPage, error) {
	var page OrgUsersPage
	if uq.Sort == "" {
		uq.Sort = SortLastActive
	}
	key, keyType, err := sortKey(uq.Sort, uq.Desc)
	if err != nil {
		return page, err
	}
	where := []string{"m.org_id = $1"}
	args := []any{uq.OrgID, uq.ActiveSince}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "$?", fmt.Sprintf("$%d", len(args))))
	}
	if len(uq.Statuses) > 0 {
		add(statusSQL(uq.MultiTenant)+` = ANY($?)`, pq.StringArray(uq.Statuses))
	}
	if len(uq.Roles) > 0 {
		add(`m.role = ANY($?)`, pq.StringArray(uq.Roles))
	}
	if uq.OnlyUserID != nil {
		add(`m.user_id = $?`, *uq.OnlyUserID)
	}
	if uq.TeamID != nil {
		add(`EXISTS (SELECT 1 FROM team_members tm WHERE tm.team_id = $? AND tm.user_id = m.user_id)`, *uq.TeamID)
	}
	if s := strings.TrimSpace(uq.Search); s != "" {
		pattern := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.ToLower(s)) + "%"
		add(`(lower(u.name) LIKE $? OR lower(u.username) LIKE $? OR lower(COALESCE(u.email, '')) LIKE $?)`, pattern)
	}
	from := ` FROM memberships m JOIN users u ON u.id = m.user_id CROSS JOIN (SELECT $2::timestamptz AS active_since) p
		WHERE ` + strings.Join(where, " AND ")
	if !uq.SkipTotal {
		if err := q.getHot(ctx, &page.Total, `SELECT count(*)`+from, args...); err != nil {
			return page, fmt.Errorf("storage: count users of organization %d: %w", uq.OrgID, err)
		}
	}

	// Reading backwards (last/before) flips the order, then the page is
	// reversed so it always reads in the requested order.
	forward := !uq.Last
	desc := uq.Desc != !forward
	cmp, dir := ">", "ASC"
	if desc {
		cmp, dir = "<", "DESC"
	}
	pageWhere := ""
	cur := uq.After
	if !forward {
		cur = uq.Before
	}
	// Last activity sorts on the column itself, never-active users (NULL)
	// last in the requested order (first when reading backwards), so that
	// an index on (org_id, last_active_at) can serve the page; its cursor
	// key is the time in RFC 3339, "" for never active.
	lastActive := uq.Sort == SortLastActive
	order := fmt.Sprintf(`%s %s, m.user_id %s`, key, dir, dir)
	sortKeySQL := `(` + key + `)::text`
	if lastActive {
		nulls := "LAST"
		if !forward {
			nulls = "FIRST"
		}
		order = fmt.Sprintf(`m.last_active_at %s NULLS %s, m.user_id %s`, dir, nulls, dir)
		sortKeySQL = `''`
	}
	if cur != "" {
		c, err := decodeUserCursor(cur, uq.Sort, uq.Desc)
		if err != nil {
			return page, err
		}
		switch {
		case !lastActive:
			args = append(args, c.Key, c.ID)
			pageWhere = fmt.Sprintf(` AND (%s, m.user_id) %s ($%d::%s, $%d)`, key, cmp, len(args)-1, keyType, len(args))
		case c.Key == "":
			// After a never-active user: the others after it, then (reading
			// backwards, never-active first) every active one.
			args = append(args, c.ID)
			pageWhere = fmt.Sprintf(` AND (m.last_active_at IS NULL AND m.user_id %s $%d`, cmp, len(args))
			if !forward {
				pageWhere += ` OR m.last_active_at IS NOT NULL`
			}
			pageWhere += `)`
		default:
			t, err := time.Parse(time.RFC3339Nano, c.Key)
			if err != nil {
				return page, ErrBadCursor
			}
			args = append(args, t, c.ID)
			pageWhere = fmt.Sprintf(` AND ((m.last_active_at, m.user_id) %s ($%d, $%d)`, cmp, len(args)-1, len(args))
			if forward {
				pageWhere += ` OR m.last_active_at IS NULL`
			}
			pageWhere += `)`
		}
	}
	// The page's size is written into the statement: with LIMIT $n the
	// generic plan of the prepared statement (prepared.go) is costed as if
	// it read a tenth of the members, more than the custom plans, so
	// PostgreSQL would plan it again at every run (bind, which plans, took
	// 0.75 ms a run against 0.08 ms for PostGraphile's LIMIT 50 in the
	// bench's log).
	query := `SELECT ` + orgUserColumns + `,
		` + statusSQL(uq.MultiTenant) + ` AS status, ` + sortKeySQL + ` AS sort_key` + from + pageWhere +
		fmt.Sprintf(` ORDER BY %s LIMIT %d`, order, uq.Limit+1)
	var rows []orgUserRow
	err = q.hot(ctx, func() { rows = nil }, func(db sqlx.QueryerContext) error {
		rows, err = scanOrgUsers(ctx, db, uq.Limit+1, query, args...)
		return err
	})
	if err != nil {
		return page, fmt.Errorf("storage: users of organization %d: %w", uq.OrgID, err)
	}
	if len(rows) > uq.Limit {
		rows, page.More = rows[:uq.Limit], true
	}
	if !forward {
		for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
			rows[i], rows[j] = rows[j], rows[i]
		}
	}
	page.Users = make([]OrgUser, 0, len(rows))
	page.Cursors = make([]string, 0, len(rows))
	for _, r := range rows {
		if lastActive && r.LastActiveAt != nil {
			r.SortKey = r.LastActiveAt.UTC().Format(time.RFC3339Nano)
		}
		page.Users = append(page.Users, r.OrgUser)
		page.Cursors = append(page.Cursors, userCursor{Sort: uq.Sort, Desc: uq.Desc, Key: r.SortKey, ID: r.User.ID}.encode())
	}
	return page, nil
}

// orgUserColumns are the columns of an OrgUser but its status, in
// orgUserRow.dest's order.
const orgUserColumns = `u.id, u.username, u.name, COALESCE(u.email, '') AS email, u.instance_admin,
		u.service_account_team, u.default_org_id, u.deactivated_at, u.created_at,
		m.org_id, m.user_id, m.role, m.models_seat, m.weave_access, m.added_at, m.accepted_at, m.invited_by,
		m.last_active_at, m.active_days, m.run_events, m.report_events`

// orgUserRow is a row of OrgUsers: orgUserColumns, the status and the
// sort key.
type orgUserRow struct {
	OrgUser
	SortKey string
}

// scanOrgUsers runs query and scans its rows by position into typed
// targets: sqlx's scan by column name, through reflection, was a fifth of
// the server's CPU on the members page (perf, bench section postgraphile).
func scanOrgUsers(ctx context.Context, db sqlx.QueryerContext, capacity int, query string, args ...any) ([]orgUserRow, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]orgUserRow, 0, capacity)
	var (
		team, defaultOrg, invitedBy       sql.NullInt64
		deactivated, accepted, lastActive sql.NullTime
	)
	for rows.Next() {
		var r orgUserRow
		u, m := &r.User, &r.Membership
		if err := rows.Scan(&u.ID, &u.Username, &u.Name, &u.Email, &u.InstanceAdmin,
			&team, &defaultOrg, &deactivated, &u.CreatedAt,
			&m.OrgID, &m.UserID, &m.Role, &m.ModelsSeat, &m.WeaveAccess, &m.AddedAt, &accepted, &invitedBy,
			&lastActive, &m.ActiveDays, &m.RunEvents, &m.ReportEvents,
			&r.Status, &r.SortKey); err != nil {
			return nil, err
		}
		u.ServiceAccountTeam, u.DefaultOrgID, u.DeactivatedAt = nullInt(team), nullInt(defaultOrg), nullTime(deactivated)
		m.AcceptedAt, m.InvitedBy, m.LastActiveAt = nullTime(accepted), nullInt(invitedBy), nullTime(lastActive)
		out = append(out, r)
	}
	return out, rows.Err()
}

func nullInt(n sql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	return &n.Int64
}

func nullTime(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	return &t.Time
}
