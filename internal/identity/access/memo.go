package access

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/platform/fault"
)

type memoKey struct{}

// memo holds the memberships and organizations the rules read during one
// request.
type memo struct {
	mu   sync.Mutex
	seen map[[2]int64]memoEntry
	orgs map[int64]entity.Organization
}

type memoEntry struct {
	m   entity.Membership
	err error
}

// WithMemo returns a context in which the rules read each membership and
// each organization once: a GraphQL query checks the caller's role in
// several fields (a dashboard panel checks it again with the organization's
// id), and a read-only request may answer them all from one reading. Not
// for requests that change memberships or organizations, whose later checks
// must see the change.
func WithMemo(ctx context.Context) context.Context {
	return context.WithValue(ctx, memoKey{}, &memo{seen: map[[2]int64]memoEntry{}, orgs: map[int64]entity.Organization{}})
}

// Organization reads the organization id through ctx's memo, if it has one:
// once a request has read it (or Remembered it), later reads of the same
// request take it from there. Only organizations found are kept.
func Organization(ctx context.Context, r Reader, id int64) (entity.Organization, error) {
	mm, _ := ctx.Value(memoKey{}).(*memo)
	if mm == nil {
		return r.Organization(ctx, id)
	}
	mm.mu.Lock()
	org, ok := mm.orgs[id]
	mm.mu.Unlock()
	if ok {
		return org, nil
	}
	org, err := r.Organization(ctx, id)
	if err == nil {
		RememberOrg(ctx, org)
	}
	return org, err
}

// RememberOrg tells ctx's memo, if it has one, the organization org, read
// by the caller along with something else.
func RememberOrg(ctx context.Context, org entity.Organization) {
	mm, _ := ctx.Value(memoKey{}).(*memo)
	if mm == nil {
		return
	}
	mm.mu.Lock()
	mm.orgs[org.ID] = org
	mm.mu.Unlock()
}

// membership reads a membership through ctx's memo, if it has one.
func membership(ctx context.Context, r Reader, orgID, userID int64) (entity.Membership, error) {
	mm, _ := ctx.Value(memoKey{}).(*memo)
	if mm == nil {
		return r.Membership(ctx, orgID, userID)
	}
	key := [2]int64{orgID, userID}
	mm.mu.Lock()
	e, ok := mm.seen[key]
	mm.mu.Unlock()
	if ok {
		return e.m, e.err
	}
	m, err := r.Membership(ctx, orgID, userID)
	if err == nil || errors.Is(err, fault.ErrNotFound) {
		mm.mu.Lock()
		mm.seen[key] = memoEntry{m, err}
		mm.mu.Unlock()
	}
	return m, err
}

// Remember tells ctx's memo, if it has one, userID's membership in orgID
// (nil: none), read by the caller along with something else.
func Remember(ctx context.Context, orgID, userID int64, m *entity.Membership) {
	mm, _ := ctx.Value(memoKey{}).(*memo)
	if mm == nil {
		return
	}
	e := memoEntry{err: fmt.Errorf("access: membership of user %d in organization %d: %w", userID, orgID, fault.ErrNotFound)}
	if m != nil {
		e = memoEntry{m: *m}
	}
	mm.mu.Lock()
	mm.seen[[2]int64{orgID, userID}] = e
	mm.mu.Unlock()
}
