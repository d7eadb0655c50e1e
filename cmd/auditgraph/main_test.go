package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/internal/platform/logtest"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// unreachableDB makes a command that wrongly gets past flag validation fail
// fast instead of starting a private PostgreSQL in the working directory.
const unreachableDB = "postgres://127.0.0.1:1/none?sslmode=disable&connect_timeout=1"

func TestVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"version"}, &stdout, &stderr)
	if code != 0 || !strings.HasPrefix(stdout.String(), "auditgraph ") || stderr.Len() != 0 {
		t.Errorf("run(version) = %d, stdout %q, stderr %q; want 0, \"auditgraph <version>\", nothing", code, stdout.String(), stderr.String())
	}
}

func TestRunUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		code int
		want []string // substrings of stderr
	}{
		{"no command", nil, nil, 2, []string{"usage: auditgraph"}},
		{"unknown command", []string{"frobnicate"}, nil, 2, []string{`unknown command "frobnicate"`, "usage: auditgraph"}},
		{"bad --deployment", []string{"serve", "--deployment", "cloud", "--database-url", unreachableDB}, nil, 2, []string{"--deployment", `"cloud"`}},
		{"bad AUDITGRAPH_DEPLOYMENT", []string{"serve", "--database-url", unreachableDB}, map[string]string{"AUDITGRAPH_DEPLOYMENT": "cloud"}, 2, []string{"deployment", `"cloud"`}},
		{"bad --activity-cutoff", []string{"serve", "--activity-cutoff", "2025-13-01", "--database-url", unreachableDB}, nil, 2, []string{"--activity-cutoff"}},
		{"bad --log-level", []string{"serve", "--log-level", "loud", "--database-url", unreachableDB}, nil, 2, []string{"--log-level"}},
		{"bad --log-format", []string{"migrate", "--log-format", "xml", "--database-url", unreachableDB}, nil, 2, []string{"--log-format"}},
		{"unknown flag", []string{"serve", "--no-such-flag"}, nil, 2, []string{"no-such-flag"}},
		{"extra argument", []string{"migrate", "now", "--database-url", unreachableDB}, nil, 2, []string{`unexpected argument "now"`}},
		{"bad duration from the environment", []string{"serve", "--database-url", unreachableDB}, map[string]string{"AUDITGRAPH_SHUTDOWN_TIMEOUT": "soon"}, 2, []string{"AUDITGRAPH_SHUTDOWN_TIMEOUT"}},
		{"help", []string{"serve", "-h"}, nil, 0, []string{"-database-url"}},
		{"unreachable database", []string{"migrate", "--database-url", unreachableDB}, nil, 1, []string{"auditgraph migrate:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Errorf("run(%q) = %d, want %d; stderr:\n%s", tc.args, code, tc.code, stderr.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("run(%q) stderr = %q, want it to contain %q", tc.args, stderr.String(), w)
				}
			}
		})
	}
}

func TestEnvName(t *testing.T) {
	for flagName, want := range map[string]string{
		"listen":           "AUDITGRAPH_LISTEN",
		"database-url":     "AUDITGRAPH_DATABASE_URL",
		"shutdown-timeout": "AUDITGRAPH_SHUTDOWN_TIMEOUT",
	} {
		t.Run(flagName, func(t *testing.T) {
			if got := EnvName(flagName); got != want {
				t.Errorf("EnvName(%q) = %q, want %q", flagName, got, want)
			}
		})
	}
}

func TestParseFlagsReadsEnvironment(t *testing.T) {
	t.Setenv("AUDITGRAPH_LISTEN", "0.0.0.0:9999")
	t.Setenv("AUDITGRAPH_SHUTDOWN_TIMEOUT", "7s")
	for _, tc := range []struct {
		args       []string
		wantListen string
		wantDrain  time.Duration
	}{
		{nil, "0.0.0.0:9999", 7 * time.Second},
		{[]string{"--listen", "127.0.0.1:1"}, "127.0.0.1:1", 7 * time.Second},
		{[]string{"--listen="}, "", 7 * time.Second}, // given, even empty, beats the environment
		{[]string{"--shutdown-timeout", "1m"}, "0.0.0.0:9999", time.Minute},
	} {
		t.Run(cmp.Or(strings.Join(tc.args, " "), "no flags"), func(t *testing.T) {
			fs := flag.NewFlagSet("serve", flag.ContinueOnError)
			listen := fs.String("listen", "127.0.0.1:8080", "")
			drain := fs.Duration("shutdown-timeout", 30*time.Second, "")
			if err := parseFlags(fs, tc.args); err != nil {
				t.Fatalf("parseFlags(%q) = %v", tc.args, err)
			}
			if *listen != tc.wantListen || *drain != tc.wantDrain {
				t.Errorf("parseFlags(%q): listen, shutdown-timeout = %q, %v; want %q, %v", tc.args, *listen, *drain, tc.wantListen, tc.wantDrain)
			}
		})
	}
}

// freeAddr returns a loopback address with a port nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// serving is a `run(serve ...)` in progress.
type serving struct {
	t      *testing.T
	base   string
	stderr *logtest.Buffer
	cancel context.CancelFunc
	done   chan int
}

// startServe runs `auditgraph serve args...` listening on addr and waits
// until it answers /healthz.
func startServe(t *testing.T, addr string, args ...string) *serving {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &serving{t: t, base: "http://" + addr, stderr: &logtest.Buffer{}, cancel: cancel, done: make(chan int, 1)}
	// A data folder of its own, for the generated signing key; a
	// --data-dir in args comes later and wins.
	args = append([]string{"serve", "--data-dir", t.TempDir()}, args...)
	go func() { s.done <- run(ctx, args, &bytes.Buffer{}, s.stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(15 * time.Second):
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case code := <-s.done:
			t.Fatalf("serve exited with %d before answering; stderr:\n%s", code, s.stderr)
		default:
		}
		resp, err := http.Get(s.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not answer /healthz within 20s; stderr:\n%s", s.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop cancels serve's context, as SIGTERM does, and returns its exit code.
func (s *serving) stop() int {
	s.t.Helper()
	s.cancel()
	select {
	case code := <-s.done:
		s.done <- code // for the cleanup
		return code
	case <-time.After(15 * time.Second):
		s.t.Fatalf("serve did not return within 15s of cancellation; stderr:\n%s", s.stderr)
		return -1
	}
}

// viewer asks /graphql who username:key is.
func (s *serving) viewer(username, key string) (int, string) {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.base+"/graphql", strings.NewReader(`{"query":"{ viewer { username } }"}`))
	if err != nil {
		s.t.Fatal(err)
	}
	req.SetBasicAuth(username, key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Data struct{ Viewer struct{ Username string } }
	}
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Data.Viewer.Username
}

const keyAnnouncement = "Its API key, shown only this once"

var generatedKey = regexp.MustCompile(keyAnnouncement + `:\s+([0-9a-f]{40})\s`)

// adminMembership returns the instance admin's membership of the instance's
// organization "default".
func adminMembership(t *testing.T, dbURL string) storage.Membership {
	t.Helper()
	ctx := context.Background()
	st, err := storage.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	org, err := st.OrganizationByName(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	u, err := st.UserByUsername(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.Membership(ctx, org.ID, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// unsetEnv removes name from the environment for the rest of the test.
func unsetEnv(t *testing.T, name string) {
	t.Helper()
	t.Setenv(name, "")
	os.Unsetenv(name)
}

func TestServeFirstStartThenRestart(t *testing.T) {
	unsetEnv(t, "AUDITGRAPH_ADMIN_API_KEY")
	unsetEnv(t, "AUDITGRAPH_LISTEN")
	dbURL := storagetest.URL(t)

	// First start on an empty database: an admin key is generated and
	// printed once, outside of the log lines.
	addr := freeAddr(t)
	srv := startServe(t, addr, "--listen", addr, "--database-url", dbURL)
	out := srv.stderr.String()
	m := generatedKey.FindStringSubmatch(out)
	if m == nil || strings.Count(out, keyAnnouncement) != 1 {
		t.Fatalf("first start stderr = %q, want the generated admin key announced once", out)
	}
	key := m[1]
	if want := "Open the dashboard: " + srv.base + "/signin (username admin, this key)"; !strings.Contains(out, want) {
		t.Errorf("first start stderr = %q, want %q", out, want)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "level=") && strings.Contains(line, key) {
			t.Errorf("log line %q contains the admin key", line)
		}
	}
	if code, user := srv.viewer("admin", key); code != http.StatusOK || user != "admin" {
		t.Errorf("viewer with the generated key = %d, %q; want 200, admin", code, user)
	}
	if code, _ := srv.viewer("admin", strings.Repeat("0", 40)); code != http.StatusUnauthorized {
		t.Errorf("viewer with a wrong key = %d, want 401", code)
	}
	if code := srv.stop(); code != 0 {
		t.Errorf("serve after cancellation returned %d, want 0; stderr:\n%s", code, srv.stderr)
	}
	if resp, err := http.Get(srv.base + "/healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("GET /healthz after serve returned = %d, want the listener closed", resp.StatusCode)
	}
	// Shutting down flushed the request activity it had not written yet.
	if m := adminMembership(t, dbURL); m.LastActiveAt == nil {
		t.Error("admin's last activity after a graceful shutdown = none, want the /graphql request's time")
	}

	// Second start on the same database, listening where AUDITGRAPH_LISTEN
	// says: no new key, and the first one still works.
	addr = freeAddr(t)
	t.Setenv("AUDITGRAPH_LISTEN", addr)
	srv = startServe(t, addr, "--database-url", dbURL)
	if out := srv.stderr.String(); strings.Contains(out, key) || strings.Contains(out, keyAnnouncement) {
		t.Errorf("second start stderr = %q, want no admin key", out)
	}
	if code, user := srv.viewer("admin", key); code != http.StatusOK || user != "admin" {
		t.Errorf("viewer with the first start's key after a restart = %d, %q; want 200, admin", code, user)
	}
	if code := srv.stop(); code != 0 {
		t.Errorf("second serve after cancellation returned %d, want 0; stderr:\n%s", code, srv.stderr)
	}
}

func TestServeAdminKeyFromEnvironment(t *testing.T) {
	const key = "00112233445566778899aabbccddeeff00112233"
	t.Setenv("AUDITGRAPH_ADMIN_API_KEY", key)
	unsetEnv(t, "AUDITGRAPH_LISTEN")
	addr := freeAddr(t)
	srv := startServe(t, addr, "--listen", addr, "--database-url", storagetest.URL(t), "--admin-username", "root")
	if out := srv.stderr.String(); strings.Contains(out, key) || strings.Contains(out, keyAnnouncement) {
		t.Errorf("stderr = %q, want no key printed when AUDITGRAPH_ADMIN_API_KEY is set", out)
	}
	if code, user := srv.viewer("root", key); code != http.StatusOK || user != "root" {
		t.Errorf("viewer with AUDITGRAPH_ADMIN_API_KEY = %d, %q; want 200, root", code, user)
	}
	if code := srv.stop(); code != 0 {
		t.Errorf("serve after cancellation returned %d, want 0; stderr:\n%s", code, srv.stderr)
	}
}

// The ingest API accepts events back to 2000 (ingest.Oldest), so the server
// must be able to store an event from two years ago. (Test databases come
// with partitions for the last 13 months; serve itself creates only the last
// month's and the next 3 months'.)
func TestServeStoresOlderReportedEvents(t *testing.T) {
	const key = "00112233445566778899aabbccddeeff00112233"
	t.Setenv("AUDITGRAPH_ADMIN_API_KEY", key)
	unsetEnv(t, "AUDITGRAPH_LISTEN")
	addr := freeAddr(t)
	srv := startServe(t, addr, "--listen", addr, "--database-url", storagetest.URL(t))
	ts := time.Now().UTC().AddDate(-2, 0, 0).Format(time.RFC3339)
	req, err := http.NewRequest(http.MethodPost, srv.base+"/api/v1/audit_events",
		strings.NewReader(`{"action":"user:login","timestamp":"`+ts+`","actor_email":"a@x.io"}`+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("admin", key)
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body.String(), `"stored":1`) {
		t.Errorf("POST /api/v1/audit_events with an event of %s = %d %s, want 200 with 1 stored; server log:\n%s",
			ts, resp.StatusCode, body.String(), srv.stderr)
	}
}
