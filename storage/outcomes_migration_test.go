package storage_test

import (
	"context"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

// TestIntegrationOutcomesBackfill runs migration 0015 on a database with
// alerts in the outbox, as an upgrade does: each integration starts with the
// last error and success its alerts show (a dropped alert was never an
// attempt, so its reason is no error).
func TestIntegrationOutcomesBackfill(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storagetest.New(t)
	org, _ := storagetest.NewOrgWithMember(t, s, "acme", "a@x.io")
	var hook, quiet entity.Integration
	if err := s.InTx(ctx, func(tx *storage.Tx) (err error) {
		if hook, err = tx.CreateIntegration(ctx, entity.Integration{OrgID: org, Name: "hook", Kind: "webhook", URLSealed: []byte{1}, SigningSecretSealed: []byte{2}}); err != nil {
			return err
		}
		quiet, err = tx.CreateIntegration(ctx, entity.Integration{OrgID: org, Name: "quiet", Kind: "webhook", URLSealed: []byte{1}, SigningSecretSealed: []byte{2}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	db := s.DB()
	for i, r := range []struct {
		status, lastError  string
		attempt, delivered *time.Time
	}{
		{"failed", "webhook: status 400 Bad Request", ptr(t0), nil},
		{"delivered", "", ptr(t0.Add(time.Minute)), ptr(t0.Add(time.Minute))},
		{"pending", "webhook: status 503 Service Unavailable", ptr(t0.Add(2 * time.Minute)), nil},
		{"dropped", "integration is revoked", ptr(t0.Add(3 * time.Minute)), nil},
	} {
		if _, err := db.ExecContext(ctx, `INSERT INTO alert_outbox (org_id, integration_id, rule_name, idempotency_key, status,
			attempts, last_error, last_attempt_at, delivered_at) VALUES ($1, $2, 'r', $3, $4, 1, $5, $6, $7)`,
			org, hook.ID, "k"+string(rune('a'+i)), r.status, r.lastError, r.attempt, r.delivered); err != nil {
			t.Fatal(err)
		}
	}
	// Back to the schema before 0015, with the rows above, and migrate.
	if _, err := db.ExecContext(ctx, `ALTER TABLE integrations DROP COLUMN last_error, DROP COLUMN last_error_at, DROP COLUMN last_success_at;
		DELETE FROM schema_migrations WHERE version = 15`); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Migrate(ctx); err != nil || n != 1 {
		t.Fatalf("Migrate = %d, %v; want 1 (0015)", n, err)
	}
	d, err := s.IntegrationDelivery(ctx, hook.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.LastError != "webhook: status 503 Service Unavailable" || d.LastErrorAt == nil || !d.LastErrorAt.Equal(t0.Add(2*time.Minute)) ||
		d.LastSuccessAt == nil || !d.LastSuccessAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("after the backfill: last error %q at %v, last success %v; want the 503 at %v and the delivery at %v",
			d.LastError, d.LastErrorAt, d.LastSuccessAt, t0.Add(2*time.Minute), t0.Add(time.Minute))
	}
	if d.Recovered() {
		t.Error("recovered, but the latest attempt failed")
	}
	if d, err := s.IntegrationDelivery(ctx, quiet.ID); err != nil || d.LastError != "" || d.LastErrorAt != nil || d.LastSuccessAt != nil {
		t.Errorf("integration without alerts after the backfill: %+v, %v", d, err)
	}
}

func ptr[T any](v T) *T { return &v }
