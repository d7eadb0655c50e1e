package userexport

import (
	"context"
	"io"
	"time"

	"github.com/auditgraph/auditgraph/internal/identity/userstatus"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/storage"
)

// PageSize is how many members one read of the store returns: memory stays
// bounded by a page whatever the organization's size.
const PageSize = 500

// Store is what Write reads.
type Store interface {
	OrgUsers(ctx context.Context, q storage.OrgUsersQuery) (storage.OrgUsersPage, error)
	TeamsOfMembers(ctx context.Context, keys []storage.MemberKey) ([]storage.MemberTeam, error)
}

// Write streams the export of an organization's members to w, ordered by
// name, with their status as of now, writing each page of members as it is
// read. Pages follow a keyset cursor rather than one long transaction, so
// a slow download holds no snapshot open: a member added or removed while
// the file is written appears at most once, and only one renamed across
// the cursor meanwhile can be missed or listed twice.
func Write(ctx context.Context, w io.Writer, st Store, mode deployment.Mode, orgID int64, now time.Time) error {
	cw := NewWriter(w, mode)
	if err := cw.WriteHeader(); err != nil {
		return err
	}
	q := storage.OrgUsersQuery{
		OrgID:       orgID,
		MultiTenant: mode.MultiTenant(),
		ActiveSince: userstatus.ActiveSince(now),
		Sort:        storage.SortName,
		Limit:       PageSize,
	}
	for {
		page, err := st.OrgUsers(ctx, q)
		if err != nil {
			return err
		}
		teams, err := teamsOf(ctx, st, orgID, page.Users)
		if err != nil {
			return err
		}
		for _, u := range page.Users {
			err := cw.WriteRow(Row{
				User:       u.User,
				Membership: u.Membership,
				Status:     userstatus.Of(mode, u.User, u.Membership, now),
				Teams:      teams[u.User.ID],
			})
			if err != nil {
				return err
			}
		}
		if !page.More || len(page.Cursors) == 0 {
			break
		}
		q.After = page.Cursors[len(page.Cursors)-1]
	}
	return cw.Flush()
}

// teamsOf returns the team names of a page of members in one query, by user id.
func teamsOf(ctx context.Context, st Store, orgID int64, users []storage.OrgUser) (map[int64][]string, error) {
	if len(users) == 0 {
		return nil, nil
	}
	keys := make([]storage.MemberKey, len(users))
	for i, u := range users {
		keys[i] = storage.MemberKey{OrgID: orgID, UserID: u.User.ID}
	}
	mts, err := st.TeamsOfMembers(ctx, keys)
	if err != nil {
		return nil, err
	}
	teams := make(map[int64][]string, len(users))
	for _, mt := range mts {
		teams[mt.UserID] = append(teams[mt.UserID], mt.Name)
	}
	return teams, nil
}
