package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/storage/storagetest"
)

func TestLogsPullCommand(t *testing.T) {
	const key = "00112233445566778899aabbccddeeff00112233"
	t.Setenv("AUDITGRAPH_ADMIN_API_KEY", key)
	unsetEnv(t, "AUDITGRAPH_LISTEN")
	addr := freeAddr(t)
	srv := startServe(t, addr, "--listen", addr, "--database-url", storagetest.URL(t))
	dir := t.TempDir()
	pull := func(env map[string]string, args ...string) (int, string) {
		for k, v := range env {
			t.Setenv(k, v)
		}
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append([]string{"logs", "pull"}, args...), &stdout, &stderr)
		return code, stderr.String()
	}
	unsetEnv(t, "AUDITGRAPH_API_KEY")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no url", []string{"--username", "admin", "--out", dir}, "--url"},
		{"credentials in the url", []string{"--url", "http://admin:" + key + "@" + addr, "--username", "admin", "--out", dir}, "no credentials in the URL"},
		{"no key", []string{"--url", srv.base, "--username", "admin", "--out", dir}, "AUDITGRAPH_API_KEY"},
		{"bucket without state", []string{"--url", srv.base, "--username", "admin", "--api-key", "k", "--out", "file://" + dir}, "--state"},
		{"bad since", []string{"--url", srv.base, "--username", "admin", "--api-key", "k", "--out", dir, "--since", "yesterday"}, "--since"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stderr := pull(nil, tc.args...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("logs pull %q = %d, %q; want 2 and an error naming %s", tc.args, code, stderr, tc.want)
			}
			if strings.Contains(stderr, key) {
				t.Errorf("stderr shows the API key: %q", stderr)
			}
		})
	}
	bad := "ffffffffffffffffffffffffffffffffffffffff"
	code, stderr := pull(map[string]string{"AUDITGRAPH_API_KEY": bad}, "--url", srv.base, "--username", "admin", "--out", dir)
	if code != 1 || !strings.Contains(stderr, "401") || strings.Contains(stderr, bad) {
		t.Errorf("logs pull with a bad key = %d, %q; want 1, a 401 error, and no key", code, stderr)
	}
	// The first start's events are under a second old: no settle delay, and
	// a pull from the next second on (ranges end on whole seconds).
	time.Sleep(1100 * time.Millisecond)
	code, stderr = pull(map[string]string{"AUDITGRAPH_API_KEY": key}, "--url", srv.base, "--username", "admin", "--out", dir, "--settle", "0s")
	if code != 0 || stderr != "" {
		t.Fatalf("logs pull = %d, %q; want 0 and silence off a terminal", code, stderr)
	}
	raw, err := os.ReadFile(filepath.Join(dir, time.Now().UTC().Format(time.DateOnly)+".ndjson"))
	if err != nil || !strings.Contains(string(raw), `"action":"user:create"`) {
		t.Errorf("today's file = %q, %v; want the first start's events", raw, err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".auditgraph-pull-state.json")); err != nil {
		t.Errorf("no state file: %v", err)
	}
}
