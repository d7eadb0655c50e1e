package resolvers_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/chain"
	"github.com/auditgraph/auditgraph/internal/app"
	"github.com/auditgraph/auditgraph/internal/identity"
	"github.com/auditgraph/auditgraph/internal/log/notary"
	"github.com/auditgraph/auditgraph/internal/log/retention"
	"github.com/auditgraph/auditgraph/internal/log/verify"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/internal/server"
)

const integrityQuery = `query($org: String!) { auditLogIntegrity(organization: $org) {
	organization lastSequence notCheckpointed checkpointIntervalSeconds verifyCommand
	latestCheckpoint { firstSequence lastSequence signedAt keyId }
	signingKey { keyId publicKey }
	bucketSync { syncedSequence lagEvents lagSeconds lastSuccess intervalSeconds stalled }
	retention { setting cutoff hipaa floor } } }`

type integrity struct {
	AuditLogIntegrity struct {
		Organization              string
		LastSequence              int
		NotCheckpointed           int
		CheckpointIntervalSeconds *int
		VerifyCommand             string
		LatestCheckpoint          *struct {
			FirstSequence, LastSequence int
			SignedAt                    time.Time
			KeyID                       string
		}
		SigningKey struct{ KeyID, PublicKey string }
		BucketSync *struct {
			SyncedSequence, LagEvents, LagSeconds int
			LastSuccess                           *time.Time
			IntervalSeconds                       int
			Stalled                               bool
		}
		Retention struct {
			Setting string
			Cutoff  *time.Time
			Hipaa   bool
		}
	}
}

// TestAuditLogIntegrity: the Integrity page's facts, to instance and
// organization admins only, with the bucket sync's position when a bucket
// is set.
func TestAuditLogIntegrity(t *testing.T) {
	e := newEnv(t, deployment.SelfManaged)
	e.add("acme", member{username: "boss", role: "admin"}, member{username: "bob"})
	e.add("default", member{username: "carol"})
	e.ingest("admin", "acme", `{"action":"run:update","actor_email":"bob@x.io"}
{"action":"run:stop","actor_email":"bob@x.io"}
`)
	org, err := e.store.OrganizationByName(e.ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	key := ed25519.NewKeyFromSeed([]byte("auditgraph-resolver-test-seed-32"))
	pub := key.Public().(ed25519.PublicKey)
	pubB64 := base64.StdEncoding.EncodeToString(pub)

	// Before any checkpoint, without a bucket, events kept forever.
	serve := func(setup verify.Setup, clock time.Time) {
		log := slog.New(slog.DiscardHandler)
		srv := httptest.NewServer(server.New(server.Config{Services: app.New(e.store), Identity: identity.New(e.store, e.mode, log), Mode: e.mode, Log: log,
			Now:    func() time.Time { return now },
			Verify: &verify.Service{Store: e.store, Keys: []ed25519.PublicKey{pub}, Now: func() time.Time { return clock }, Setup: setup}}))
		t.Cleanup(srv.Close)
		e.url = srv.URL
	}
	serve(verify.Setup{CheckpointInterval: 10 * time.Minute}, time.Now())
	for _, u := range []string{"boss", "bob", "carol"} {
		e.key(u) // creating a key appends an event: before the log's end is read
	}
	var last int
	if err := e.store.DB().Get(&last, `SELECT last_seq FROM organizations WHERE id = $1`, org.ID); err != nil {
		t.Fatal(err)
	}
	var v integrity
	e.mustQuery("boss", integrityQuery, map[string]any{"org": "acme"}, &v)
	got := v.AuditLogIntegrity
	if got.Organization != "acme" || got.LastSequence != last || got.NotCheckpointed != last || got.LatestCheckpoint != nil {
		t.Errorf("before a checkpoint: %+v, want last %d, all %d not checkpointed, no checkpoint", got, last, last)
	}
	if got.SigningKey.PublicKey != pubB64 || got.SigningKey.KeyID != chain.KeyID(pub) {
		t.Errorf("signing key %+v, want %s %s", got.SigningKey, chain.KeyID(pub), pubB64)
	}
	if want := "auditgraph verify --org acme --public-key " + pubB64; got.VerifyCommand != want {
		t.Errorf("verifyCommand %q, want %q", got.VerifyCommand, want)
	}
	if got.CheckpointIntervalSeconds == nil || *got.CheckpointIntervalSeconds != 600 || got.BucketSync != nil {
		t.Errorf("checkpoint interval %v, bucket sync %+v; want 600 and none", got.CheckpointIntervalSeconds, got.BucketSync)
	}
	if r := got.Retention; r.Setting != "forever" || r.Cutoff != nil || r.Hipaa {
		t.Errorf("retention %+v, want forever", r)
	}

	// A checkpoint up to the second-last event, then a bucket that holds the
	// first event, behind by the rest, and a 6-year retention.
	if _, err := notary.New(notary.Config{Store: e.store, Key: key}).Checkpoint(e.ctx, org.ID, org.Name, int64(last-1)); err != nil {
		t.Fatal(err)
	}
	exec(t, e, `INSERT INTO bucket_sync_orgs (org_id, synced_seq) VALUES ($1, 1)`, org.ID)
	real := time.Now()
	clock := real.Add(2 * time.Hour)
	serve(verify.Setup{Bucket: &verify.BucketSetup{Interval: time.Hour, Started: real.Add(-3 * time.Hour)}, CheckpointInterval: time.Hour,
		Retention: retention.Period{Years: 6}, HIPAA: true}, clock)
	v = integrity{}
	e.mustQuery("admin", integrityQuery, map[string]any{"org": "acme"}, &v)
	got = v.AuditLogIntegrity
	if c := got.LatestCheckpoint; c == nil || c.FirstSequence != 1 || c.LastSequence != last-1 || c.KeyID != chain.KeyID(pub) || time.Since(c.SignedAt) > time.Minute {
		t.Errorf("latest checkpoint %+v, want 1..%d signed just now by %s", c, last-1, chain.KeyID(pub))
	}
	if got.NotCheckpointed != 1 {
		t.Errorf("notCheckpointed %d, want 1", got.NotCheckpointed)
	}
	b := got.BucketSync
	if b == nil || b.SyncedSequence != 1 || b.LagEvents != last-1 || b.LagSeconds < 7100 || b.LastSuccess != nil || b.IntervalSeconds != 3600 || !b.Stalled {
		t.Fatalf("bucket sync %+v, want synced to 1, %d events about 2h behind, never succeeded, stalled", b, last-1)
	}
	if r := got.Retention; r.Setting != "6y" || r.Cutoff == nil || !r.Cutoff.Equal(now.AddDate(-6, 0, 0)) || !r.Hipaa {
		t.Errorf("retention %+v, want 6y, cut off at %s, hipaa", r, now.AddDate(-6, 0, 0))
	}
	// A run completed an hour ago: not stalled (two intervals are two hours).
	exec(t, e, `UPDATE bucket_sync_status SET last_success = $1`, clock.Add(-time.Hour))
	v = integrity{}
	e.mustQuery("admin", integrityQuery, map[string]any{"org": "acme"}, &v)
	if b := v.AuditLogIntegrity.BucketSync; b == nil || b.Stalled || b.LastSuccess == nil || b.LastSuccess.Sub(clock.Add(-time.Hour)).Abs() > time.Millisecond {
		t.Errorf("after a run an hour ago: %+v, want not stalled, last success %s", b, clock.Add(-time.Hour))
	}

	// Who may see it: as verifyAuditLog.
	for _, tc := range []struct{ user, code string }{{"bob", "FORBIDDEN"}, {"carol", "NOT_FOUND"}} {
		t.Run(tc.user, func(t *testing.T) {
			data, errs := e.query(tc.user, integrityQuery, map[string]any{"org": "acme"})
			if len(errs) != 1 || errs[0].code() != tc.code || string(data) != "null" {
				t.Errorf("auditLogIntegrity(acme) as %s: data %s, errors %+v, want null and one %s", tc.user, data, errs, tc.code)
			}
		})
	}
	if _, errs := e.query("carol", integrityQuery, map[string]any{"org": "nope"}); len(errs) != 1 || errs[0].code() != "NOT_FOUND" {
		t.Errorf("auditLogIntegrity(nope): %+v, want NOT_FOUND", errs)
	}
}

func exec(t *testing.T, e *env, query string, args ...any) {
	t.Helper()
	if _, err := e.store.DB().Exec(query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}
