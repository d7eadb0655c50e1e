package storage_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/log/bucketsync"
	"github.com/auditgraph/auditgraph/internal/log/ledger"
	"github.com/auditgraph/auditgraph/internal/log/notary"
	"github.com/auditgraph/auditgraph/internal/log/retention"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

// The role serve runs as owns nothing: the statements an owner (or a
// superuser) could use to rewrite the audit log are refused to it, whether
// triggers would refuse them or not.
func TestAppRoleCannotTamper(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	app, owner := storagetest.NewApp(t)
	org := createOrg(t, app, "acme")
	now := time.Now().UTC()
	appendEvents(t, app, org.ID,
		audit.Event{Action: audit.UserLogin, Timestamp: now, ActorEmail: "a@acme.io"},
		audit.Event{Action: audit.RunUpdate, Timestamp: now, ProjectName: "p"})
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	if _, err := notary.New(notary.Config{Store: app, Key: key, Log: slog.New(slog.DiscardHandler)}).CheckpointAll(ctx); err != nil {
		t.Fatalf("CheckpointAll as the app role: %v", err)
	}
	partition := "audit_events_" + now.Format("2006_01")

	r, err := app.Role(ctx)
	if err != nil || r.Privileged() || !r.App || r.Name != storagetest.AppLogin {
		t.Fatalf("Role() as the app role = %+v, %v; want %s, a member of %s, neither owner nor superuser", r, err, storagetest.AppLogin, storage.AppRole)
	}

	for _, tc := range []struct{ name, stmt string }{
		{"disable user triggers", `ALTER TABLE audit_events DISABLE TRIGGER USER`},
		{"disable the append-only trigger", `ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only`},
		{"disable all triggers", `ALTER TABLE audit_events DISABLE TRIGGER ALL`},
		{"disable triggers of a partition", `ALTER TABLE ` + partition + ` DISABLE TRIGGER USER`},
		{"disable checkpoint triggers", `ALTER TABLE chain_checkpoints DISABLE TRIGGER USER`},
		{"drop the trigger", `DROP TRIGGER audit_events_append_only ON audit_events`},
		{"replace the trigger function", `CREATE OR REPLACE FUNCTION audit_events_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END $$`},
		{"replica mode skips triggers", `SET session_replication_role = replica`},
		{"update events", `UPDATE audit_events SET action = 'user:logout'`},
		{"delete events", `DELETE FROM audit_events`},
		{"truncate events", `TRUNCATE audit_events`},
		{"upsert events", `INSERT INTO audit_events (org_id, seq, ts, action) SELECT org_id, seq, ts, action FROM audit_events
			ON CONFLICT (org_id, ts, seq) DO UPDATE SET action = 'user:logout'`},
		{"update a partition", `UPDATE ` + partition + ` SET action = 'user:logout'`},
		{"delete from a partition", `DELETE FROM ` + partition},
		{"truncate a partition", `TRUNCATE ` + partition},
		{"detach a partition", `ALTER TABLE audit_events DETACH PARTITION ` + partition},
		{"drop a partition", `DROP TABLE ` + partition},
		{"drop the events", `DROP TABLE audit_events`},
		{"update checkpoints", `UPDATE chain_checkpoints SET last_hash = sha256(last_hash)`},
		{"delete checkpoints", `DELETE FROM chain_checkpoints`},
		{"truncate checkpoints", `TRUNCATE chain_checkpoints`},
		{"drop checkpoints", `DROP TABLE chain_checkpoints`},
		{"update config changes", `UPDATE config_changes SET target = 'x'`},
		{"delete config changes", `DELETE FROM config_changes`},
		{"write the retention log", `INSERT INTO retention_log (partition, range_from, range_to, cutoff, events, org_ranges) VALUES ('p', now(), now(), now(), 0, '{}')`},
		{"delete the retention log", `DELETE FROM retention_log`},
		{"change the migrations", `DELETE FROM schema_migrations`},
		{"create a table", `CREATE TABLE audit_events_2099_01 PARTITION OF audit_events FOR VALUES FROM ('2099-01-01') TO ('2099-02-01')`},
		{"take ownership", `ALTER TABLE audit_events OWNER TO CURRENT_USER`},
		{"redefine partition creation", `ALTER FUNCTION audit_events_ensure_partition(timestamptz) SECURITY INVOKER`},
		{"join the owner", `GRANT auditgraph TO CURRENT_USER`},
		{"lower the retention floor", `ALTER FUNCTION audit_events_expire(timestamptz, boolean) SET auditgraph.retention_floor = '1 day'`},
		{"clear the retention floor", `ALTER FUNCTION audit_events_expire(timestamptz, boolean) RESET ALL`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tx, err := app.DB().BeginTxx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			_, err = tx.ExecContext(ctx, tc.stmt)
			var pe *pq.Error
			// 42501: insufficient privilege (also what the triggers raise);
			// 42704: the role named does not exist on a server other than
			// the test cluster, refused either way.
			if !errors.As(err, &pe) || (pe.Code != "42501" && pe.Code != "42704") {
				t.Errorf("%s as the app role: %v; want refused for lack of privilege", tc.stmt, err)
			}
		})
	}
	if n := storagetest.CountEvents(t, owner, org.ID); n != 2 {
		t.Errorf("events after the refused statements = %d, want 2", n)
	}

	// The owner, by contrast, can switch the triggers off: why serve must
	// not run as it.
	tx, err := owner.DB().BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `ALTER TABLE audit_events DISABLE TRIGGER USER`); err != nil {
		t.Errorf("the owner's ALTER TABLE audit_events DISABLE TRIGGER USER: %v; want allowed (the test would show nothing)", err)
	}
}

// Everything serve does to the database works as the app role: appends,
// ingest (creating a new month's partition), checkpoints, the bucket sync
// and retention.
func TestAppRoleRunsTheServerFlow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	app, owner := storagetest.NewApp(t)
	org := createOrg(t, app, "acme")
	appendEvents(t, app, org.ID, audit.Event{Action: audit.UserLogin, Timestamp: time.Now(), ActorEmail: "a@acme.io"})
	old := time.Date(2015, 3, 10, 12, 0, 0, 0, time.UTC)
	res, err := ledger.Ingest(ctx, app, org.ID, []ledger.IngestEvent{
		ev("a", audit.UserLogin, old), ev("b", audit.RunUpdate, time.Now()),
	}, time.Time{})
	if err != nil || res.Stored != 2 {
		t.Fatalf("Ingest as the app role (a 2015 event, whose partition does not exist) = %+v, %v", res, err)
	}
	// The partition created at ingest belongs to the tables' owner, so
	// serve cannot drop it afterwards.
	var partOwner string
	if err := owner.DB().Get(&partOwner, `SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'audit_events_2015_03'`); err != nil {
		t.Fatal(err)
	}
	if partOwner == storagetest.AppLogin {
		t.Errorf("audit_events_2015_03 belongs to %s, the app role", partOwner)
	}
	if err := app.EnsurePartitions(ctx, time.Now().AddDate(1, 0, 0), time.Now().AddDate(1, 2, 0)); err != nil {
		t.Errorf("EnsurePartitions as the app role: %v", err)
	}
	if n, err := app.Pending(ctx); err != nil || n != 0 {
		t.Errorf("Pending as the app role = %d, %v", n, err)
	}

	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	n := notary.New(notary.Config{Store: app, Key: key, Log: slog.New(slog.DiscardHandler)})
	b, err := blob.OpenBucket(ctx, "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	sync := bucketsync.New(bucketsync.Config{Store: app, Bucket: b, Checkpointer: n})
	if ok, err := sync.SyncOnce(ctx); err != nil || !ok {
		t.Fatalf("SyncOnce as the app role = %v, %v", ok, err)
	}
	var cps int
	if err := owner.DB().Get(&cps, `SELECT count(*) FROM chain_checkpoints`); err != nil || cps == 0 {
		t.Errorf("checkpoints after a sync as the app role = %d, %v; want at least one", cps, err)
	}
	appendEvents(t, app, org.ID, audit.Event{Action: audit.UserLogout, Timestamp: time.Now()})
	if _, err := n.CheckpointAll(ctx); err != nil {
		t.Errorf("CheckpointAll as the app role: %v", err)
	}

	job := &retention.Job{Store: app, Keep: retention.Period{Years: 6}, RequireSynced: true}
	dropped, err := job.RunOnce(ctx)
	if err != nil || !slices.Contains(dropped, "audit_events_2015_03") {
		t.Errorf("retention as the app role dropped %v, %v; want audit_events_2015_03 among them", dropped, err)
	}
	recs, err := app.RetentionLog(ctx)
	if err != nil || len(recs) == 0 || recs[0].DroppedBy != storagetest.AppLogin {
		t.Errorf("retention log as the app role = %+v, %v; want a record dropped by %s", recs, err, storagetest.AppLogin)
	}
}

// Every table the migrations create is granted to the app role: a new
// table must be added to the list in roles.go, with what serve may do to it.
func TestAppPrivilegesCoverEveryTable(t *testing.T) {
	t.Parallel()
	_, owner := storagetest.NewApp(t)
	var missing []string
	err := owner.DB().Select(&missing, `SELECT c.relname FROM pg_class c
		WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
			AND NOT has_table_privilege($1, c.oid, 'SELECT')
		ORDER BY 1`, storage.AppRole)
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) > 0 {
		t.Errorf("tables %s grant %s nothing: add them to appPrivileges in storage/roles.go", strings.Join(missing, ", "), storage.AppRole)
	}
	var appendOnly []string
	err = owner.DB().Select(&appendOnly, `SELECT t FROM unnest($2::text[]) AS t
		WHERE has_table_privilege($1, t, 'UPDATE') OR has_table_privilege($1, t, 'DELETE') OR has_table_privilege($1, t, 'TRUNCATE')`,
		storage.AppRole, pq.StringArray{"audit_events", "chain_checkpoints", "config_changes", "retention_log", "schema_migrations"})
	if err != nil {
		t.Fatal(err)
	}
	if len(appendOnly) > 0 {
		t.Errorf("%s may update, delete or truncate %v", storage.AppRole, appendOnly)
	}
}

// An owner that is not a superuser is told apart from the app role: serve
// warns about both owners and superusers.
func TestRoleTellsOwnersApart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := storagetest.URL(t)
	owner, err := storage.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	const name = "auditgraph_test_owner"
	if _, err := owner.DB().Exec(`DO $$ BEGIN
		CREATE ROLE ` + name + ` LOGIN PASSWORD '` + name + `';
	EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
	END $$`); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.DB().Exec(`ALTER TABLE audit_events OWNER TO ` + name); err != nil {
		t.Fatal(err)
	}
	s, err := storage.Open(ctx, storagetest.URLAs(u, name, name))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct {
		name string
		s    *storage.Store
		want storage.RoleInfo
		why  string
	}{
		{"superuser", owner, storage.RoleInfo{Superuser: true, Owner: true, App: true}, "is a superuser and owns the audit tables"},
		{"owner", s, storage.RoleInfo{Owner: true}, "owns the audit tables"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := tc.s.Role(ctx)
			if err != nil || r.Superuser != tc.want.Superuser || r.Owner != tc.want.Owner || r.App != tc.want.App || !r.Privileged() || r.Why() != tc.why {
				t.Errorf("Role() = %+v, %v (%q); want %+v, %q", r, err, r.Why(), tc.want, tc.why)
			}
		})
	}
}

// The owner sets how long events are kept at least; the app role can
// expire nothing within it, whatever cutoff it passes or session setting it
// makes.
func TestRetentionFloor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	app, owner := storagetest.NewApp(t)
	org := createOrg(t, app, "acme")
	appendEvents(t, app, org.ID, audit.Event{Action: audit.UserLogin, Timestamp: time.Date(2015, 3, 10, 0, 0, 0, 0, time.UTC)},
		audit.Event{Action: audit.UserLogin, Timestamp: time.Now()})
	if v, err := owner.RetentionFloor(ctx); err != nil || v != "" {
		t.Fatalf("RetentionFloor before any is set = %q, %v; want none", v, err)
	}
	var pe *pq.Error
	if err := app.SetRetentionFloor(ctx, 0, 1); !errors.As(err, &pe) || pe.Code != "42501" {
		t.Errorf("SetRetentionFloor as the app role: %v; want refused, only the owner may", err)
	}
	if err := owner.SetRetentionFloor(ctx, 0, 0); err != nil {
		t.Fatal(err)
	}
	if v, _ := owner.RetentionFloor(ctx); v != "forever" {
		t.Errorf("RetentionFloor = %q, want forever", v)
	}
	if _, err := app.ExpirePartitions(ctx, time.Now().AddDate(-10, 0, 0), false); err == nil || !strings.Contains(err.Error(), "forever") {
		t.Errorf("ExpirePartitions ten years back with the events kept forever: %v; want refused", err)
	}
	if err := owner.SetRetentionFloor(ctx, 6, 0); err != nil {
		t.Fatal(err)
	}
	if v, _ := owner.RetentionFloor(ctx); v != "6 years 0 days" {
		t.Errorf("RetentionFloor = %q, want 6 years 0 days", v)
	}
	for _, tc := range []struct{ name, stmt string }{
		{"a cutoff within it", `SELECT audit_events_expire(now() - interval '2 years', false)`},
		{"a session setting", `SET LOCAL auditgraph.retention_floor = '1 day'; SELECT audit_events_expire(now() - interval '2 years', false)`},
		{"the setting cleared", `SET LOCAL auditgraph.retention_floor = ''; SELECT audit_events_expire(now() - interval '2 years', false)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tx, err := app.DB().BeginTxx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			if _, err := tx.ExecContext(ctx, tc.stmt); err == nil || !strings.Contains(err.Error(), "within the retention of 6 years") {
				t.Errorf("%s as the app role: %v; want refused within the owner's retention", tc.stmt, err)
			}
		})
	}
	dropped, err := app.ExpirePartitions(ctx, time.Now().UTC().AddDate(-6, 0, 0), false)
	if err != nil || !slices.Contains(dropped, "audit_events_2015_03") {
		t.Errorf("ExpirePartitions at exactly 6 years = %v, %v; want 2015-03 dropped", dropped, err)
	}
}
