package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/auditgraph/auditgraph/internal/platform/pgembed"
)

// startPrimaryAndStandby starts a private primary and a streaming standby
// of it (pg_basebackup -R), and returns their URLs.
func startPrimaryAndStandby(t *testing.T) (primaryURL, standbyURL string) {
	t.Helper()
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "ag-standby-") // short: the socket path must fit
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil { // the postgres user's, under root
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	settings := map[string]string{"fsync": "off", "synchronous_commit": "off"}
	primary, err := pgembed.Start(ctx, pgembed.Config{DataDir: dir + "/p", Settings: settings})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { primary.Stop(context.Background()) })
	standby, err := pgembed.StartStandby(ctx, primary, pgembed.Config{DataDir: dir + "/s", Settings: settings})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { standby.Stop(context.Background()) })
	return primary.URL("auditgraph"), standby.URL("auditgraph")
}

// serve --read-database-url reads from a real standby and reports it in
// /readyz and /metrics; verify --database-url pointed at the standby
// verifies there without writing (a standby refuses every write).
func TestServeWithReadStandby(t *testing.T) {
	unsetEnv(t, signingKeyEnv)
	unsetEnv(t, "AUDITGRAPH_LISTEN")
	const key = "0123456789abcdef0123456789abcdef01234567"
	t.Setenv("AUDITGRAPH_ADMIN_API_KEY", key)
	primaryURL, standbyURL := startPrimaryAndStandby(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	srv := startServe(t, addr, "--listen", addr, "--database-url", primaryURL, "--read-database-url", standbyURL,
		"--data-dir", dir, "--checkpoint-interval", "50ms")
	get := func(path string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, srv.base+path, nil)
		req.SetBasicAuth("admin", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, body := get("/readyz")
		var r struct {
			ReadReplica *struct {
				Status     string   `json:"status"`
				LagSeconds *float64 `json:"lag_seconds"`
			} `json:"read_replica"`
		}
		json.Unmarshal([]byte(body), &r)
		if code == http.StatusOK && r.ReadReplica != nil && r.ReadReplica.Status == "ok" && r.ReadReplica.LagSeconds != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz = %d %s after 15s, want 200 and read_replica ok with its lag; stderr:\n%s", code, body, srv.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, body := get("/metrics"); code != http.StatusOK || !strings.Contains(body, "\nauditgraph_replica_lag_seconds ") ||
		!strings.Contains(body, "\nauditgraph_replica_used 1\n") {
		t.Errorf("/metrics = %d, want auditgraph_replica_lag_seconds and auditgraph_replica_used 1", code)
	}
	if code, body := get("/admin/audit_logs?org=default&startDate=2020-01-01&endDate=2020-01-02&limit=10"); code != http.StatusOK {
		t.Errorf("GET /admin/audit_logs (a past window, read on the standby) = %d %s", code, body)
	}

	// A checkpoint, replayed on the standby, for verify to check against.
	sb, err := sqlx.Open("postgres", standbyURL)
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	for deadline := time.Now().Add(15 * time.Second); ; {
		var n int
		if err := sb.Get(&n, `SELECT count(*) FROM chain_checkpoints`); err == nil && n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint on the standby within 15s; stderr:\n%s", srv.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code := srv.stop(); code != 0 {
		t.Fatalf("serve exited with %d; stderr:\n%s", code, srv.stderr)
	}
	code, out, stderr := runCmd(t, "verify", "--database-url", standbyURL, "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "database default: intact") {
		t.Fatalf("verify --database-url STANDBY = %d\n%s%s\nwant 0 and the default organization intact", code, out, stderr)
	}
}

func TestServeReadDatabaseURLUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--read-database-url", "postgres://h/db"}, "--read-database-url needs --database-url"},
		{[]string{"--database-url", "postgres://h/db", "--read-database-url", "postgres://u:hunter2@h:port/db"}, "--read-database-url: not a PostgreSQL URL"},
		{[]string{"--database-url", "postgres://h/db", "--read-database-url", "postgres://h2/db", "--max-replica-lag", "0s"}, "--max-replica-lag 0s: want a positive duration"},
	} {
		code, _, stderr := runCmd(t, append([]string{"serve", "--listen", "127.0.0.1:0"}, c.args...)...)
		if code != 2 || !strings.Contains(stderr, c.want) || strings.Contains(stderr, "hunter2") {
			t.Errorf("serve %v = %d, %q; want 2 and %q, never the password", c.args, code, stderr, c.want)
		}
	}
}
