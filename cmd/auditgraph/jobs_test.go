package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
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
// first start (the admin and the instance organization) reach the bucket
// with the checkpoint the sync signs, verify finds bucket and database intact
// and both agreeing, and a changed line in the bucket is found; the retention
// job starts beside it.
func TestServeSyncsToBucket(t *testing.T) {
	t.Setenv("AUDITGRAPH_ADMIN_API_KEY", "00112233445566778899aabbccddeeff00112233")
	unsetEnv(t, "AUDITGRAPH_LISTEN")
	unsetEnv(t, signingKeyEnv)
	dir, data, dbURL := t.TempDir(), t.TempDir(), storagetest.URL(t)
	addr := freeAddr(t)
	srv := startServe(t, addr, "--listen", addr, "--database-url", dbURL, "--data-dir", data,
		"--bucket", "file://"+dir, "--sync-interval", "1h", "--retention", "7y", "--hipaa")
	deadline := time.Now().Add(10 * time.Second)
	var objects, checkpoints []string
	for {
		objects, _ = filepath.Glob(filepath.Join(dir, "wandb-audit-logs", "default", "*", "*", "*", "000000000001-*.ndjson.gz"))
		checkpoints, _ = filepath.Glob(filepath.Join(dir, "wandb-audit-logs", "default", "checkpoints", "*.json"))
		if len(objects) == 1 && len(checkpoints) == 1 {
			break
		}
		if time.Now().After(deadline) {
			entries, _ := os.ReadDir(dir)
			t.Fatalf("no event object and checkpoint in the bucket after 10s (bucket holds %v); server log:\n%s", entries, srv.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code := srv.stop(); code != 0 {
		t.Errorf("serve exited with %d", code)
	}
	if want := strings.TrimSuffix(filepath.Base(objects[0]), ".ndjson.gz")[13:] + ".json"; filepath.Base(checkpoints[0]) != want {
		t.Errorf("checkpoint %s, want %s: the sync signs up to the object's last event", filepath.Base(checkpoints[0]), want)
	}
	code, out, stderr := runCmd(t, "verify", "--database-url", dbURL, "--data-dir", data, "--bucket", "file://"+dir, "--source", "both")
	if code != 0 || !strings.Contains(out, "bucket default: intact") || !strings.Contains(out, "database default: intact") {
		t.Fatalf("verify --source both after a sync = %d\n%s%s\nwant 0, bucket and database intact", code, out, stderr)
	}

	// One line changed in the exported object (as gzip rewritten by hand).
	zr, err := os.Open(objects[0])
	if err != nil {
		t.Fatal(err)
	}
	gz, err := gzip.NewReader(zr)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(gz)
	zr.Close()
	if err != nil || !bytes.Contains(raw, []byte(`"action":"user:create"`)) {
		t.Fatalf("object holds %q, %v; want the admin's user:create", raw, err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(bytes.Replace(raw, []byte(`"action":"user:create"`), []byte(`"action":"user:update"`), 1))
	zw.Close()
	if err := os.WriteFile(objects[0], buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCmd(t, "verify", "--data-dir", data, "--bucket", "file://"+dir)
	if code != 3 || !strings.Contains(out, "bucket default: NOT INTACT") {
		t.Errorf("verify --bucket after changing an exported line = %d\n%s\nwant 3", code, out)
	}
}
