package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/internal/platform/pgembed"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

// countUsers returns how many users the database at dbURL has.
func countUsers(t *testing.T, dbURL string) int {
	t.Helper()
	st, err := storage.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n, err := st.CountUsers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A taken address fails before the first start creates the admin, prints
// its key or starts the embedded PostgreSQL.
func TestServeListenAddressTaken(t *testing.T) {
	unsetEnv(t, "AUDITGRAPH_ADMIN_API_KEY")
	unsetEnv(t, "AUDITGRAPH_LISTEN")
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()

	t.Run("database URL", func(t *testing.T) {
		dbURL := storagetest.URL(t)
		code, _, stderr := runCmd(t, "serve", "--listen", addr, "--database-url", dbURL, "--data-dir", t.TempDir())
		if code != 1 || !strings.Contains(stderr, "auditgraph serve: --listen: listen tcp "+addr+": bind: address already in use") {
			t.Errorf("serve on a taken port = %d, stderr %q; want 1 and the bind error", code, stderr)
		}
		if strings.Contains(stderr, keyAnnouncement) || strings.Contains(stderr, "created instance admin") {
			t.Errorf("stderr %q announces an admin key", stderr)
		}
		if n := countUsers(t, dbURL); n != 0 {
			t.Errorf("users after serve failed to listen = %d, want 0", n)
		}
	})
	t.Run("embedded", func(t *testing.T) {
		dir := reachableDir(t)
		code, _, stderr := runCmd(t, "serve", "--listen", addr, "--data-dir", dir)
		if code != 1 || !strings.Contains(stderr, "address already in use") {
			t.Errorf("serve on a taken port = %d, stderr %q; want 1 and the bind error", code, stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "pgdata")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("pgdata after serve failed to listen: %v, want none", err)
		}
	})
	t.Run("metrics address", func(t *testing.T) {
		dbURL := storagetest.URL(t)
		code, _, stderr := runCmd(t, "serve", "--listen", freeAddr(t), "--metrics-listen", addr, "--database-url", dbURL, "--data-dir", t.TempDir())
		if code != 1 || !strings.Contains(stderr, "auditgraph serve: --metrics-listen: listen tcp "+addr) {
			t.Errorf("serve with a taken --metrics-listen = %d, stderr %q; want 1 and the bind error", code, stderr)
		}
		if n := countUsers(t, dbURL); n != 0 {
			t.Errorf("users after serve failed to listen = %d, want 0", n)
		}
	})
}

// With --log-format json every line of stderr is a JSON record, the first
// start's key included, and durations are Go duration strings.
func TestServeJSONLogs(t *testing.T) {
	unsetEnv(t, "AUDITGRAPH_ADMIN_API_KEY")
	unsetEnv(t, "AUDITGRAPH_LISTEN")
	addr := freeAddr(t)
	srv := startServe(t, addr, "--listen", addr, "--database-url", storagetest.URL(t), "--log-format", "json",
		"--shutdown-timeout", "1m30s")
	var key string
	for _, rec := range jsonRecords(t, srv.stderr.String()) {
		if rec["msg"] != adminKeyMessage {
			continue
		}
		if key != "" {
			t.Error("the admin key record appears twice")
		}
		key, _ = rec["api_key"].(string)
		try := fmt.Sprint(rec["try"])
		if rec["username"] != "admin" || len(key) != 40 || !strings.HasPrefix(try, "curl -u admin:"+key+" ") || !strings.HasSuffix(try, " http://"+addr+"/graphql") {
			t.Errorf("admin key record = %v, want username admin, a 40-character api_key and a curl command for http://%s/graphql", rec, addr)
		}
		if rec["dashboard"] != "http://"+addr+"/signin" {
			t.Errorf("admin key record's dashboard = %v, want http://%s/signin", rec["dashboard"], addr)
		}
	}
	if key == "" {
		t.Fatalf("no %q record in stderr:\n%s", adminKeyMessage, srv.stderr)
	}
	if code, user := srv.viewer("admin", key); code != http.StatusOK || user != "admin" {
		t.Errorf("viewer with the key from the JSON record = %d, %q; want 200, admin", code, user)
	}
	srv.stop()
	var drain any
	for _, rec := range jsonRecords(t, srv.stderr.String()) {
		if strings.HasPrefix(fmt.Sprint(rec["msg"]), "shutting down") {
			drain = rec["timeout"]
		}
	}
	if drain != "1m30s" {
		t.Errorf("shutdown record's timeout = %v, want \"1m30s\"", drain)
	}
}

// An error that stops serve after the logger exists is a JSON record too.
func TestServeJSONLogsError(t *testing.T) {
	unsetEnv(t, "AUDITGRAPH_LISTEN")
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	code, _, stderr := runCmd(t, "serve", "--listen", taken.Addr().String(), "--log-format", "json", "--database-url", unreachableDB)
	recs := jsonRecords(t, stderr)
	if code != 1 || len(recs) != 1 || recs[0]["level"] != "ERROR" || !strings.Contains(fmt.Sprint(recs[0]["err"]), "address already in use") {
		t.Errorf("serve --log-format json on a taken port = %d, stderr %q; want 1 and one ERROR record with the bind error", code, stderr)
	}
}

func TestJSONLogDurations(t *testing.T) {
	var buf strings.Builder
	log, err := newLogger(&buf, "info", "json")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("tick", "every", 90*time.Second, slog.Group("job", "late", 1500*time.Millisecond))
	if want := `"every":"1m30s","job":{"late":"1.5s"}}`; !strings.HasSuffix(strings.TrimSpace(buf.String()), want) {
		t.Errorf("JSON record = %s, want it to end %s", buf.String(), want)
	}
}

// jsonRecords parses every line of out as a JSON object.
func jsonRecords(t *testing.T, out string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for line := range strings.Lines(out) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("stderr line %q is not a JSON record: %v", line, err)
			continue
		}
		recs = append(recs, rec)
	}
	return recs
}

// reachableDir returns a fresh folder that the postgres user, which runs
// the embedded cluster when the tests run as root, can reach.
func reachableDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "auditgraph-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// With the embedded default, a second serve on the data folder exits naming
// the process that holds it; verify and keys create-admin-key use the
// running cluster; create-admin-key also works with the server stopped.
func TestEmbeddedDataFolderInUse(t *testing.T) {
	if _, err := pgembed.FindBinaries(""); err != nil {
		t.Skip(err)
	}
	unsetEnv(t, "AUDITGRAPH_ADMIN_API_KEY")
	unsetEnv(t, "AUDITGRAPH_LISTEN")
	unsetEnv(t, "AUDITGRAPH_DATABASE_URL")
	unsetEnv(t, signingKeyEnv)
	dir := reachableDir(t)
	addr := freeAddr(t)
	srv := startServe(t, addr, "--listen", addr, "--data-dir", dir)
	m := generatedKey.FindStringSubmatch(srv.stderr.String())
	if m == nil {
		t.Fatalf("first start printed no key:\n%s", srv.stderr)
	}

	// Before the fix the second serve ran on the first's cluster: the
	// deadline ends it.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var secondErr bytes.Buffer
	code := run(ctx, []string{"serve", "--listen", freeAddr(t), "--data-dir", dir}, &bytes.Buffer{}, &secondErr)
	stderr := secondErr.String()
	want := fmt.Sprintf("data folder in use by PID %d (", os.Getpid())
	if code != 1 || !strings.Contains(stderr, want) || !strings.Contains(stderr, "stop that process first, or choose another --data-dir") {
		t.Errorf("second serve on %s = %d, stderr:\n%s\nwant 1 and %q", dir, code, stderr, want)
	}
	for _, not := range []string{"PostgreSQL started", "listening", keyAnnouncement} {
		if strings.Contains(stderr, not) {
			t.Errorf("second serve's stderr contains %q:\n%s", not, stderr)
		}
	}
	if code, user := srv.viewer("admin", m[1]); code != http.StatusOK || user != "admin" {
		t.Errorf("first server after the second start = %d, %q; want 200, admin", code, user)
	}

	code, out, stderr := runCmd(t, "verify", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "database default: intact") || strings.Contains(stderr, "ERROR") {
		t.Errorf("verify on the running server's folder = %d\n%s%s\nwant 0, intact and no error", code, out, stderr)
	}

	code, out, stderr = runCmd(t, "keys", "create-admin-key", "--data-dir", dir)
	running := strings.TrimSuffix(out, "\n")
	if code != 0 || len(running) != 40 || !strings.Contains(stderr, "in the audit log of 1 organization") {
		t.Fatalf("keys create-admin-key with the server running = %d, stdout %q, stderr:\n%s\nwant 0 and a key", code, out, stderr)
	}
	if code, user := srv.viewer("admin", running); code != http.StatusOK || user != "admin" {
		t.Errorf("viewer with the key created while running = %d, %q; want 200, admin", code, user)
	}
	if code := srv.stop(); code != 0 {
		t.Fatalf("serve returned %d; stderr:\n%s", code, srv.stderr)
	}

	code, out, stderr = runCmd(t, "keys", "create-admin-key", "--data-dir", dir, "--name", "lost-laptop")
	stopped := strings.TrimSuffix(out, "\n")
	if code != 0 || len(stopped) != 40 || strings.Contains(stderr, stopped) {
		t.Fatalf("keys create-admin-key with the server stopped = %d, stdout %q, stderr:\n%s\nwant 0 and a key on stdout only", code, out, stderr)
	}
	addr = freeAddr(t)
	srv = startServe(t, addr, "--listen", addr, "--data-dir", dir)
	if code, user := srv.viewer("admin", stopped); code != http.StatusOK || user != "admin" {
		t.Errorf("viewer with the key created while stopped = %d, %q; want 200, admin", code, user)
	}
	db, err := sql.Open("postgres", "postgres:///auditgraph?host="+url.QueryEscape(filepath.Join(dir, "run"))+"&user=auditgraph&sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM audit_events WHERE action = 'user:create_api_key'
		AND cli_version = 'auditgraph ' || $1 || ' keys create-admin-key' AND actor_user_id = user_asset`, buildVersion()).Scan(&n); err != nil || n != 2 {
		t.Errorf("user:create_api_key events from keys create-admin-key = %d, %v; want 2", n, err)
	}

	// verify and keys create-admin-key never migrate a running server's
	// database; one with a migration missing is refused.
	var version int
	var name string
	if err := db.QueryRow(`DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations) RETURNING version, name`).Scan(&version, &name); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"verify", "--data-dir", dir}, {"keys", "create-admin-key", "--data-dir", dir}} {
		t.Run(args[0], func(t *testing.T) {
			code, out, stderr := runCmd(t, args...)
			if want := "uses an older database schema (1 migrations behind this auditgraph"; code != 1 || out != "" || !strings.Contains(stderr, want) {
				t.Errorf("%s on a running server one migration behind = %d, %q, stderr:\n%s\nwant 1 and %q", args[0], code, out, stderr, want)
			}
		})
	}
	if err := db.QueryRow(`SELECT count(*) FROM schema_migrations WHERE version = $1`, version).Scan(&n); err != nil || n != 0 {
		t.Errorf("migration %d after verify on a running server: %d rows, %v; want it not applied", version, n, err)
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, version, name); err != nil {
		t.Fatal(err)
	}
	srv.stop()
}

// A job that fails stops serve with its error: the HTTP server drains and
// closes its listener, the error is logged (a JSON record with
// --log-format json) and serve exits 1.
func TestServeJobFailureStopsServe(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			t.Setenv("AUDITGRAPH_ADMIN_API_KEY", "00112233445566778899aabbccddeeff00112233")
			unsetEnv(t, "AUDITGRAPH_LISTEN")
			fail := make(chan struct{})
			testServeJob = job{"test job", func(ctx context.Context) error {
				select {
				case <-fail:
					return errors.New("disk on fire")
				case <-ctx.Done():
					return nil
				}
			}}
			t.Cleanup(func() { testServeJob = job{} })
			addr := freeAddr(t)
			srv := startServe(t, addr, "--listen", addr, "--database-url", storagetest.URL(t), "--log-format", format)

			close(fail)
			var code int
			select {
			case code = <-srv.done:
				srv.done <- code // for the cleanup
			case <-time.After(15 * time.Second):
				t.Fatalf("serve did not return within 15s of a job failing; stderr:\n%s", srv.stderr)
			}
			out := srv.stderr.String()
			if code != 1 {
				t.Errorf("serve after a job failed = %d, want 1; stderr:\n%s", code, out)
			}
			want := "auditgraph serve: test job: disk on fire"
			if format == "json" {
				want = `"err":"test job: disk on fire"`
			}
			if !strings.Contains(out, want) || !strings.Contains(out, "shutting down: draining in-flight requests") {
				t.Errorf("stderr = %q, want the drain and %q", out, want)
			}
			if resp, err := http.Get(srv.base + "/healthz"); err == nil {
				resp.Body.Close()
				t.Errorf("GET /healthz after serve returned = %d, want the listener closed", resp.StatusCode)
			}
		})
	}
}

// On SIGTERM serve stops in order: a request still in flight finishes
// (the HTTP server drains first), and the checkpoint job, stopped after
// the drain, signs once more, covering that request's event too.
func TestServeStopOrderCheckpointsAfterDrain(t *testing.T) {
	const key = "00112233445566778899aabbccddeeff00112233"
	t.Setenv("AUDITGRAPH_ADMIN_API_KEY", key)
	unsetEnv(t, "AUDITGRAPH_LISTEN")
	unsetEnv(t, signingKeyEnv)
	dbURL := storagetest.URL(t)
	addr := freeAddr(t)
	srv := startServe(t, addr, "--listen", addr, "--database-url", dbURL, "--checkpoint-interval", "1h")

	// A report that is in its handler at SIGTERM: the handler asked for the
	// body (the server answered "100 Continue"), which is sent only once
	// serve is draining.
	line := `{"action":"user:login","actor_email":"late@x.io"}` + "\n"
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/v1/audit_events HTTP/1.1\r\nHost: %s\r\nAuthorization: Basic %s\r\n"+
		"Content-Type: application/x-ndjson\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n",
		addr, base64.StdEncoding.EncodeToString([]byte("admin:"+key)), len(line))
	r := bufio.NewReader(conn)
	if status, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(status, "HTTP/1.1 100 ") {
		t.Fatalf("answer to the report's headers = %q, %v; want 100 Continue", status, err)
	}
	if _, err := r.ReadString('\n'); err != nil { // the blank line that ends the interim response
		t.Fatal(err)
	}

	srv.cancel() // SIGTERM
	for !strings.Contains(srv.stderr.String(), "shutting down: draining in-flight requests") {
		time.Sleep(10 * time.Millisecond)
	}
	io.WriteString(conn, line)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("reading the answer to the report in flight: %v; stderr:\n%s", err, srv.stderr)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST finished during the drain = %d, want 200; stderr:\n%s", resp.StatusCode, srv.stderr)
	}
	if code := srv.stop(); code != 0 {
		t.Fatalf("serve after SIGTERM = %d, want 0; stderr:\n%s", code, srv.stderr)
	}

	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var late, uncovered int
	if err := db.QueryRow(`SELECT count(*) FROM audit_events WHERE actor_email = 'late@x.io'`).Scan(&late); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT count(*) FROM audit_events e WHERE e.seq >
		COALESCE((SELECT max(last_seq) FROM chain_checkpoints c WHERE c.org_id = e.org_id), 0)`).Scan(&uncovered); err != nil {
		t.Fatal(err)
	}
	if late != 1 || uncovered != 0 {
		t.Errorf("after serve stopped: %d events from the drained request (want 1), %d events no checkpoint covers (want 0)", late, uncovered)
	}
}
