package identity

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/identity/access"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/storage"
)

func TestCheckAPIKey(t *testing.T) {
	const rule = "want at least 32 hexadecimal characters (128 bits), such as the 40 that `openssl rand -hex 20` prints; "
	for _, tc := range []struct {
		name, key, want string // want "": accepted
	}{
		{"generated form", "0123456789abcdef0123456789abcdef01234567", ""},
		{"128 bits", strings.Repeat("f", 32), ""},
		{"upper case", strings.Repeat("AB", 20), ""},
		{"password", "hunter2", rule + "got 7 characters, not all hexadecimal"},
		{"124 bits", strings.Repeat("0", 31), rule + "got 31 (124 bits)"},
		{"long but not hex", strings.Repeat("correct horse battery staple ", 2), rule + "got 58 characters, not all hexadecimal"},
		{"trailing newline", strings.Repeat("a", 40) + "\n", rule + "got 41 characters, not all hexadecimal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckAPIKey(tc.key)
			if got := errText(err); got != tc.want {
				t.Errorf("CheckAPIKey(%q) = %q, want %q", tc.key, got, tc.want)
			}
		})
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestRecoverAdminKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	admin := f.user("admin")
	f.addUser("bob", "default", access.RoleAdmin)
	org, err := f.svc.InstanceOrg(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	events := func() []storage.StoredEvent {
		t.Helper()
		es, err := f.store.OrgEvents(f.ctx, org.ID, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		return es
	}
	before := len(events())

	key, recordedIn, err := f.svc.RecoverAdminKey(f.ctx, AdminKeyRecovery{Username: "admin", KeyName: "recovery", CLIVersion: "auditgraph v1.2.3 keys create-admin-key"})
	if err != nil || recordedIn != 1 {
		t.Fatalf("RecoverAdminKey(admin) = %v, %d; want a key recorded in 1 organization", err, recordedIn)
	}
	if u, _, err := f.store.Authenticate(f.ctx, auth.Hash(key)); err != nil || u.ID != admin.ID {
		t.Errorf("Authenticate(recovered key) = %+v, %v; want admin", u, err)
	}
	es := events()
	if len(es) != before+1 {
		t.Fatalf("events after RecoverAdminKey: %d new, want 1", len(es)-before)
	}
	e := es[len(es)-1]
	want := audit.Event{Action: audit.UserCreateAPIKey, ActorUserID: id(admin.ID), ActorEmail: admin.Email,
		UserAsset: id(admin.ID), UserEmail: admin.Email, CLIVersion: "auditgraph v1.2.3 keys create-admin-key",
		ResponseCode: 200, Timestamp: e.Timestamp}
	if e.Event != want {
		t.Errorf("recovery event = %+v, want %+v", e.Event, want)
	}

	for _, tc := range []struct {
		name string
		r    AdminKeyRecovery
		want string
	}{
		{"unknown user", AdminKeyRecovery{Username: "nobody"}, `invalid input: no user "nobody"`},
		{"not an instance admin", AdminKeyRecovery{Username: "bob"}, `invalid input: user "bob" is not an instance admin`},
		{"long key name", AdminKeyRecovery{Username: "admin", KeyName: strings.Repeat("k", 201)}, "invalid input: key name is longer than 200 characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dump := f.dump()
			key, _, err := f.svc.RecoverAdminKey(f.ctx, tc.r)
			if key != "" || errText(err) != tc.want || !errors.Is(err, ErrInvalid) {
				t.Errorf("RecoverAdminKey(%+v) = %q, %v; want no key, %q", tc.r, key, err, tc.want)
			}
			if f.dump() != dump {
				t.Error("a refused RecoverAdminKey changed the database")
			}
		})
	}

	// The key and its event are one transaction: no event, no key.
	svc := *f.svc
	svc.beforeCommit = func(*storage.Tx) error { return errors.New("commit refused") }
	dump := f.dump()
	if key, _, err := svc.RecoverAdminKey(f.ctx, AdminKeyRecovery{Username: "admin"}); key != "" || err == nil {
		t.Errorf("RecoverAdminKey with a failing commit = %q, %v; want no key and the error", key, err)
	}
	if f.dump() != dump {
		t.Error("RecoverAdminKey whose transaction failed changed the database")
	}

	if _, err := f.store.DB().ExecContext(f.ctx, `UPDATE users SET deactivated_at = now() WHERE id = $1`, admin.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.RecoverAdminKey(f.ctx, AdminKeyRecovery{Username: "admin"}); errText(err) != `invalid input: instance admin "admin" is deactivated: a key would not let them in` {
		t.Errorf("RecoverAdminKey(deactivated admin) = %v", err)
	}
}

// In multi-tenant an instance admin in no organization has no audit log to
// record the key in, as for any key they create.
func TestRecoverAdminKeyMultiTenant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, svc := newService(t, deployment.MultiTenant)
	if _, _, err := svc.Bootstrap(ctx, Bootstrap{AdminUsername: "admin"}); err != nil {
		t.Fatal(err)
	}
	key, recordedIn, err := svc.RecoverAdminKey(ctx, AdminKeyRecovery{Username: "admin"})
	if err != nil || recordedIn != 0 {
		t.Fatalf("RecoverAdminKey = %v, %d; want a key recorded nowhere", err, recordedIn)
	}
	if _, _, err := st.Authenticate(ctx, auth.Hash(key)); err != nil {
		t.Errorf("Authenticate(recovered key) = %v", err)
	}
}
