package resolvers_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/storage"
)

// TestIntegrationByID: integration(id) answers what the integrations list
// shows to the same people (instance admins, the organization's admins);
// to anyone else an integration is NOT_FOUND exactly as an id that none
// has.
func TestIntegrationByID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, deployment.SelfManaged)
	e.org("other", "enterprise")
	e.addUsers("acme", "admin", "olga")
	e.addUsers("acme", "member", "mia")
	e.addUsers("other", "admin", "oscar")
	ctx := context.Background()
	create := func(org, name string) string {
		t.Helper()
		o, err := e.store.OrganizationByName(ctx, org)
		if err != nil {
			t.Fatal(err)
		}
		var in entity.Integration
		if err := e.store.InTx(ctx, func(tx *storage.Tx) error {
			in, err = tx.CreateIntegration(ctx, entity.Integration{OrgID: o.ID, Name: name, Kind: "webhook", URLSealed: []byte{1}, SigningSecretSealed: []byte{2}})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return strconv.FormatInt(in.ID, 10)
	}
	siem, theirs := create("acme", "siem"), create("other", "theirs")
	const q = `query($id: ID!) { integration(id: $id) { id name kind status delivery { delivered lastError recovered } } }`
	for _, c := range []struct{ user, id, name string }{{"admin", siem, "siem"}, {"olga", siem, "siem"}, {"admin", theirs, "theirs"}, {"oscar", theirs, "theirs"}} {
		var got struct {
			Integration *struct {
				ID, Name, Kind, Status string
				Delivery               struct {
					Delivered int
					LastError string
					Recovered bool
				}
			}
		}
		e.mustQuery(c.user, q, map[string]any{"id": c.id}, &got)
		if in := got.Integration; in == nil || in.ID != c.id || in.Name != c.name || in.Kind != "WEBHOOK" || in.Status != "OK" || in.Delivery.Recovered {
			t.Errorf("integration(%s) as %s = %+v, want %s", c.id, c.user, in, c.name)
		}
	}
	const missing = "999999"
	for _, c := range []struct{ user, id string }{{"mia", siem}, {"oscar", siem}, {"olga", theirs}, {"admin", missing}, {"olga", missing}, {"mia", missing}} {
		err := e.queryError(c.user, q, map[string]any{"id": c.id})
		if want := "not found: no integration " + c.id; err.code() != "NOT_FOUND" || err.Message != want {
			t.Errorf("integration(%s) as %s: %s %q, want NOT_FOUND %q", c.id, c.user, err.code(), err.Message, want)
		}
	}
	if err := e.queryError("olga", q, map[string]any{"id": "x"}); err.code() != "BAD_USER_INPUT" || !strings.Contains(err.Message, "id") {
		t.Errorf("integration(x): %s %q, want BAD_USER_INPUT naming the id", err.code(), err.Message)
	}
}
