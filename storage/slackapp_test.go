package storage_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

func TestSlackAppSettings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storagetest.New(t)
	if _, err := s.SlackApp(ctx); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("SlackApp on an empty database: err = %v, want ErrNotFound", err)
	}
	if held, err := s.HoldsSealedSecrets(ctx); err != nil || held {
		t.Fatalf("HoldsSealedSecrets on an empty database = %v, %v, want false", held, err)
	}
	sealed := []byte{1, 0, 255, 7}
	if err := s.InTx(ctx, func(tx *storage.Tx) error { return tx.SetSlackApp(ctx, "123.456", sealed) }); err != nil {
		t.Fatal(err)
	}
	app, err := s.SlackApp(ctx)
	if err != nil || app.ClientID != "123.456" || !bytes.Equal(app.ClientSecretSealed, sealed) {
		t.Fatalf("SlackApp = %+v, %v, want the stored client ID and sealed secret", app, err)
	}
	if held, err := s.HoldsSealedSecrets(ctx); err != nil || !held {
		t.Errorf("HoldsSealedSecrets with a Slack app = %v, %v, want true", held, err)
	}
	clear := func() error { return s.InTx(ctx, func(tx *storage.Tx) error { return tx.ClearSlackApp(ctx) }) }
	if err := clear(); err != nil {
		t.Fatal(err)
	}
	if err := clear(); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("second ClearSlackApp: err = %v, want ErrNotFound", err)
	}
	if _, err := s.SlackApp(ctx); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("SlackApp after clearing: err = %v, want ErrNotFound", err)
	}
	org, _ := storagetest.NewOrgWithMember(t, s, "acme", "a@x.io")
	if err := s.InTx(ctx, func(tx *storage.Tx) error {
		_, err := tx.CreateIntegration(ctx, entity.Integration{OrgID: org, Name: "hook", Kind: "slack", URLSealed: []byte{1}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if held, err := s.HoldsSealedSecrets(ctx); err != nil || !held {
		t.Errorf("HoldsSealedSecrets with an integration = %v, %v, want true", held, err)
	}
}

func TestUseOAuthStateOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storagetest.New(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	use := func(id string, expires, now time.Time) error {
		return s.InTx(ctx, func(tx *storage.Tx) error { return tx.UseOAuthState(ctx, id, expires, now) })
	}
	if err := use("a", now.Add(10*time.Minute), now); err != nil {
		t.Fatal(err)
	}
	if err := use("a", now.Add(10*time.Minute), now.Add(time.Minute)); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("second use: err = %v, want ErrConflict", err)
	}
	// Once a state has expired its row may go: the signature check refuses it.
	if err := use("b", now.Add(30*time.Minute), now.Add(11*time.Minute)); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.DB().GetContext(ctx, &n, `SELECT count(*) FROM oauth_states_used WHERE id = 'a'`); err != nil || n != 0 {
		t.Errorf("expired state rows left: %d, %v; want 0", n, err)
	}
}

func TestConfigChangesAppendOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storagetest.New(t)
	org, user := storagetest.NewOrgWithMember(t, s, "acme", "a@x.io")
	for _, c := range []entity.ConfigChange{
		{OrgID: &org, ActorUserID: &user, ActorUsername: "alice", Action: entity.ChangeIntegrationConnect, Target: "#alerts (Acme)"},
		{OrgID: &org, ActorUserID: &user, ActorUsername: "alice", Action: entity.ChangeIntegrationDisconnect, Target: "#alerts (Acme)"},
		{ActorUserID: &user, ActorUsername: "admin", Action: entity.ChangeSlackAppUpdate},
	} {
		if err := s.InTx(ctx, func(tx *storage.Tx) error { return tx.RecordConfigChange(ctx, c) }); err != nil {
			t.Fatal(err)
		}
	}
	bad := entity.ConfigChange{OrgID: &org, ActorUsername: "alice", Action: "Integration Connect"}
	if err := s.InTx(ctx, func(tx *storage.Tx) error { return tx.RecordConfigChange(ctx, bad) }); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("action %q: err = %v, want ErrInvalid", bad.Action, err)
	}
	cs, err := s.ConfigChanges(ctx, &org, 0, 10)
	if err != nil || len(cs) != 2 || cs[0].Action != entity.ChangeIntegrationDisconnect || cs[1].Action != entity.ChangeIntegrationConnect {
		t.Fatalf("ConfigChanges(org) = %+v, %v, want disconnect then connect", cs, err)
	}
	older, err := s.ConfigChanges(ctx, &org, cs[0].ID, 10)
	if err != nil || len(older) != 1 || older[0].ID != cs[1].ID {
		t.Errorf("ConfigChanges(org, before %d) = %+v, %v, want the connect only", cs[0].ID, older, err)
	}
	// Cursors are bigint ids: one past 2^31 must not be refused as an integer.
	if all, err := s.ConfigChanges(ctx, &org, 1<<40, 10); err != nil || len(all) != 2 {
		t.Errorf("ConfigChanges(org, before 2^40) = %+v, %v, want both", all, err)
	}
	inst, err := s.ConfigChanges(ctx, nil, 0, 10)
	if n, _ := s.CountConfigChanges(ctx, nil); err != nil || len(inst) != 1 || n != 1 || inst[0].Action != entity.ChangeSlackAppUpdate {
		t.Errorf("ConfigChanges(instance) = %+v (count %d), %v, want the slack_app:update", inst, n, err)
	}
	for _, stmt := range []string{
		`UPDATE config_changes SET target = 'x'`,
		`DELETE FROM config_changes`,
		`TRUNCATE config_changes`,
	} {
		t.Run(stmt, func(t *testing.T) {
			if _, err := s.DB().ExecContext(ctx, stmt); err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: err = %v, want append-only refusal", stmt, err)
			}
		})
	}
	// Deleting the actor must not touch the history (no foreign key to users).
	if err := s.InTx(ctx, func(tx *storage.Tx) error { return tx.DeleteUser(ctx, user) }); err != nil {
		t.Errorf("deleting a user with config changes: %v", err)
	}
}
