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

func TestServeJobFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"bucket in multi-tenant", []string{"--deployment", "multi-tenant", "--bucket", "file:///tmp"},
			"--bucket: multi-tenant deployments have no bucket sync"},
		{"zero sync interval", []string{"--bucket", "file:///tmp", "--sync-interval", "0s"}, "--sync-interval: must be positive"},
		{"bad retention", []string{"--retention", "6 months"}, `--retention "6 months": want a whole number of days or years`},
		{"retention under 6 years with --hipaa", []string{"--retention", "2190d", "--hipaa"},
			"--retention 2190d is shorter than the 6 years --hipaa requires"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"serve", "--database-url", unreachableDB}, tc.args...)
			if code := run(context.Background(), args, &stdout, &stderr); code != 2 {
				t.Errorf("run(%q) = %d, want 2; stderr:\n%s", args, code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("run(%q) stderr = %q, want it to contain %q", args, stderr.String(), tc.want)
			}
		})
	}
}

// TestServeSyncsToBucket starts serve with a file:// bucket: the events of the
// first start (the admin and the instance organization) reach the bucket, and
// the retention job starts beside it.
func TestServeSyncsToBucket(t *testing.T) {
	t.Setenv("AUDITGRAPH_ADMIN_API_KEY", "00112233445566778899aabbccddeeff00112233")
	unsetEnv(t, "AUDITGRAPH_LISTEN")
	dir := t.TempDir()
	addr := freeAddr(t)
	srv := startServe(t, addr, "--listen", addr, "--database-url", storagetest.URL(t), "--bucket", "file://"+dir, "--sync-interval", "1h", "--retention", "7y", "--hipaa")
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, _ := filepath.Glob(filepath.Join(dir, "wandb-audit-logs", "default", "*", "*", "*", "000000000001-*.ndjson.gz"))
		if len(got) == 1 {
			break
		}
		if time.Now().After(deadline) {
			entries, _ := os.ReadDir(dir)
			t.Fatalf("no event object in the bucket after 10s (bucket holds %v); server log:\n%s", entries, srv.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code := srv.stop(); code != 0 {
		t.Errorf("serve exited with %d", code)
	}
}
