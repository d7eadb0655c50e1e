package session

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/internal/identity"
	"github.com/auditgraph/auditgraph/internal/identity/access"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

const testIP = "192.0.2.10"

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fixture is a self-managed instance with the instance admin "admin", the
// organizations acme and beta, and carol, a member of both, with a key.
type fixture struct {
	t     *testing.T
	ctx   context.Context
	store *storage.Store
	ids   *identity.Service
	svc   *Service
	clock *clock
	admin *auth.Principal
	authn *auth.Authenticator
	key   string
}

func newFixture(t *testing.T, idle, lifetime time.Duration) *fixture {
	t.Helper()
	return newFixtureOn(t, storagetest.New(t), idle, lifetime)
}

func newFixtureOn(t *testing.T, st *storage.Store, idle, lifetime time.Duration) *fixture {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	ids := identity.New(st, deployment.SelfManaged, log)
	if _, _, err := ids.Bootstrap(ctx, identity.Bootstrap{AdminUsername: "admin", OrgName: "default"}); err != nil {
		t.Fatal(err)
	}
	admin, err := st.UserByUsername(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, ctx: ctx, store: st, ids: ids, clock: &clock{t: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)},
		admin: &auth.Principal{User: admin}, authn: auth.New(st, log)}
	f.svc = New(st, ids, Config{IdleTimeout: idle, Lifetime: lifetime, Now: f.clock.now, Log: log})
	for _, org := range []string{"acme", "beta"} {
		if _, err := ids.CreateOrganization(ctx, f.admin, org, "enterprise"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ids.CreateUser(ctx, f.admin, identity.NewUser{Username: "carol", Email: "carol@x.io", Org: "acme", Role: access.RoleMember}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ids.InviteUser(ctx, f.admin, identity.Invitation{Org: "beta", Email: "carol@x.io", Role: access.RoleMember}); err != nil {
		t.Fatal(err)
	}
	if f.key, _, err = ids.CreateAPIKey(ctx, f.admin, "carol", "laptop"); err != nil {
		t.Fatal(err)
	}
	return f
}

// carol authenticates carol's key as the sign-in does.
func (f *fixture) carol() *auth.Principal {
	f.t.Helper()
	p, err := f.authn.SignIn(f.ctx, "carol", f.key, testIP)
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

func (f *fixture) open() (string, *auth.Principal) {
	f.t.Helper()
	tok, p, err := f.svc.Open(f.ctx, f.carol())
	if err != nil {
		f.t.Fatal(err)
	}
	return tok, p
}

func (f *fixture) count(q string, args ...any) int {
	f.t.Helper()
	var n int
	if err := f.store.DB().Get(&n, q, args...); err != nil {
		f.t.Fatal(err)
	}
	return n
}

func (f *fixture) lastSeen() time.Time {
	f.t.Helper()
	var t time.Time
	if err := f.store.DB().Get(&t, `SELECT max(last_seen_at) FROM sessions`); err != nil {
		f.t.Fatal(err)
	}
	return t.UTC()
}

func TestToken(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok, hash := NewToken()
		if len(tok) != 43 || !wellFormed(tok) {
			t.Fatalf("token %q: want 43 characters of base64url", tok)
		}
		if sum := sha256.Sum256([]byte(tok)); string(hash) != string(sum[:]) {
			t.Fatalf("hash of %q is not its SHA-256", tok)
		}
		if seen[tok] {
			t.Fatalf("token %q made twice", tok)
		}
		seen[tok] = true
	}
	for _, bad := range []string{"", "short", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB"} {
		if wellFormed(bad) {
			t.Errorf("wellFormed(%q) = true", bad)
		}
	}
}

// TestOpenLookup opens a session and looks it up: the principal is the
// user's, with the key the session was opened with; user:login is in both
// of the user's organizations.
func TestOpenLookup(t *testing.T) {
	f := newFixture(t, 0, 0)
	signedIn := f.carol()
	tok, p := f.open()
	if p.User.Username != "carol" || p.KeyID != signedIn.KeyID || p.Session == nil || p.IP != testIP {
		t.Fatalf("Open: %+v", p)
	}
	if want := f.clock.now().Add(DefaultIdleTimeout); !p.Session.ExpiresAt.Equal(want) {
		t.Errorf("ExpiresAt %v, want %v (the idle deadline)", p.Session.ExpiresAt, want)
	}
	got, err := f.svc.Lookup(f.ctx, tok, "198.51.100.1")
	if err != nil {
		t.Fatal(err)
	}
	if got.User.ID != p.User.ID || got.KeyID != p.KeyID || got.Session.ID != p.Session.ID || got.IP != "198.51.100.1" {
		t.Errorf("Lookup: %+v, want %+v from 198.51.100.1", got, p)
	}
	if n := f.count(`SELECT count(*) FROM audit_events e JOIN organizations o ON o.id = e.org_id
		WHERE e.action = 'user:login' AND e.actor_ip = $1 AND o.name IN ('acme', 'beta')`, testIP); n != 2 {
		t.Errorf("%d user:login events in acme and beta, want 2", n)
	}
	for _, bad := range []string{"", "x", tok[:42] + "A", tok + "A"} {
		if _, err := f.svc.Lookup(f.ctx, bad, ""); !errors.Is(err, auth.ErrSessionEnded) {
			t.Errorf("Lookup(%q) = %v, want ErrSessionEnded", bad, err)
		}
	}
}

// TestTouch checks that a lookup records the use at most once a minute.
func TestTouch(t *testing.T) {
	f := newFixture(t, 0, 0)
	tok, _ := f.open()
	start := f.clock.now()
	f.clock.advance(30 * time.Second)
	if _, err := f.svc.Lookup(f.ctx, tok, ""); err != nil {
		t.Fatal(err)
	}
	if got := f.lastSeen(); !got.Equal(start) {
		t.Errorf("last use %v after a lookup 30 s in, want %v (unchanged)", got, start)
	}
	f.clock.advance(31 * time.Second)
	p, err := f.svc.Lookup(f.ctx, tok, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := f.lastSeen(); !got.Equal(f.clock.now()) {
		t.Errorf("last use %v after a lookup 61 s in, want %v", got, f.clock.now())
	}
	if want := f.clock.now().Add(DefaultIdleTimeout); !p.Session.ExpiresAt.Equal(want) {
		t.Errorf("ExpiresAt %v after the touch, want %v", p.Session.ExpiresAt, want)
	}
}

// TestExpiry checks the idle timeout, the lifetime, and that an ended
// session is deleted and stays ended.
func TestExpiry(t *testing.T) {
	f := newFixture(t, 2*time.Hour, 5*time.Hour)
	t.Run("idle", func(t *testing.T) {
		tok, _ := f.open()
		f.clock.advance(2*time.Hour - time.Second)
		if _, err := f.svc.Lookup(f.ctx, tok, ""); err != nil {
			t.Fatalf("a second before the idle timeout: %v", err)
		}
		f.clock.advance(2 * time.Hour)
		if _, err := f.svc.Lookup(f.ctx, tok, ""); !errors.Is(err, auth.ErrSessionEnded) {
			t.Fatalf("at the idle timeout: %v, want ErrSessionEnded", err)
		}
		f.clock.advance(-2 * time.Hour) // even if the clock went back
		if _, err := f.svc.Lookup(f.ctx, tok, ""); !errors.Is(err, auth.ErrSessionEnded) {
			t.Errorf("an ended session came back: %v", err)
		}
	})
	t.Run("lifetime", func(t *testing.T) {
		tok, _ := f.open()
		for i := 1; i <= 2; i++ {
			f.clock.advance(time.Hour + 50*time.Minute)
			if _, err := f.svc.Lookup(f.ctx, tok, ""); err != nil {
				t.Fatalf("used every 1h50, %v after sign-in: %v", time.Duration(i)*(time.Hour+50*time.Minute), err)
			}
		}
		// 5h30 after sign-in: past the 5 h lifetime, though never idle.
		f.clock.advance(time.Hour + 50*time.Minute)
		if _, err := f.svc.Lookup(f.ctx, tok, ""); !errors.Is(err, auth.ErrSessionEnded) {
			t.Errorf("past the lifetime: %v, want ErrSessionEnded", err)
		}
	})
	t.Run("ended sessions are deleted at the next sign-in", func(t *testing.T) {
		f.open()
		f.clock.advance(3 * time.Hour)
		f.open()
		if n := f.count(`SELECT count(*) FROM sessions`); n != 1 {
			t.Errorf("%d sessions after an idle one and a sign-in, want 1", n)
		}
	})
}

// TestLifetimeBoundsExpiresAt checks that ExpiresAt is the absolute end
// once it is nearer than the idle deadline.
func TestLifetimeBoundsExpiresAt(t *testing.T) {
	f := newFixture(t, 2*time.Hour, 3*time.Hour)
	start := f.clock.now()
	tok, _ := f.open()
	f.clock.advance(90 * time.Minute)
	p, err := f.svc.Lookup(f.ctx, tok, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := start.Add(3 * time.Hour); !p.Session.ExpiresAt.Equal(want) {
		t.Errorf("ExpiresAt %v, want %v (the end of the lifetime)", p.Session.ExpiresAt, want)
	}
}

// TestEnd checks sign-out: the session is gone, user:logout recorded once.
func TestEnd(t *testing.T) {
	f := newFixture(t, 0, 0)
	tok, _ := f.open()
	other, _ := f.open()
	ended, err := f.svc.End(f.ctx, tok, testIP)
	if err != nil || !ended {
		t.Fatalf("End = %v, %v; want true", ended, err)
	}
	if _, err := f.svc.Lookup(f.ctx, tok, ""); !errors.Is(err, auth.ErrSessionEnded) {
		t.Errorf("after End: %v, want ErrSessionEnded", err)
	}
	if _, err := f.svc.Lookup(f.ctx, other, ""); err != nil {
		t.Errorf("the other session ended too: %v", err)
	}
	if ended, err := f.svc.End(f.ctx, tok, testIP); err != nil || ended {
		t.Errorf("End again = %v, %v; want false", ended, err)
	}
	if n := f.count(`SELECT count(*) FROM audit_events WHERE action = 'user:logout'`); n != 2 {
		t.Errorf("%d user:logout events, want 2 (one in each of carol's organizations)", n)
	}
}

// TestRevocationEndsSessions checks that deactivating the user (through
// identity or straight in the database) and deleting the key end the
// sessions in the database at once.
func TestRevocationEndsSessions(t *testing.T) {
	f := newFixture(t, 0, 0)
	t.Run("deactivate", func(t *testing.T) {
		tok, p := f.open()
		if _, err := f.ids.DeactivateUser(f.ctx, f.admin, "carol"); err != nil {
			t.Fatal(err)
		}
		if n := f.count(`SELECT count(*) FROM sessions`); n != 0 {
			t.Errorf("%d sessions after deactivation, want 0", n)
		}
		revoked, err := f.svc.Revoked(f.ctx, []int64{p.Session.ID})
		if err != nil || !revoked[p.Session.ID] {
			t.Errorf("Revoked = %v, %v; want the session", revoked, err)
		}
		if _, err := f.ids.ReactivateUser(f.ctx, f.admin, "carol"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Lookup(f.ctx, tok, ""); !errors.Is(err, auth.ErrSessionEnded) {
			t.Errorf("after reactivation: %v, want ErrSessionEnded", err)
		}
	})
	t.Run("deactivate in SQL", func(t *testing.T) {
		f.open()
		if _, err := f.store.DB().Exec(`UPDATE users SET deactivated_at = now() WHERE username = 'carol'`); err != nil {
			t.Fatal(err)
		}
		if n := f.count(`SELECT count(*) FROM sessions`); n != 0 {
			t.Errorf("%d sessions after deactivation, want 0", n)
		}
		if _, err := f.store.DB().Exec(`UPDATE users SET deactivated_at = NULL WHERE username = 'carol'`); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("deleted key", func(t *testing.T) {
		tok, p := f.open()
		if err := f.ids.DeleteAPIKey(f.ctx, f.admin, p.KeyID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Lookup(f.ctx, tok, ""); !errors.Is(err, auth.ErrSessionEnded) {
			t.Errorf("after the key was deleted: %v, want ErrSessionEnded", err)
		}
		if ended, err := f.svc.End(f.ctx, tok, ""); err != nil || ended {
			t.Errorf("End after the key was deleted = %v, %v; want false", ended, err)
		}
	})
}

// TestRevokedLifetime checks that Revoked reports a session past its
// lifetime even before anything deleted it.
func TestRevokedLifetime(t *testing.T) {
	f := newFixture(t, time.Hour, 2*time.Hour)
	_, p := f.open()
	if revoked, err := f.svc.Revoked(f.ctx, []int64{p.Session.ID}); err != nil || len(revoked) != 0 {
		t.Fatalf("Revoked = %v, %v; want none", revoked, err)
	}
	f.clock.advance(2 * time.Hour)
	if revoked, err := f.svc.Revoked(f.ctx, []int64{p.Session.ID}); err != nil || !revoked[p.Session.ID] {
		t.Errorf("Revoked at the end of the lifetime = %v, %v; want the session", revoked, err)
	}
}

// TestAsAppRole runs a session's life as the role serve runs as, which
// owns no table: opening, using, the cleanup, the deactivation trigger and
// signing out all work with its privileges.
func TestAsAppRole(t *testing.T) {
	app, _ := storagetest.NewApp(t)
	f := newFixtureOn(t, app, time.Hour, 0)
	tok, _ := f.open()
	f.clock.advance(2 * time.Minute)
	if _, err := f.svc.Lookup(f.ctx, tok, ""); err != nil {
		t.Fatal(err)
	}
	f.clock.advance(2 * time.Hour)
	if _, err := f.svc.Lookup(f.ctx, tok, ""); !errors.Is(err, auth.ErrSessionEnded) {
		t.Fatalf("idle: %v, want ErrSessionEnded", err)
	}
	f.open()
	f.clock.advance(2 * time.Hour)
	tok, _ = f.open() // deletes the idle one
	if ended, err := f.svc.End(f.ctx, tok, testIP); err != nil || !ended {
		t.Fatalf("End = %v, %v", ended, err)
	}
	f.open()
	if _, err := f.ids.DeactivateUser(f.ctx, f.admin, "carol"); err != nil {
		t.Fatal(err)
	}
	if n := f.count(`SELECT count(*) FROM sessions`); n != 0 {
		t.Errorf("%d sessions left, want 0", n)
	}
}
