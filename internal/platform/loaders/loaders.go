// Package loaders batches the GraphQL API's reads per request: a page of 50
// members costs one query for their users, one for their teams and one for
// their organizations, not 50 of each.
package loaders

import (
	"context"
	"net/http"
	"time"

	"github.com/vikstrous/dataloadgen"

	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/storage"
)

// Loaders holds one request's loaders.
type Loaders struct {
	Users         *dataloadgen.Loader[int64, entity.User]
	Organizations *dataloadgen.Loader[int64, entity.Organization]
	MemberTeams   *dataloadgen.Loader[storage.MemberKey, []entity.Team]
	Memberships   *dataloadgen.Loader[int64, []entity.Membership]
}

// wait is how long a loader collects keys before it queries.
const wait = time.Millisecond

// New returns fresh loaders over store.
func New(store *storage.Store) *Loaders {
	return &Loaders{
		Users: dataloadgen.NewMappedLoader(func(ctx context.Context, ids []int64) (map[int64]entity.User, error) {
			us, err := store.UsersByID(ctx, ids)
			return index(us, func(u entity.User) int64 { return u.ID }), err
		}, dataloadgen.WithWait(wait)),
		Organizations: dataloadgen.NewMappedLoader(func(ctx context.Context, ids []int64) (map[int64]entity.Organization, error) {
			os, err := store.OrganizationsByID(ctx, ids)
			return index(os, func(o entity.Organization) int64 { return o.ID }), err
		}, dataloadgen.WithWait(wait)),
		MemberTeams: dataloadgen.NewLoader(func(ctx context.Context, keys []storage.MemberKey) ([][]entity.Team, []error) {
			ts, err := store.TeamsOfMembers(ctx, keys)
			if err != nil {
				return nil, []error{err}
			}
			by := map[storage.MemberKey][]entity.Team{}
			for _, t := range ts {
				k := storage.MemberKey{OrgID: t.OrgID, UserID: t.UserID}
				by[k] = append(by[k], t.Team)
			}
			out := make([][]entity.Team, len(keys))
			for i, k := range keys {
				out[i] = append([]entity.Team{}, by[k]...)
			}
			return out, nil
		}, dataloadgen.WithWait(wait)),
		Memberships: dataloadgen.NewLoader(func(ctx context.Context, ids []int64) ([][]entity.Membership, []error) {
			ms, err := store.MembershipsOfUsers(ctx, ids)
			if err != nil {
				return nil, []error{err}
			}
			by := map[int64][]entity.Membership{}
			for _, m := range ms {
				by[m.UserID] = append(by[m.UserID], m)
			}
			out := make([][]entity.Membership, len(ids))
			for i, id := range ids {
				out[i] = append([]entity.Membership{}, by[id]...)
			}
			return out, nil
		}, dataloadgen.WithWait(wait)),
	}
}

// index maps values by key; a missing key then loads as an error.
func index[K comparable, V any](vs []V, key func(V) K) map[K]V {
	m := make(map[K]V, len(vs))
	for _, v := range vs {
		m[key(v)] = v
	}
	return m
}

type ctxKey struct{}

// Middleware gives every request its own loaders, so nothing cached
// outlives the request that read it.
func Middleware(store *storage.Store, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, New(store))))
	})
}

// For returns the request's loaders, or fresh ones outside a request
// (subscriptions, tests).
func For(ctx context.Context, store *storage.Store) *Loaders {
	if l, ok := ctx.Value(ctxKey{}).(*Loaders); ok {
		return l
	}
	return New(store)
}
