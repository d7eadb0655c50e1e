// Package identity manages organizations, users, memberships, teams,
// service accounts and API keys. Every change it makes is written together
// with its audit event in one transaction: no change without its event, no
// event without its change.
package identity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/identity/access"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/log/ledger"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/internal/platform/fault"
	"github.com/auditgraph/auditgraph/storage"
)

// ErrInvalid wraps errors about bad input; the text says what was wrong.
var ErrInvalid = errors.New("invalid input")

func invalid(format string, args ...any) error {
	return fault.New(ErrInvalid, format, args...)
}

// Service applies identity changes on behalf of an authenticated principal.
type Service struct {
	store *storage.Store
	mode  deployment.Mode
	log   *slog.Logger
	// beforeCommit, when set by tests, runs inside each change's transaction
	// after the change and its events were written.
	beforeCommit func(*storage.Tx) error
	// cache keeps answers of authentication and of Organization for a short
	// time (see auth.Cache); nil keeps none.
	cache *auth.Cache
	orgs  *auth.Table[orgKey, orgAnswer]
}

// orgKey names a cached answer of Organization: an organization's name as
// one user asked for it.
type orgKey struct {
	user int64
	name string
}

// orgAnswer is the organization with the user's membership (nil if none).
type orgAnswer struct {
	org Organization
	m   *entity.Membership
}

// UseCache makes s answer Organization from c for a short time, and forget
// c's answers after each change it makes, at once, on this server (every
// server forgets them when the change's notification arrives).
func (s *Service) UseCache(c *auth.Cache) {
	s.cache = c
	s.orgs = auth.NewTable[orgKey, orgAnswer](c)
}

// New returns a Service over store for a server running in mode.
func New(store *storage.Store, mode deployment.Mode, log *slog.Logger) *Service {
	return &Service{store: store, mode: mode, log: log}
}

// change runs fn in a transaction; fn records its events on the recorder,
// which writes them in the same transaction before it commits.
func (s *Service) change(ctx context.Context, actor *auth.Principal, fn func(tx *storage.Tx, rec *recorder) error) error {
	// The change's commit is echoed on auth.ChangedChannel, and the change
	// returns once this server heard the echo: by then PostgreSQL has sent
	// the change's own notifications (its triggers') to every replica's
	// cache, so that a client told of a deactivation finds the user's keys
	// refused wherever it asks next. Answers kept here are dropped at once.
	echo, heard, echoing := s.cache.Echo()
	err := s.store.InTx(ctx, func(tx *storage.Tx) error {
		rec := &recorder{actor: actor, now: time.Now().UTC(), byOrg: map[int64][]audit.Event{}}
		if err := fn(tx, rec); err != nil {
			return err
		}
		for _, orgID := range rec.orgs {
			if err := ledger.Append(ctx, tx, orgID, rec.byOrg[orgID]); err != nil {
				return err
			}
		}
		if s.beforeCommit != nil {
			if err := s.beforeCommit(tx); err != nil {
				return err
			}
		}
		if echoing {
			return tx.Notify(ctx, auth.ChangedChannel, echo)
		}
		return nil
	})
	s.cache.Forget(-1)
	if echoing {
		heard(err == nil)
	}
	return err
}

// recorder collects a change's audit events per organization.
type recorder struct {
	actor *auth.Principal
	now   time.Time
	orgs  []int64
	byOrg map[int64][]audit.Event
}

// add records e in org's log, filling in the actor, the time and the
// response code of a change that succeeded.
func (r *recorder) add(orgID int64, e audit.Event) {
	if r.actor != nil {
		e.ActorUserID = id(r.actor.User.ID)
		e.ActorEmail = r.actor.User.Email
		e.ActorIP = r.actor.IP
	}
	e.Timestamp = r.now
	e.ResponseCode = 200
	if _, ok := r.byOrg[orgID]; !ok {
		r.orgs = append(r.orgs, orgID)
	}
	r.byOrg[orgID] = append(r.byOrg[orgID], e)
}

// id renders a database id the way events carry asset ids.
func id(n int64) string { return strconv.FormatInt(n, 10) }

// userEvent returns an event about u as its target.
func userEvent(a audit.Action, u entity.User) audit.Event {
	return audit.Event{Action: a, UserAsset: id(u.ID), UserEmail: u.Email}
}

// teamEvent returns an event about team t.
func teamEvent(a audit.Action, t entity.Team) audit.Event {
	return audit.Event{Action: a, EntityAsset: id(t.ID), EntityName: t.Name}
}

// userOrgs returns the organizations whose logs record a change to u: every
// organization u belongs to. A user in none is recorded in the instance's own
// organization; multi-tenant has none, and the platform does not collect
// user actions tied to no organization there.
func (s *Service) userOrgs(ctx context.Context, tx *storage.Tx, u entity.User) ([]int64, error) {
	ms, err := tx.UserMemberships(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	var orgs []int64
	for _, m := range ms {
		orgs = append(orgs, m.OrgID)
	}
	if len(orgs) == 0 && s.mode.HasInstanceOrg() {
		if org, err := s.instanceOrg(ctx, tx); err == nil {
			orgs = append(orgs, org.ID)
		} else if !errors.Is(err, fault.ErrNotFound) {
			return nil, err
		}
	}
	return orgs, nil
}

// instanceOrg returns the organization created at first start.
func (s *Service) instanceOrg(ctx context.Context, tx *storage.Tx) (entity.Organization, error) {
	v, err := tx.Setting(ctx, storage.SettingInstanceOrg)
	if err != nil {
		return entity.Organization{}, err
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return entity.Organization{}, fmt.Errorf("identity: bad instance organization setting %q", v)
	}
	return tx.Organization(ctx, n)
}

// InstanceOrg returns the instance's own organization, if the mode has one.
func (s *Service) InstanceOrg(ctx context.Context) (entity.Organization, error) {
	var org entity.Organization
	err := s.store.InTx(ctx, func(tx *storage.Tx) (err error) {
		org, err = s.instanceOrg(ctx, tx)
		return err
	})
	return org, err
}

func requireInstanceAdmin(actor *auth.Principal, what string) error {
	if !actor.User.InstanceAdmin {
		return access.Forbidden("only an instance admin may %s", what)
	}
	return nil
}
