package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/chain"
	"github.com/auditgraph/auditgraph/internal/log/ledger"
	"github.com/auditgraph/auditgraph/internal/log/notary"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

const privilegedWarning = "could disable the audit log's append-only triggers"

// postEvent reports one event to serve as admin:key.
func postEvent(t *testing.T, srv *serving, key, line string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.base+"/api/v1/audit_events", strings.NewReader(line+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("admin", key)
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/v1/audit_events = %d; server log:\n%s", resp.StatusCode, srv.stderr)
	}
}

// serve migrates as the owner (--migrate-database-url) and runs as a role
// that owns nothing: first start, ingest (into a month with no partition
// yet), the bucket sync with its checkpoints, retention and a clean stop
// all work, and nothing warns; verify, as that role too, finds the log
// intact. With the owner's URL instead, serve warns.
func TestServeAsAppRole(t *testing.T) {
	const key = "00112233445566778899aabbccddeeff00112233"
	t.Setenv("AUDITGRAPH_ADMIN_API_KEY", key)
	unsetEnv(t, "AUDITGRAPH_LISTEN")
	unsetEnv(t, signingKeyEnv)
	ownerURL := storagetest.URL(t)
	appURL := storagetest.AppURL(ownerURL)
	bucket, data := t.TempDir(), t.TempDir()
	addr := freeAddr(t)
	srv := startServe(t, addr, "--listen", addr, "--database-url", appURL, "--migrate-database-url", ownerURL, "--data-dir", data,
		"--bucket", "file://"+bucket, "--sync-interval", "300ms", "--retention", "7y")
	postEvent(t, srv, key, `{"action":"user:login","actor_email":"a@x.io","timestamp":"`+time.Now().UTC().AddDate(-1, -2, 0).Format(time.RFC3339)+`"}`)
	postEvent(t, srv, key, `{"action":"user:login","actor_email":"b@x.io"}`)
	owner, err := sqlx.Open("postgres", ownerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var synced bool
		err := owner.Get(&synced, `SELECT s.synced_seq = o.last_seq AND o.last_seq >= 4 FROM organizations o JOIN bucket_sync_orgs s ON s.org_id = o.id WHERE o.name = 'default'`)
		if err == nil && synced {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events not synced within 15s (%v); server log:\n%s", err, srv.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code := srv.stop(); code != 0 {
		t.Fatalf("serve as the app role exited with %d; server log:\n%s", code, srv.stderr)
	}
	if strings.Contains(srv.stderr.String(), privilegedWarning) || strings.Contains(srv.stderr.String(), "permission denied") {
		t.Errorf("serve as the app role logged a warning about its role or a refused statement:\n%s", srv.stderr)
	}

	// serve set the retention it runs with as the floor the database
	// enforces on its role; migrate sets it, as the owner only.
	floor := func() string {
		var v string
		if err := owner.Get(&v, `SELECT array_to_string(proconfig, ' ') FROM pg_proc WHERE oid = 'audit_events_expire(timestamptz, boolean)'::regprocedure`); err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := floor(); !strings.Contains(v, "auditgraph.retention_floor=7 years 0 days") {
		t.Errorf("audit_events_expire settings after serve --retention 7y = %q, want the floor at 7 years", v)
	}
	if code, _, stderr := runCmd(t, "migrate", "--database-url", appURL, "--retention", "1d"); code != 1 || !strings.Contains(stderr, "must be owner") {
		t.Errorf("migrate --retention 1d as the app role = %d, %q; want 1, refused", code, stderr)
	}
	if code, _, stderr := runCmd(t, "migrate", "--database-url", ownerURL, "--retention", "forever"); code != 0 || !strings.Contains(floor(), "retention_floor=forever") {
		t.Errorf("migrate --retention forever as the owner = %d, %q, floor %q; want 0 and forever", code, stderr, floor())
	}
	if code, _, stderr := runCmd(t, "migrate", "--database-url", ownerURL, "--retention", "soon"); code != 2 || !strings.Contains(stderr, "--retention") {
		t.Errorf("migrate --retention soon = %d, %q; want 2", code, stderr)
	}

	saved := filepath.Join(t.TempDir(), "checkpoints.ndjson")
	code, out, stderr := runCmd(t, "verify", "--database-url", appURL, "--data-dir", data, "--bucket", "file://"+bucket, "--source", "both", "--save-checkpoint", saved)
	if code != 0 || !strings.Contains(out, "database default: intact") || !strings.Contains(out, "bucket default: intact") {
		t.Fatalf("verify as the app role = %d\n%s%s\nwant 0, both intact", code, out, stderr)
	}
	if raw, err := os.ReadFile(saved); err != nil || !strings.Contains(string(raw), `"org":"default"`) {
		t.Errorf("--save-checkpoint wrote %q, %v; want the default organization's newest checkpoint", raw, err)
	}

	addr = freeAddr(t)
	srv = startServe(t, addr, "--listen", addr, "--database-url", ownerURL, "--data-dir", data)
	srv.stop()
	if !strings.Contains(srv.stderr.String(), privilegedWarning) || !strings.Contains(srv.stderr.String(), "is a superuser") {
		t.Errorf("serve as a superuser that owns the tables did not warn; server log:\n%s", srv.stderr)
	}

	// The owner's URL is for an external database; the private cluster has
	// both roles already.
	if code, _, stderr := runCmd(t, "serve", "--listen", freeAddr(t), "--migrate-database-url", ownerURL, "--database-url", "", "--data-dir", t.TempDir()); code != 2 || !strings.Contains(stderr, "--migrate-database-url needs --database-url") {
		t.Errorf("serve --migrate-database-url without --database-url = %d, %q; want 2", code, stderr)
	}

	// An empty database, which the app role may not create tables in.
	freshDB := fmt.Sprintf("ag_fresh_%d", time.Now().UnixNano())
	owner.MustExec(`CREATE DATABASE ` + freshDB)
	t.Cleanup(func() { owner.Exec(`DROP DATABASE IF EXISTS ` + freshDB + ` WITH (FORCE)`) })
	fresh, err := url.Parse(appURL)
	if err != nil {
		t.Fatal(err)
	}
	fresh.Path = "/" + freshDB
	code, _, stderr = runCmd(t, "serve", "--listen", freeAddr(t), "--database-url", fresh.String(), "--data-dir", data)
	if code != 1 || !strings.Contains(stderr, "apply migrations as their owner") {
		t.Errorf("serve as the app role on an empty database = %d, %q; want 1 and how to migrate", code, stderr)
	}

	// A role that cannot migrate is told how, when migrations are pending.
	owner.MustExec(`DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)`)
	code, _, stderr = runCmd(t, "serve", "--listen", freeAddr(t), "--database-url", appURL, "--data-dir", data)
	if code != 1 || !strings.Contains(stderr, "--migrate-database-url") {
		t.Errorf("serve as the app role with a migration pending = %d, %q; want 1 and how to migrate", code, stderr)
	}
}

// The private cluster is migrated by its superuser, which owns the tables,
// and serve's connections are auditgraph_server's, a member of the app
// role, which cannot switch the triggers off.
func TestServeEmbeddedConnectsAsAppRole(t *testing.T) {
	unsetEnv(t, "AUDITGRAPH_DATABASE_URL")
	unsetEnv(t, "AUDITGRAPH_LISTEN")
	unsetEnv(t, "AUDITGRAPH_ADMIN_API_KEY")
	unsetEnv(t, signingKeyEnv)
	data, err := os.MkdirTemp("", "auditgraph-embedded-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(data) })
	if err := os.Chmod(data, 0o755); err != nil { // reachable by the postgres user when root
		t.Fatal(err)
	}
	addr := freeAddr(t)
	srv := startServe(t, addr, "--listen", addr, "--data-dir", data)
	run := filepath.Join(data, "run")
	super, err := sqlx.Open("postgres", "postgres:///auditgraph?host="+run+"&user=auditgraph&sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer super.Close()
	var roles []string
	if err := super.Select(&roles, `SELECT DISTINCT usename FROM pg_stat_activity
		WHERE datname = 'auditgraph' AND backend_type = 'client backend' AND pid <> pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	if len(roles) != 1 || roles[0] != embeddedServeRole {
		t.Errorf("serve's sessions run as %v, want only %s", roles, embeddedServeRole)
	}
	var floor string
	if err := super.Get(&floor, `SELECT array_to_string(proconfig, ' ') FROM pg_proc WHERE oid = 'audit_events_expire(timestamptz, boolean)'::regprocedure`); err != nil || !strings.Contains(floor, "retention_floor=forever") {
		t.Errorf("audit_events_expire settings = %q, %v; want the events kept forever, serve's default --retention", floor, err)
	}
	app, err := sqlx.Open("postgres", "postgres:///auditgraph?host="+run+"&user="+embeddedServeRole+"&sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if _, err := app.Exec(`ALTER TABLE audit_events DISABLE TRIGGER USER`); err == nil || !strings.Contains(err.Error(), "must be owner") {
		t.Errorf("ALTER TABLE audit_events DISABLE TRIGGER USER as %s: %v, want refused", embeddedServeRole, err)
	}
	if code := srv.stop(); code != 0 {
		t.Errorf("serve exited with %d", code)
	}
	if strings.Contains(srv.stderr.String(), privilegedWarning) {
		t.Errorf("serve on the private cluster warned about its role:\n%s", srv.stderr)
	}
}

// The attack of issue 10 through the command line: a superuser rewrites an
// event, recomputes the chain after it and deletes every checkpoint of a
// day-old log. verify fails on the events no checkpoint covers; an attacker
// who also makes them look new is caught by a checkpoint saved earlier
// (--expect-checkpoint) or by the bucket (--source both).
func TestVerifyFindsRewriteWithCheckpointsDeleted(t *testing.T) {
	unsetEnv(t, signingKeyEnv)
	ctx := context.Background()
	ownerURL := storagetest.URL(t)
	app, err := storage.Open(ctx, storagetest.AppURL(ownerURL))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	seed, err := notary.GenerateSeed()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "signing-key")
	if err := os.WriteFile(keyFile, []byte(seed), 0o600); err != nil {
		t.Fatal(err)
	}
	key, err := notary.LoadKey(notary.KeyConfig{File: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	orgID := storagetest.NewOrg(t, app, "acme")
	n := notary.New(notary.Config{Store: app, Key: key.Private, Log: slog.New(slog.DiscardHandler)})
	for range 2 {
		es := make([]ledger.IngestEvent, 20)
		for i := range es {
			es[i].Event = audit.Event{Action: audit.UserLogin, ActorEmail: fmt.Sprintf("u%d@acme.io", i)}
		}
		if _, err := ledger.Ingest(ctx, app, orgID, es, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if _, err := n.CheckpointAll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	owner := sqlx.MustOpen("postgres", ownerURL)
	defer owner.Close()
	owner.MustExec(`ALTER TABLE audit_events DISABLE TRIGGER USER`)
	owner.MustExec(`ALTER TABLE chain_checkpoints DISABLE TRIGGER USER`)
	owner.MustExec(`UPDATE audit_events SET received_at = received_at - interval '1 day'`)
	bucket := exportBucket(t, ownerURL, "acme")
	saved := filepath.Join(t.TempDir(), "acme.ndjson")
	verifyCmd := func(args ...string) (int, string) {
		t.Helper()
		code, out, stderr := runCmd(t, append([]string{"verify", "--database-url", ownerURL, "--signing-key-file", keyFile, "--org", "acme"}, args...)...)
		return code, out + stderr
	}
	if code, out := verifyCmd("--save-checkpoint", saved); code != 0 {
		t.Fatalf("verify before the attack = %d\n%s", code, out)
	}

	// The attack: event 5 rewritten, every later hash recomputed, the head
	// moved along, every checkpoint deleted.
	owner.MustExec(`UPDATE audit_events SET actor_email = 'intruder@evil.io' WHERE org_id = $1 AND seq = 5`, orgID)
	var prev []byte
	if err := owner.Get(&prev, `SELECT hash FROM audit_events WHERE org_id = $1 AND seq = 4`, orgID); err != nil {
		t.Fatal(err)
	}
	p := chain.Hash(prev)
	ownerStore, err := storage.Open(ctx, ownerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer ownerStore.Close()
	var fixes []string
	err = ownerStore.InSnapshot(ctx, func(tx *storage.Tx) error {
		var h chain.Hasher
		return tx.ChainEvents(ctx, orgID, 5, 1<<62, func(e *storage.ChainEvent) error {
			p = h.Next(p, e.Seq, &e.Event)
			fixes = append(fixes, fmt.Sprintf(`UPDATE audit_events SET hash = '\x%x' WHERE org_id = %d AND seq = %d`, p[:], orgID, e.Seq))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range fixes {
		owner.MustExec(q)
	}
	owner.MustExec(fmt.Sprintf(`UPDATE organizations SET last_hash = '\x%x' WHERE id = $1`, p[:]), orgID)
	owner.MustExec(`DELETE FROM chain_checkpoints`)

	for _, tc := range []struct {
		name    string
		freshen bool
		args    []string
		code    int
		want    string
	}{
		{"the chain alone cannot tell", false, []string{"--checkpoint-overdue", "0"}, 0, "database acme: intact: 40 events (seq 1..40), 0 checkpoints"},
		{"overdue events", false, nil, 3, "MISSING seq 1..40: no checkpoint covers these events"},
		{"events made to look new", true, nil, 0, "40 not yet checkpointed"},
		{"saved checkpoint", true, []string{"--expect-checkpoint", saved}, 3, "MISSING seq 1..40: the database's checkpoints end at 0, but the expected checkpoint"},
		{"the bucket's checkpoint", true, []string{"--expect-checkpoint", filepath.Join(bucket, "wandb-audit-logs", "acme", "checkpoints", "000000000040.json")}, 3, "MISSING seq 1..40"},
		{"the bucket", true, []string{"--bucket", "file://" + bucket, "--source", "both"}, 3, "the bucket holds checkpoints up to 40 that the database does not"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.freshen {
				owner.MustExec(`UPDATE audit_events SET received_at = now()`)
			}
			code, out := verifyCmd(tc.args...)
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Errorf("verify %q = %d\n%s\nwant %d and %q", tc.args, code, out, tc.code, tc.want)
			}
		})
	}

	// Someone who also holds the signing key signs the rewritten chain
	// anew: the database alone verifies; the copies kept elsewhere differ.
	if k, err := n.CheckpointAll(ctx); err != nil || k != 1 {
		t.Fatalf("re-signing the rewritten chain = %d, %v", k, err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"re-signed, the database alone", nil, 0, "database acme: intact: 40 events (seq 1..40), 1 checkpoints"},
		{"re-signed, saved checkpoint", []string{"--expect-checkpoint", saved}, 3, "INVALID seq 21..40: the database's checkpoint ending at 40 differs from the expected one"},
		{"re-signed, the bucket", []string{"--bucket", "file://" + bucket, "--source", "both"}, 3, "INVALID seq 21..40: the bucket's checkpoint ending at 40 differs from the database's"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := verifyCmd(tc.args...)
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Errorf("verify %q = %d\n%s\nwant %d and %q", tc.args, code, out, tc.code, tc.want)
			}
		})
	}

	// The organization deleted from the database altogether: the bucket
	// still names it.
	storagetest.NewOrg(t, app, "other")
	owner.MustExec(`DELETE FROM audit_events WHERE org_id = $1`, orgID)
	owner.MustExec(`DELETE FROM chain_checkpoints WHERE org_id = $1`, orgID)
	owner.MustExec(`DELETE FROM organizations WHERE id = $1`, orgID)
	code, out, _ := runCmd(t, "verify", "--database-url", ownerURL, "--signing-key-file", keyFile, "--bucket", "file://"+bucket, "--source", "both")
	if code != 3 || !strings.Contains(out, "database acme: NOT INTACT") || !strings.Contains(out, "MISSING seq 1..40: the database has none of the 40 events the bucket holds") {
		t.Errorf("verify --source both with the organization deleted = %d\n%s\nwant 3, acme missing from the database", code, out)
	}

	for _, tc := range []struct {
		name, content, want string
	}{
		{"forged", strings.Replace(mustRead(t, saved), `"last_seq":40`, `"last_seq":41`, 1), "signature does not verify"},
		{"not a checkpoint", "hello\n", "--expect-checkpoint"},
	} {
		t.Run("refuses a "+tc.name+" file", func(t *testing.T) {
			bad := filepath.Join(t.TempDir(), "bad.json")
			os.WriteFile(bad, []byte(tc.content), 0o644)
			if code, out := verifyCmd("--expect-checkpoint", bad); code != 2 || !strings.Contains(out, tc.want) {
				t.Errorf("verify --expect-checkpoint (%s) = %d\n%s\nwant 2 and %q", tc.name, code, out, tc.want)
			}
		})
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
