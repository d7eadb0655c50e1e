package identity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/identity/access"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/internal/platform/fault"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

// testIP is the client address of every principal in these tests.
const testIP = "192.0.2.10"

// fixture is a self-managed instance bootstrapped with the instance admin
// "admin".
type fixture struct {
	t     *testing.T
	ctx   context.Context
	store *storage.Store
	svc   *Service
}

func newService(t *testing.T, mode deployment.Mode) (*storage.Store, *Service) {
	t.Helper()
	st := storagetest.New(t)
	return st, New(st, mode, slog.New(slog.DiscardHandler))
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, svc := newService(t, deployment.SelfManaged)
	f := &fixture{t: t, ctx: context.Background(), store: st, svc: svc}
	if _, _, err := svc.Bootstrap(f.ctx, Bootstrap{AdminUsername: "admin", OrgName: "default"}); err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	return f
}

// with returns f for use by the test t.
func (f *fixture) with(t *testing.T) *fixture {
	c := *f
	c.t = t
	return &c
}

// scope is one test's corner of an instance: an organization <p>acme whose
// admin is <p>alice and whose member is <p>bob, neither of them in any other
// organization. Cases sharing a database use different prefixes p.
type scope struct {
	*fixture
	p    string
	acme entity.Organization
}

func (f *fixture) scope(p string) *scope {
	f.t.Helper()
	s := &scope{fixture: f, p: p}
	var err error
	if s.acme, err = f.svc.CreateOrganization(f.ctx, f.as("admin"), s.n("acme"), "enterprise"); err != nil {
		f.t.Fatalf("CreateOrganization(%q): %v", s.n("acme"), err)
	}
	f.addUser(s.n("alice"), s.n("acme"), access.RoleAdmin)
	f.addUser(s.n("bob"), s.n("acme"), access.RoleMember)
	return s
}

// n returns the scope's name for name.
func (s *scope) n(name string) string { return s.p + name }

// addUser creates a user with email <username>@x.io as a member of org.
func (f *fixture) addUser(username, org, role string) entity.User {
	f.t.Helper()
	u, err := f.svc.CreateUser(f.ctx, f.as("admin"), NewUser{Username: username, Email: username + "@x.io", Org: org, Role: role})
	if err != nil {
		f.t.Fatalf("CreateUser(%q in %q): %v", username, org, err)
	}
	return u
}

// as returns a principal acting as username, as the HTTP layer builds it.
func (f *fixture) as(username string) *auth.Principal {
	f.t.Helper()
	return &auth.Principal{User: f.user(username), IP: testIP}
}

func (f *fixture) user(username string) entity.User {
	f.t.Helper()
	u, err := f.store.UserByUsername(f.ctx, username)
	if err != nil {
		f.t.Fatalf("UserByUsername(%q): %v", username, err)
	}
	return u
}

// lookup returns the user called username and whether they exist.
func (f *fixture) lookup(username string) (entity.User, bool) {
	f.t.Helper()
	u, err := f.store.UserByUsername(f.ctx, username)
	if errors.Is(err, fault.ErrNotFound) {
		return u, false
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return u, true
}

func (f *fixture) org(name string) (entity.Organization, bool) {
	f.t.Helper()
	o, err := f.store.OrganizationByName(f.ctx, name)
	if errors.Is(err, fault.ErrNotFound) {
		return o, false
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return o, true
}

func (f *fixture) membership(org, username string) (entity.Membership, bool) {
	f.t.Helper()
	o, ok := f.org(org)
	u, ok2 := f.lookup(username)
	if !ok || !ok2 {
		return entity.Membership{}, false
	}
	m, err := f.store.Membership(f.ctx, o.ID, u.ID)
	if errors.Is(err, fault.ErrNotFound) {
		return m, false
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return m, true
}

func (s *scope) teamExists(name string) bool {
	s.t.Helper()
	_, err := s.store.TeamByName(s.ctx, s.acme.ID, name)
	if err != nil && !errors.Is(err, fault.ErrNotFound) {
		s.t.Fatal(err)
	}
	return err == nil
}

func (s *scope) inTeam(username, team string) bool {
	s.t.Helper()
	ts, err := s.store.UserTeams(s.ctx, s.acme.ID, s.user(username).ID)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, t := range ts {
		if t.Name == team {
			return true
		}
	}
	return false
}

func (f *fixture) keyCount(username string) int {
	f.t.Helper()
	ks, err := f.store.UserAPIKeys(f.ctx, f.user(username).ID)
	if err != nil {
		f.t.Fatal(err)
	}
	return len(ks)
}

func (f *fixture) eventCount() int {
	f.t.Helper()
	var n int
	if err := f.store.DB().GetContext(f.ctx, &n, `SELECT count(*) FROM audit_events`); err != nil {
		f.t.Fatal(err)
	}
	return n
}

// lastSeqs returns each organization's last event sequence number.
func (f *fixture) lastSeqs() map[int64]int64 {
	f.t.Helper()
	var rows []struct {
		ID      int64 `db:"id"`
		LastSeq int64 `db:"last_seq"`
	}
	if err := f.store.DB().SelectContext(f.ctx, &rows, `SELECT id, last_seq FROM organizations`); err != nil {
		f.t.Fatal(err)
	}
	m := map[int64]int64{}
	for _, r := range rows {
		m[r.ID] = r.LastSeq
	}
	return m
}

// eventsSince returns the events of every organization written after the
// lastSeqs snapshot before.
func (f *fixture) eventsSince(before map[int64]int64) []storage.StoredEvent {
	f.t.Helper()
	var all []storage.StoredEvent
	for org, last := range f.lastSeqs() {
		if last == before[org] {
			continue
		}
		es, err := f.store.OrgEvents(f.ctx, org, before[org], 1000)
		if err != nil {
			f.t.Fatal(err)
		}
		all = append(all, es...)
	}
	return all
}

// dumpTables are the tables the identity service writes.
var dumpTables = []string{"organizations", "users", "memberships", "teams", "team_members", "api_keys", "settings", "audit_events"}

// dump returns the whole state the identity service writes, as text, so that
// two dumps are equal only when nothing was changed.
func (f *fixture) dump() string {
	f.t.Helper()
	parts := make([]string, len(dumpTables))
	for i, table := range dumpTables {
		parts[i] = `'` + table + `:' || E'\n' || (SELECT COALESCE(string_agg(t::text, E'\n' ORDER BY t::text), '') FROM ` + table + ` t)`
	}
	var s string
	if err := f.store.DB().GetContext(f.ctx, &s, `SELECT `+strings.Join(parts, ` || E'\n' || `)); err != nil {
		f.t.Fatalf("dump: %v", err)
	}
	return s
}

func ptr[T any](v T) *T { return &v }

// mutation is one identity change, with what its audit event must say. Names
// are given without the scope's prefix.
type mutation struct {
	name string
	// setup prepares the change's preconditions; its events are not counted.
	setup func(s *scope)
	actor string
	run   func(s *scope, actor *auth.Principal) error
	// The expected event: its action, the organization whose log holds it,
	// the user it is about ("" for none) and its entity_name.
	action audit.Action
	org    string
	user   string
	entity string
	// done reports whether the change is visible in the store.
	done func(s *scope) bool
}

// createTeam creates a team in the scope's organization as its admin.
func createTeam(name string) func(s *scope) {
	return func(s *scope) {
		s.t.Helper()
		if _, err := s.svc.CreateTeam(s.ctx, s.as(s.n("alice")), s.n("acme"), s.n(name)); err != nil {
			s.t.Fatalf("CreateTeam(%q): %v", s.n(name), err)
		}
	}
}

var mutations = []mutation{
	{
		name: "CreateOrganization", actor: "admin",
		run: func(s *scope, a *auth.Principal) error {
			_, err := s.svc.CreateOrganization(s.ctx, a, s.n("beta"), "teams")
			return err
		},
		action: audit.TeamCreate, org: "beta", entity: "beta",
		done: func(s *scope) bool { _, ok := s.org(s.n("beta")); return ok },
	},
	{
		name: "CreateUser", actor: "alice",
		run: func(s *scope, a *auth.Principal) error {
			_, err := s.svc.CreateUser(s.ctx, a, NewUser{Username: s.n("carol"), Name: "Carol", Email: s.n("carol@x.io"), Org: s.n("acme")})
			return err
		},
		action: audit.UserCreate, org: "acme", user: "carol",
		done: func(s *scope) bool { _, ok := s.membership(s.n("acme"), s.n("carol")); return ok },
	},
	{
		name: "UpdateUser", actor: "alice",
		run: func(s *scope, a *auth.Principal) error {
			_, err := s.svc.UpdateUser(s.ctx, a, s.n("bob"), UserUpdate{Name: ptr("Robert"), Email: ptr(s.n("robert@x.io"))})
			return err
		},
		action: audit.UserUpdate, org: "acme", user: "bob",
		done: func(s *scope) bool {
			u := s.user(s.n("bob"))
			return u.Name == "Robert" && u.Email == s.n("robert@x.io")
		},
	},
	{
		name: "DeactivateUser", actor: "alice",
		run: func(s *scope, a *auth.Principal) error {
			_, err := s.svc.DeactivateUser(s.ctx, a, s.n("bob"))
			return err
		},
		action: audit.UserDeactivate, org: "acme", user: "bob",
		done: func(s *scope) bool { return s.user(s.n("bob")).Deactivated() },
	},
	{
		name: "ReactivateUser", actor: "alice",
		setup: func(s *scope) {
			if _, err := s.svc.DeactivateUser(s.ctx, s.as("admin"), s.n("bob")); err != nil {
				s.t.Fatal(err)
			}
		},
		run: func(s *scope, a *auth.Principal) error {
			_, err := s.svc.ReactivateUser(s.ctx, a, s.n("bob"))
			return err
		},
		action: audit.UserReactivate, org: "acme", user: "bob",
		done: func(s *scope) bool { return !s.user(s.n("bob")).Deactivated() },
	},
	{
		name: "DeleteUser", actor: "alice",
		run: func(s *scope, a *auth.Principal) error {
			return s.svc.DeleteUser(s.ctx, a, s.n("bob"))
		},
		action: audit.UserPermanentlyDelete, org: "acme", user: "bob",
		done: func(s *scope) bool { _, ok := s.lookup(s.n("bob")); return !ok },
	},
	{
		name: "SetDefaultOrganization", actor: "bob",
		run: func(s *scope, a *auth.Principal) error {
			_, err := s.svc.SetDefaultOrganization(s.ctx, a, s.n("acme"))
			return err
		},
		action: audit.UserUpdate, org: "acme", user: "bob",
		done: func(s *scope) bool {
			u := s.user(s.n("bob"))
			return u.DefaultOrgID != nil && *u.DefaultOrgID == s.acme.ID
		},
	},
	{
		name: "InviteUser", actor: "alice",
		run: func(s *scope, a *auth.Principal) error {
			_, _, err := s.svc.InviteUser(s.ctx, a, Invitation{Org: s.n("acme"), Email: s.n("dave@x.io")})
			return err
		},
		action: audit.TeamInviteUser, org: "acme", user: "dave", entity: "acme",
		done: func(s *scope) bool { m, ok := s.membership(s.n("acme"), s.n("dave")); return ok && m.Pending() },
	},
	{
		name: "AcceptInvitation", actor: "dave",
		setup: func(s *scope) {
			if _, _, err := s.svc.InviteUser(s.ctx, s.as(s.n("alice")), Invitation{Org: s.n("acme"), Email: s.n("dave@x.io")}); err != nil {
				s.t.Fatal(err)
			}
		},
		run: func(s *scope, a *auth.Principal) error {
			_, err := s.svc.AcceptInvitation(s.ctx, a, s.n("acme"))
			return err
		},
		action: audit.UserUpdate, org: "acme", user: "dave",
		done: func(s *scope) bool { m, ok := s.membership(s.n("acme"), s.n("dave")); return ok && !m.Pending() },
	},
	{
		name: "UpdateMembership", actor: "alice",
		run: func(s *scope, a *auth.Principal) error {
			_, err := s.svc.UpdateMembership(s.ctx, a, s.n("acme"), s.n("bob"), MembershipUpdate{Role: ptr(access.RoleViewer), ModelsSeat: ptr("none")})
			return err
		},
		action: audit.UserUpdate, org: "acme", user: "bob",
		done: func(s *scope) bool {
			m, _ := s.membership(s.n("acme"), s.n("bob"))
			return m.Role == access.RoleViewer && m.ModelsSeat == "none"
		},
	},
	{
		name: "RemoveMember", actor: "alice",
		run: func(s *scope, a *auth.Principal) error {
			return s.svc.RemoveMember(s.ctx, a, s.n("acme"), s.n("bob"))
		},
		action: audit.TeamUninvite, org: "acme", user: "bob", entity: "acme",
		done: func(s *scope) bool { _, ok := s.membership(s.n("acme"), s.n("bob")); return !ok },
	},
	{
		name: "CreateTeam", actor: "alice",
		run: func(s *scope, a *auth.Principal) error {
			_, err := s.svc.CreateTeam(s.ctx, a, s.n("acme"), s.n("ml"))
			return err
		},
		action: audit.TeamCreate, org: "acme", entity: "ml",
		done: func(s *scope) bool { return s.teamExists(s.n("ml")) },
	},
	{
		name: "DeleteTeam", actor: "alice", setup: createTeam("core"),
		run: func(s *scope, a *auth.Principal) error {
			return s.svc.DeleteTeam(s.ctx, a, s.n("acme"), s.n("core"))
		},
		action: audit.TeamDelete, org: "acme", entity: "core",
		done: func(s *scope) bool { return !s.teamExists(s.n("core")) },
	},
	{
		name: "AddTeamMember", actor: "alice", setup: createTeam("core"),
		run: func(s *scope, a *auth.Principal) error {
			_, err := s.svc.AddTeamMember(s.ctx, a, s.n("acme"), s.n("core"), s.n("bob"))
			return err
		},
		action: audit.TeamInviteUser, org: "acme", user: "bob", entity: "core",
		done: func(s *scope) bool { return s.inTeam(s.n("bob"), s.n("core")) },
	},
	{
		name: "RemoveTeamMember", actor: "alice",
		setup: func(s *scope) {
			createTeam("core")(s)
			if _, err := s.svc.AddTeamMember(s.ctx, s.as(s.n("alice")), s.n("acme"), s.n("core"), s.n("bob")); err != nil {
				s.t.Fatal(err)
			}
		},
		run: func(s *scope, a *auth.Principal) error {
			_, err := s.svc.RemoveTeamMember(s.ctx, a, s.n("acme"), s.n("core"), s.n("bob"))
			return err
		},
		action: audit.TeamUninvite, org: "acme", user: "bob", entity: "core",
		done: func(s *scope) bool { return !s.inTeam(s.n("bob"), s.n("core")) },
	},
	{
		name: "CreateServiceAccount", actor: "alice", setup: createTeam("core"),
		run: func(s *scope, a *auth.Principal) error {
			_, err := s.svc.CreateServiceAccount(s.ctx, a, s.n("acme"), s.n("core"), s.n("bot"), "CI bot")
			return err
		},
		action: audit.TeamCreateServiceAccount, org: "acme", user: "bot", entity: "core",
		done: func(s *scope) bool { _, ok := s.lookup(s.n("bot")); return ok },
	},
	{
		name: "CreateAPIKey", actor: "bob",
		run: func(s *scope, a *auth.Principal) error {
			key, _, err := s.svc.CreateAPIKey(s.ctx, a, "", "laptop")
			if err == nil && key == "" {
				return errors.New("CreateAPIKey returned no key")
			}
			return err
		},
		action: audit.UserCreateAPIKey, org: "acme", user: "bob",
		done: func(s *scope) bool { return s.keyCount(s.n("bob")) == 1 },
	},
	{
		name: "DeleteAPIKey", actor: "alice",
		setup: func(s *scope) {
			if _, _, err := s.svc.CreateAPIKey(s.ctx, s.as(s.n("bob")), "", "laptop"); err != nil {
				s.t.Fatal(err)
			}
		},
		run: func(s *scope, a *auth.Principal) error {
			ks, err := s.store.UserAPIKeys(s.ctx, s.user(s.n("bob")).ID)
			if err != nil || len(ks) != 1 {
				return fmt.Errorf("keys of bob = %v, %v; want one", ks, err)
			}
			return s.svc.DeleteAPIKey(s.ctx, a, ks[0].ID)
		},
		action: audit.UserDeleteAPIKey, org: "acme", user: "bob",
		done: func(s *scope) bool { return s.keyCount(s.n("bob")) == 0 },
	},
}

// actorName returns the username that plays actor in a scope: the instance
// admin is shared, everyone else belongs to the scope.
func (s *scope) actorName(actor string) string {
	if actor == "admin" {
		return actor
	}
	return s.n(actor)
}

func TestMutationsWriteOneEvent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for i, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			s := f.with(t).scope(fmt.Sprintf("m%d-", i))
			if m.setup != nil {
				m.setup(s)
			}
			actor := s.as(s.actorName(m.actor))
			var target entity.User
			targetExisted := false
			if m.user != "" {
				target, targetExisted = s.lookup(s.n(m.user))
			}
			before, count := s.lastSeqs(), s.eventCount()
			start := time.Now()

			if err := m.run(s, actor); err != nil {
				t.Fatalf("%s by %s: %v", m.name, m.actor, err)
			}
			if !m.done(s) {
				t.Errorf("%s succeeded but its change is not in the store", m.name)
			}
			events := s.eventsSince(before)
			if n := s.eventCount() - count; n != 1 || len(events) != 1 {
				t.Fatalf("%s wrote %d events (%+v), want exactly 1", m.name, n, events)
			}
			e := events[0]
			if e.Action != m.action {
				t.Errorf("%s: action = %q, want %q", m.name, e.Action, m.action)
			}
			if org, _ := s.org(s.n(m.org)); e.OrgID != org.ID {
				t.Errorf("%s: event in organization %d, want %d (%s)", m.name, e.OrgID, org.ID, s.n(m.org))
			}
			if want := id(actor.User.ID); e.ActorUserID != want {
				t.Errorf("%s: actor_user_id = %q, want %q (%s)", m.name, e.ActorUserID, want, actor.User.Username)
			}
			if e.ActorEmail != actor.User.Email || e.ActorIP != testIP {
				t.Errorf("%s: actor_email, actor_ip = %q, %q; want %q, %q", m.name, e.ActorEmail, e.ActorIP, actor.User.Email, testIP)
			}
			if e.ResponseCode != 200 {
				t.Errorf("%s: response_code = %d, want 200", m.name, e.ResponseCode)
			}
			var wantAsset, wantEmail string
			if m.user != "" {
				// The event describes the user as the change left them, or
				// as they were when the change deleted them.
				if after, ok := s.lookup(s.n(m.user)); ok {
					target = after
				} else if !targetExisted {
					t.Fatalf("%s: user %s does not exist before or after", m.name, s.n(m.user))
				}
				wantAsset, wantEmail = id(target.ID), target.Email
			}
			if e.UserAsset != wantAsset || e.UserEmail != wantEmail {
				t.Errorf("%s: user_asset, user_email = %q, %q; want %q, %q (%s)", m.name, e.UserAsset, e.UserEmail, wantAsset, wantEmail, s.n(m.user))
			}
			if want := s.n(m.entity); m.entity != "" && e.EntityName != want || m.entity == "" && e.EntityName != "" {
				t.Errorf("%s: entity_name = %q, want %q", m.name, e.EntityName, want)
			}
			if e.Timestamp.Before(start.Add(-time.Second)) || e.Timestamp.After(time.Now().Add(time.Second)) {
				t.Errorf("%s: timestamp = %v, want the time of the change (%v)", m.name, e.Timestamp, start)
			}
		})
	}
}

func TestMutationsRollBackWithTheirEvent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	errCommit := errors.New("injected failure before commit")
	for i, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			s := f.with(t).scope(fmt.Sprintf("r%d-", i))
			if m.setup != nil {
				m.setup(s)
			}
			actor := s.as(s.actorName(m.actor))
			before, count, seqs := s.dump(), s.eventCount(), s.lastSeqs()
			var written []storage.StoredEvent
			s.svc.beforeCommit = func(tx *storage.Tx) error {
				// The failure comes after the change and its event were
				// written, just before commit: see that the event is there.
				orgs, err := tx.Organizations(s.ctx, 0, 1000)
				if err != nil {
					return err
				}
				for _, o := range orgs {
					es, err := tx.OrgEvents(s.ctx, o.ID, seqs[o.ID], 1000)
					if err != nil {
						return err
					}
					written = append(written, es...)
				}
				return errCommit
			}
			err := m.run(s, actor)
			s.svc.beforeCommit = nil

			if !errors.Is(err, errCommit) {
				t.Fatalf("%s with a failing commit = %v, want %v", m.name, err, errCommit)
			}
			if len(written) != 1 || written[0].Action != m.action {
				t.Errorf("%s: events inside the transaction before commit = %+v, want one %s event", m.name, written, m.action)
			}
			if m.done(s) {
				t.Errorf("%s: the change is in the store although its transaction failed", m.name)
			}
			if n := s.eventCount(); n != count {
				t.Errorf("%s: %d events after a failed change, want %d", m.name, n, count)
			}
			if after := s.dump(); after != before {
				t.Errorf("%s: the failed change left the database changed:\nbefore:\n%s\nafter:\n%s", m.name, before, after)
			}
		})
	}
}

func TestMemberCannotCreateTeam(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := f.scope("")
	before := f.dump()
	_, err := f.svc.CreateTeam(f.ctx, f.as("bob"), "acme", "ml")
	if !errors.Is(err, access.ErrForbidden) {
		t.Errorf("CreateTeam by member bob = %v, want %v", err, access.ErrForbidden)
	}
	if s.teamExists("ml") {
		t.Error("a member created a team")
	}
	if after := f.dump(); after != before {
		t.Errorf("a refused CreateTeam changed the database:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// An org admin manages the users of their organization only: a user who also
// belongs to another organization can be locked out only by someone who
// administers every organization they are in.
func TestOrgAdminCannotManageUsersOfOtherOrgs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.scope("")
	if _, err := f.svc.CreateOrganization(f.ctx, f.as("admin"), "beta", "enterprise"); err != nil {
		t.Fatal(err)
	}
	f.addUser("erin", "acme", access.RoleMember)
	if _, _, err := f.svc.InviteUser(f.ctx, f.as("admin"), Invitation{Org: "beta", Email: "erin@x.io"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AcceptInvitation(f.ctx, f.as("erin"), "beta"); err != nil {
		t.Fatal(err)
	}
	f.addUser("frank", "beta", access.RoleMember)
	alice := f.as("alice")

	for _, tc := range []struct {
		name string
		run  func() error
	}{
		{"DeactivateUser(erin)", func() error { _, err := f.svc.DeactivateUser(f.ctx, alice, "erin"); return err }},
		{"DeleteUser(erin)", func() error { return f.svc.DeleteUser(f.ctx, alice, "erin") }},
		{"DeactivateUser(frank)", func() error { _, err := f.svc.DeactivateUser(f.ctx, alice, "frank"); return err }},
		{"UpdateUser(frank)", func() error {
			_, err := f.svc.UpdateUser(f.ctx, alice, "frank", UserUpdate{Name: ptr("F")})
			return err
		}},
		{"DeactivateUser(admin)", func() error { _, err := f.svc.DeactivateUser(f.ctx, alice, "admin"); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := f.with(t)
			before := f.dump()
			if err := tc.run(); !errors.Is(err, access.ErrForbidden) {
				t.Errorf("%s by acme's admin alice = %v, want %v", tc.name, err, access.ErrForbidden)
			}
			if after := f.dump(); after != before {
				t.Errorf("refused %s changed the database:\nbefore:\n%s\nafter:\n%s", tc.name, before, after)
			}
		})
	}

	// The instance admin may, and the event goes to both organizations' logs.
	before := f.lastSeqs()
	if _, err := f.svc.DeactivateUser(f.ctx, f.as("admin"), "erin"); err != nil {
		t.Fatalf("DeactivateUser(erin) by the instance admin: %v", err)
	}
	beta, _ := f.org("beta")
	orgs := map[int64]bool{}
	for _, e := range f.eventsSince(before) {
		if e.Action != audit.UserDeactivate {
			t.Errorf("unexpected %s event in organization %d", e.Action, e.OrgID)
		}
		orgs[e.OrgID] = true
	}
	if acme, _ := f.org("acme"); len(orgs) != 2 || !orgs[acme.ID] || !orgs[beta.ID] {
		t.Errorf("user:deactivate of erin logged in organizations %v, want acme (%d) and beta (%d)", orgs, acme.ID, beta.ID)
	}
}

func TestInvalidInputWritesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.scope("")
	for _, tc := range []struct {
		name string
		run  func(admin *auth.Principal) error
	}{
		{`CreateUser(username "-x")`, func(a *auth.Principal) error {
			_, err := f.svc.CreateUser(f.ctx, a, NewUser{Username: "-x", Org: "acme"})
			return err
		}},
		{`CreateUser(username too long)`, func(a *auth.Principal) error {
			_, err := f.svc.CreateUser(f.ctx, a, NewUser{Username: strings.Repeat("a", 65), Org: "acme"})
			return err
		}},
		{`CreateUser(email "not-an-email")`, func(a *auth.Principal) error {
			_, err := f.svc.CreateUser(f.ctx, a, NewUser{Username: "carol", Email: "not-an-email", Org: "acme"})
			return err
		}},
		{`CreateUser(email "Carol <carol@x.io>")`, func(a *auth.Principal) error {
			_, err := f.svc.CreateUser(f.ctx, a, NewUser{Username: "carol", Email: "Carol <carol@x.io>", Org: "acme"})
			return err
		}},
		{`CreateUser(role "owner")`, func(a *auth.Principal) error {
			_, err := f.svc.CreateUser(f.ctx, a, NewUser{Username: "carol", Org: "acme", Role: "owner"})
			return err
		}},
		{`CreateUser(models seat "gold")`, func(a *auth.Principal) error {
			_, err := f.svc.CreateUser(f.ctx, a, NewUser{Username: "carol", Org: "acme", ModelsSeat: "gold"})
			return err
		}},
		{`InviteUser(email "dave")`, func(a *auth.Principal) error {
			_, _, err := f.svc.InviteUser(f.ctx, a, Invitation{Org: "acme", Email: "dave"})
			return err
		}},
		{`InviteUser(role "owner")`, func(a *auth.Principal) error {
			_, _, err := f.svc.InviteUser(f.ctx, a, Invitation{Org: "acme", Email: "dave@x.io", Role: "owner"})
			return err
		}},
		{`UpdateUser(email "bob@")`, func(a *auth.Principal) error {
			_, err := f.svc.UpdateUser(f.ctx, a, "bob", UserUpdate{Email: ptr("bob@")})
			return err
		}},
		{`UpdateMembership(role "owner")`, func(a *auth.Principal) error {
			_, err := f.svc.UpdateMembership(f.ctx, a, "acme", "bob", MembershipUpdate{Role: ptr("owner")})
			return err
		}},
		{`CreateOrganization("-x")`, func(a *auth.Principal) error {
			_, err := f.svc.CreateOrganization(f.ctx, a, "-x", "free")
			return err
		}},
		{`CreateOrganization(plan "gold")`, func(a *auth.Principal) error {
			_, err := f.svc.CreateOrganization(f.ctx, a, "beta", "gold")
			return err
		}},
		{`CreateTeam("-x")`, func(a *auth.Principal) error {
			_, err := f.svc.CreateTeam(f.ctx, a, "acme", "-x")
			return err
		}},
		{`DeactivateUser(self)`, func(a *auth.Principal) error {
			_, err := f.svc.DeactivateUser(f.ctx, a, "admin")
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := f.with(t)
			before := f.dump()
			if err := tc.run(f.as("admin")); !errors.Is(err, ErrInvalid) {
				t.Errorf("%s = %v, want %v", tc.name, err, ErrInvalid)
			}
			if after := f.dump(); after != before {
				t.Errorf("invalid %s changed the database:\nbefore:\n%s\nafter:\n%s", tc.name, before, after)
			}
		})
	}
}

func TestBootstrap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, svc := newService(t, deployment.SelfManaged)
	f := &fixture{t: t, ctx: ctx, store: st, svc: svc}

	if _, _, err := svc.Bootstrap(ctx, Bootstrap{AdminUsername: "-x", OrgName: "default"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Bootstrap(admin username %q) = %v, want %v", "-x", err, ErrInvalid)
	}
	key, created, err := svc.Bootstrap(ctx, Bootstrap{AdminUsername: "root", OrgName: "home"})
	if err != nil || !created || key == "" {
		t.Fatalf("first Bootstrap = %q, %v, %v; want a key, true, nil", key, created, err)
	}
	u, _, err := st.Authenticate(ctx, auth.Hash(key))
	if err != nil || u.Username != "root" || !u.InstanceAdmin {
		t.Errorf("Authenticate(generated key) = %+v, %v; want instance admin root", u, err)
	}
	org, err := svc.InstanceOrg(ctx)
	if err != nil || org.Name != "home" {
		t.Fatalf("InstanceOrg() = %+v, %v; want organization home", org, err)
	}
	if ok, err := access.IsOrgAdmin(ctx, st, entity.User{ID: u.ID}, org.ID); err != nil || !ok {
		t.Errorf("root is org admin of home = %v, %v; want true", ok, err)
	}
	es, err := st.OrgEvents(ctx, org.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var actions []audit.Action
	for _, e := range es {
		actions = append(actions, e.Action)
		if e.ActorUserID != id(u.ID) {
			t.Errorf("bootstrap %s event actor_user_id = %q, want %q", e.Action, e.ActorUserID, id(u.ID))
		}
	}
	if want := []audit.Action{audit.TeamCreate, audit.UserCreate, audit.UserCreateAPIKey}; fmt.Sprint(actions) != fmt.Sprint(want) {
		t.Errorf("bootstrap events = %v, want %v", actions, want)
	}

	// A second start finds users and does nothing.
	before := f.dump()
	key2, created, err := svc.Bootstrap(ctx, Bootstrap{AdminUsername: "other", OrgName: "elsewhere"})
	if err != nil || created || key2 != "" {
		t.Errorf("second Bootstrap = %q, %v, %v; want \"\", false, nil", key2, created, err)
	}
	if after := f.dump(); after != before {
		t.Errorf("second Bootstrap changed the database:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if _, _, err := st.Authenticate(ctx, auth.Hash(key)); err != nil {
		t.Errorf("Authenticate(first key) after second Bootstrap = %v, want nil", err)
	}
}

func TestBootstrapWithAdminAPIKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, svc := newService(t, deployment.Dedicated)
	const key = "0123456789abcdef0123456789abcdef01234567"
	got, created, err := svc.Bootstrap(ctx, Bootstrap{AdminUsername: "admin", AdminAPIKey: key, OrgName: "default"})
	if err != nil || !created || got != "" {
		t.Fatalf("Bootstrap(with AdminAPIKey) = %q, %v, %v; want \"\" (nothing generated), true, nil", got, created, err)
	}
	u, _, err := st.Authenticate(ctx, auth.Hash(key))
	if err != nil || u.Username != "admin" || !u.InstanceAdmin {
		t.Errorf("Authenticate(AdminAPIKey) = %+v, %v; want instance admin admin", u, err)
	}
	ks, err := st.UserAPIKeys(ctx, u.ID)
	if err != nil || len(ks) != 1 || ks[0].Prefix != auth.Prefix(key) {
		t.Errorf("keys of admin = %+v, %v; want one with prefix %q", ks, err, auth.Prefix(key))
	}
}

func TestBootstrapMultiTenant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, svc := newService(t, deployment.MultiTenant)
	key, created, err := svc.Bootstrap(ctx, Bootstrap{AdminUsername: "admin"})
	if err != nil || !created || key == "" {
		t.Fatalf("Bootstrap = %q, %v, %v; want a key, true, nil", key, created, err)
	}
	if n, err := st.CountOrganizations(ctx); err != nil || n != 0 {
		t.Errorf("organizations after multi-tenant Bootstrap = %d, %v; want 0", n, err)
	}
	if _, err := st.Setting(ctx, storage.SettingInstanceOrg); !errors.Is(err, fault.ErrNotFound) {
		t.Errorf("Setting(%q) = %v, want %v", storage.SettingInstanceOrg, err, fault.ErrNotFound)
	}
	if u, _, err := st.Authenticate(ctx, auth.Hash(key)); err != nil || !u.InstanceAdmin {
		t.Errorf("Authenticate(generated key) = %+v, %v; want the instance admin", u, err)
	}
}

func TestAPIOrg(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := f.scope("")
	admin := f.as("admin")
	beta, err := f.svc.CreateOrganization(f.ctx, admin, "beta", "enterprise")
	if err != nil {
		t.Fatal(err)
	}
	// erin is in acme and beta; grace is in acme with a pending invitation to beta.
	f.addUser("erin", "acme", access.RoleMember)
	if _, _, err := f.svc.InviteUser(f.ctx, admin, Invitation{Org: "beta", Email: "erin@x.io"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AcceptInvitation(f.ctx, f.as("erin"), "beta"); err != nil {
		t.Fatal(err)
	}
	f.addUser("grace", "acme", access.RoleMember)
	if _, _, err := f.svc.InviteUser(f.ctx, admin, Invitation{Org: "beta", Email: "grace@x.io"}); err != nil {
		t.Fatal(err)
	}
	createTeam("core")(s)
	if _, err := f.svc.CreateServiceAccount(f.ctx, f.as("alice"), "acme", "core", "bot", ""); err != nil {
		t.Fatal(err)
	}

	check := func(username string, want entity.Organization) {
		t.Helper()
		got, err := access.APIOrg(f.ctx, f.store, f.user(username))
		if err != nil || got.ID != want.ID {
			t.Errorf("APIOrg(%s) = %q, %v; want %q", username, got.Name, err, want.Name)
		}
	}
	check("bob", s.acme)
	check("grace", s.acme) // a pending invitation is not a membership yet
	check("bot", s.acme)

	const wantMsg = "user is associated with multiple organizations but no valid org ID found in user info"
	_, err = access.APIOrg(f.ctx, f.store, f.user("erin"))
	if err == nil || err.Error() != wantMsg || !errors.Is(err, access.ErrMultipleOrgs) {
		t.Errorf("APIOrg(erin, no default) = %v, want exactly %q", err, wantMsg)
	}

	u, err := f.svc.SetDefaultOrganization(f.ctx, f.as("erin"), "beta")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := access.APIOrg(f.ctx, f.store, u); err != nil || got.ID != beta.ID {
		t.Errorf("APIOrg(user returned by SetDefaultOrganization) = %q, %v; want beta", got.Name, err)
	}
	check("erin", beta)

	// A default must be an organization the user is in.
	if _, err := f.svc.SetDefaultOrganization(f.ctx, f.as("bob"), "beta"); !errors.Is(err, access.ErrForbidden) {
		t.Errorf("SetDefaultOrganization(bob, beta) = %v, want %v", err, access.ErrForbidden)
	}
	// Leaving the default organization clears it.
	if err := f.svc.RemoveMember(f.ctx, admin, "beta", "erin"); err != nil {
		t.Fatal(err)
	}
	if u := f.user("erin"); u.DefaultOrgID != nil {
		t.Errorf("erin's default organization after leaving beta = %d, want none", *u.DefaultOrgID)
	}
	check("erin", s.acme)
}

// API keys are a user's only credential, so deleting all of them locks the
// user out of every organization, as deactivation does. An admin of one
// organization must not be able to do that to a user who also belongs to
// another (see canManage).
func TestOrgAdminCannotDeleteKeysOfUserInOtherOrg(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.scope("")
	if _, err := f.svc.CreateOrganization(f.ctx, f.as("admin"), "beta", "enterprise"); err != nil {
		t.Fatal(err)
	}
	f.addUser("erin", "acme", access.RoleMember)
	if _, _, err := f.svc.InviteUser(f.ctx, f.as("admin"), Invitation{Org: "beta", Email: "erin@x.io"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AcceptInvitation(f.ctx, f.as("erin"), "beta"); err != nil {
		t.Fatal(err)
	}
	_, k, err := f.svc.CreateAPIKey(f.ctx, f.as("admin"), "erin", "only key")
	if err != nil {
		t.Fatal(err)
	}
	before := f.dump()
	if err := f.svc.DeleteAPIKey(f.ctx, f.as("alice"), k.ID); !errors.Is(err, access.ErrForbidden) {
		t.Fatalf("DeleteAPIKey(erin's only key) by acme's admin alice = %v, want %v (erin is also in beta)", err, access.ErrForbidden)
	}
	if after := f.dump(); after != before {
		t.Errorf("refused DeleteAPIKey changed the database:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// Two servers starting at once on an empty database create one admin.
func TestBootstrapConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := newService(t, deployment.SelfManaged)
	type result struct {
		key     string
		created bool
		err     error
	}
	results := make(chan result, 4)
	for range cap(results) {
		go func() {
			svc := New(st, deployment.SelfManaged, slog.New(slog.DiscardHandler))
			key, created, err := svc.Bootstrap(ctx, Bootstrap{AdminUsername: "admin", OrgName: "default"})
			results <- result{key, created, err}
		}()
	}
	var keys []string
	for range cap(results) {
		r := <-results
		if r.err != nil {
			t.Fatalf("concurrent Bootstrap: %v", r.err)
		}
		if r.created != (r.key != "") {
			t.Errorf("Bootstrap = %q, %v; a generated key goes with created", r.key, r.created)
		}
		if r.key != "" {
			keys = append(keys, r.key)
		}
	}
	if len(keys) != 1 {
		t.Errorf("concurrent Bootstraps generated %d keys, want 1", len(keys))
	}
	if n, err := st.CountUsers(ctx); err != nil || n != 1 {
		t.Errorf("users after concurrent Bootstraps = %d, %v; want 1", n, err)
	}
	if n, err := st.CountOrganizations(ctx); err != nil || n != 1 {
		t.Errorf("organizations after concurrent Bootstraps = %d, %v; want 1", n, err)
	}
}
