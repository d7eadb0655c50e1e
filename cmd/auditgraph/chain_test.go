package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/auditgraph/auditgraph/chain"
	"github.com/auditgraph/auditgraph/internal/log/notary"
	"github.com/auditgraph/auditgraph/internal/log/verify"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

var publicKeyLine = regexp.MustCompile(`(?m)^public_key: (\S+)$`)

func TestKeysGenerateAndShow(t *testing.T) {
	unsetEnv(t, signingKeyEnv)
	dir := t.TempDir()
	if code, _, stderr := runCmd(t, "keys", "show", "--data-dir", dir); code != 1 || !strings.Contains(stderr, "no signing key") {
		t.Errorf("keys show without a key = %d, %q; want 1 and an error naming the missing key", code, stderr)
	}
	code, seed, _ := runCmd(t, "keys", "generate")
	if code != 0 || len(strings.TrimSpace(seed)) != 44 {
		t.Fatalf("keys generate = %d, %q; want 0 and a base64 seed", code, seed)
	}
	file := filepath.Join(dir, "key")
	if err := os.WriteFile(file, []byte(seed), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCmd(t, "keys", "show", "--signing-key-file", file)
	if code != 0 || !regexp.MustCompile(`key_id:\s+[0-9a-f]{16}\n`).MatchString(out) || !publicKeyLine.MatchString(out) ||
		!strings.Contains(out, "BEGIN PUBLIC KEY") || strings.Contains(out, strings.TrimSpace(seed)) {
		t.Errorf("keys show = %d:\n%s\nwant the key id, public key and PEM, never the seed", code, out)
	}
	t.Setenv(signingKeyEnv, strings.TrimSpace(seed))
	if code, out2, _ := runCmd(t, "keys", "show", "--data-dir", dir); code != 0 || publicKeyLine.FindString(out2) != publicKeyLine.FindString(out) {
		t.Errorf("keys show from %s = %d:\n%s\nwant the same public key", signingKeyEnv, code, out2)
	}
	t.Setenv(signingKeyEnv, "not-a-key")
	if code, _, stderr := runCmd(t, "keys", "show"); code != 1 || !strings.Contains(stderr, signingKeyEnv) || strings.Contains(stderr, "not-a-key") {
		t.Errorf("keys show with a bad %s = %d, %q; want 1, naming the variable but not its value", signingKeyEnv, code, stderr)
	}
}

// serve generates a key on first start and checkpoints the log; verify
// then finds it intact, and after tampering names the first bad event.
func TestServeCheckpointsAndVerify(t *testing.T) {
	unsetEnv(t, signingKeyEnv)
	unsetEnv(t, "AUDITGRAPH_ADMIN_API_KEY")
	unsetEnv(t, "AUDITGRAPH_LISTEN")
	dbURL := storagetest.URL(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	srv := startServe(t, addr, "--listen", addr, "--database-url", dbURL, "--data-dir", dir, "--checkpoint-interval", "50ms")
	db, err := sqlx.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := db.Get(&n, `SELECT count(*) FROM chain_checkpoints`); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint within 10s; stderr:\n%s", srv.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	srv.stop()
	if fi, err := os.Stat(filepath.Join(dir, "signing-key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("generated key file: %v, %v; want mode 0600", fi, err)
	}
	if !strings.Contains(srv.stderr.String(), "generated the audit-log checkpoint signing key") {
		t.Errorf("stderr = %q, want the key generation logged", srv.stderr)
	}

	code, out, stderr := runCmd(t, "verify", "--database-url", dbURL, "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "database default: intact") {
		t.Fatalf("verify = %d\n%s%s\nwant 0 and the default organization intact", code, out, stderr)
	}
	_, shown, _ := runCmd(t, "keys", "show", "--data-dir", dir)
	pub := publicKeyLine.FindStringSubmatch(shown)[1]
	if code, out, _ := runCmd(t, "verify", "--database-url", dbURL, "--org", "default", "--public-key", pub); code != 0 {
		t.Errorf("verify --public-key (the key keys show prints) = %d\n%s", code, out)
	}
	// The command the Integrity page shows (auditLogIntegrity.verifyCommand)
	// is this command's, and runs as it is, given the database.
	pubKey, err := notary.ParsePublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	shownCmd := strings.Fields(verify.Command("default", pubKey))
	if len(shownCmd) < 2 || shownCmd[0] != "auditgraph" || shownCmd[1] != "verify" {
		t.Fatalf("verify.Command = %q, want auditgraph verify …", shownCmd)
	}
	if code, out, stderr := runCmd(t, append(shownCmd[1:], "--database-url", dbURL)...); code != 0 || !strings.Contains(out, "database default: intact") {
		t.Errorf("%q --database-url = %d\n%s%s\nwant 0, default intact", shownCmd, code, out, stderr)
	}
	other := "O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik="
	if code, out, _ := runCmd(t, "verify", "--database-url", dbURL, "--public-key", other); code != 3 || !strings.Contains(out, "unknown key") {
		t.Errorf("verify with another public key = %d\n%s\nwant 3 and checkpoints signed with an unknown key", code, out)
	}

	empty := t.TempDir()
	if code, _, stderr := runCmd(t, "verify", "--bucket", "file://"+empty, "--data-dir", dir); code != 1 || !strings.Contains(stderr, "no organization folders") {
		t.Errorf("verify of an empty bucket = %d, %q; want 1: an empty bucket proves nothing", code, stderr)
	}

	bucket := exportBucket(t, dbURL, "default")
	code, out, stderr = runCmd(t, "verify", "--database-url", dbURL, "--data-dir", dir, "--bucket", "file://"+bucket, "--source", "both")
	if code != 0 || !strings.Contains(out, "database default: intact") || !strings.Contains(out, "bucket default: intact") {
		t.Fatalf("verify --source both = %d\n%s%s\nwant 0, the database and the bucket intact", code, out, stderr)
	}
	// The database's newest checkpoint deleted: alone it looks not yet
	// written, the bucket's copy shows it missing.
	if _, err := db.Exec(`ALTER TABLE chain_checkpoints DISABLE TRIGGER chain_checkpoints_append_only`); err != nil {
		t.Fatal(err)
	}
	db.MustExec(`CREATE TABLE kept AS SELECT * FROM chain_checkpoints WHERE last_seq = (SELECT max(last_seq) FROM chain_checkpoints)`)
	db.MustExec(`DELETE FROM chain_checkpoints WHERE last_seq = (SELECT max(last_seq) FROM chain_checkpoints)`)
	code, out, _ = runCmd(t, "verify", "--database-url", dbURL, "--data-dir", dir, "--bucket", "file://"+bucket, "--source", "both")
	db.MustExec(`INSERT INTO chain_checkpoints SELECT * FROM kept`)
	if code != 3 || !strings.Contains(out, "database default: NOT INTACT") || !strings.Contains(out, "bucket default: intact") {
		t.Errorf("verify --source both without the database's newest checkpoint = %d\n%s\nwant 3, the database missing it", code, out)
	}

	cps, _ := filepath.Glob(filepath.Join(bucket, "wandb-audit-logs", "default", "checkpoints", "*.json"))
	if err := os.Rename(cps[0], filepath.Join(filepath.Dir(cps[0]), "999999999999.json")); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCmd(t, "verify", "--bucket", "file://"+bucket, "--public-key", pub)
	if code != 3 || !strings.Contains(out, "bucket default: NOT INTACT, first bad sequence number 1") || !strings.Contains(out, "moved") {
		t.Errorf("verify --bucket after moving a checkpoint = %d\n%s\nwant 3 and the checkpoint reported moved", code, out)
	}

	for _, q := range []string{
		`ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only`,
		`UPDATE audit_events SET actor_ip = '10.6.6.6' WHERE seq = 2`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	code, out, _ = runCmd(t, "verify", "--database-url", dbURL, "--data-dir", dir)
	if code != 3 || !strings.Contains(out, "NOT INTACT, first bad sequence number 2") || !strings.Contains(out, "INVALID seq 2:") {
		t.Errorf("verify after tampering = %d\n%s\nwant 3 naming sequence 2", code, out)
	}
	if code, out, _ := runCmd(t, append(shownCmd[1:], "--database-url", dbURL)...); code != 3 || !strings.Contains(out, "NOT INTACT, first bad sequence number 2") {
		t.Errorf("%q after tampering = %d\n%s\nwant 3 naming sequence 2", shownCmd, code, out)
	}
}

// exportBucket writes the organization's events and checkpoints into a new
// folder in the bucket layout the sync contract fixes, one object per
// checkpoint.
func exportBucket(t *testing.T, dbURL, orgName string) string {
	t.Helper()
	ctx := context.Background()
	st, err := storage.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	org, err := st.OrganizationByName(ctx, orgName)
	if err != nil {
		t.Fatal(err)
	}
	cps, err := st.Checkpoints(ctx, org.ID, 1, 1<<62)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	base := filepath.Join(dir, "wandb-audit-logs", orgName)
	for _, c := range cps {
		events, err := st.OrgEvents(ctx, org.ID, c.FirstSeq-1, int(c.LastSeq-c.FirstSeq+1))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		for _, e := range events {
			zw.Write(append(chain.AppendObject(nil, &e.Event), '\n'))
		}
		zw.Close()
		day := filepath.Join(base, events[0].Timestamp.Format("2006/01/02"))
		os.MkdirAll(day, 0o755)
		os.WriteFile(filepath.Join(day, fmt.Sprintf("%012d-%012d.ndjson.gz", c.FirstSeq, c.LastSeq)), buf.Bytes(), 0o644)
		cc := notary.ChainCheckpoint(c, orgName)
		raw, _ := cc.MarshalJSON()
		os.MkdirAll(filepath.Join(base, "checkpoints"), 0o755)
		os.WriteFile(filepath.Join(base, "checkpoints", fmt.Sprintf("%012d.json", c.LastSeq)), raw, 0o644)
	}
	return dir
}

func TestVerifyUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--from", "yesterday"}, "--from"},
		{[]string{"--to", "0"}, "--to"},
		{[]string{"--source", "tape"}, "--source"},
		{[]string{"--source", "bucket"}, "needs --bucket"},
		{[]string{"--public-key", "abc"}, "--public-key"},
		{[]string{"--bucket", "nosuch://x", "--public-key", "O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik="}, "--bucket"},
		{[]string{"--database-url", "", "--data-dir", t.TempDir(), "--public-key", "O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik="}, "no database in --data-dir"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			args := append([]string{"verify", "--database-url", unreachableDB}, tc.args...)
			if code, _, stderr := runCmd(t, args...); code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("run(%q) = %d, %q; want 2 naming %s", args, code, stderr, tc.want)
			}
		})
	}
}
