package verify_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gocloud.dev/blob/fileblob"

	"github.com/auditgraph/auditgraph/chain"
	"github.com/auditgraph/auditgraph/internal/log/verify"
)

// export writes the fixture's log in the bucket layout, one object per
// checkpoint's range, as package sync does, and returns the folder.
func (f *fixture) export(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	b, err := fileblob.OpenBucket(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, raw := range f.cps {
		c, err := chain.ParseCheckpoint(raw)
		if err != nil {
			t.Fatal(err)
		}
		events, err := f.s.OrgEvents(ctx, f.org.ID, c.FirstSeq-1, int(c.LastSeq-c.FirstSeq+1))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		for _, e := range events {
			zw.Write(append(chain.AppendObject(nil, &e.Event), '\n'))
		}
		zw.Close()
		day := events[0].Timestamp.Format("2006/01/02")
		key := fmt.Sprintf("%s%s/%s/%012d-%012d.ndjson.gz", verify.Prefix, f.org.Name, day, c.FirstSeq, c.LastSeq)
		if err := b.WriteAll(ctx, key, buf.Bytes(), nil); err != nil {
			t.Fatal(err)
		}
		if err := b.WriteAll(ctx, fmt.Sprintf("%s%s/checkpoints/%012d.json", verify.Prefix, f.org.Name, c.LastSeq), raw, nil); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func verifyBucket(t *testing.T, dir, org string) *chain.Report {
	t.Helper()
	b, err := fileblob.OpenBucket(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	r, err := verify.Bucket(context.Background(), b, org, 0, verify.Options{Keys: []ed25519.PublicKey{testKey.Public().(ed25519.PublicKey)}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// objectPath finds the exported object holding seq first.
func objectPath(t *testing.T, dir string, first int64) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "wandb-audit-logs", "acme", "*", "*", "*", fmt.Sprintf("%012d-*.ndjson.gz", first)))
	if len(m) != 1 {
		t.Fatalf("object starting at %d: found %v", first, m)
	}
	return m[0]
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	buf.ReadFrom(zr)
	return strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
}

func writeLines(t *testing.T, path string, lines []string) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(strings.Join(lines, "\n") + "\n"))
	zw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBucketVerifies(t *testing.T) {
	f := newFixture(t)
	dir := f.export(t)
	r := verifyBucket(t, dir, "acme")
	if !r.Intact() || r.Events != 60 || r.Checkpoints != 3 || r.Unsigned != 0 {
		t.Fatalf("report = %+v, want 60 events under 3 checkpoints, intact", r)
	}
	b, _ := fileblob.OpenBucket(dir, nil)
	defer b.Close()
	if orgs, err := verify.BucketOrgs(context.Background(), b); err != nil || len(orgs) != 1 || orgs[0] != "acme" {
		t.Fatalf("BucketOrgs = %v, %v; want [acme]", orgs, err)
	}
}

func TestBucketTampering(t *testing.T) {
	cp := func(dir string, seq int64) string {
		return filepath.Join(dir, "wandb-audit-logs", "acme", "checkpoints", fmt.Sprintf("%012d.json", seq))
	}
	cases := []struct {
		name     string
		tamper   func(t *testing.T, dir string)
		kind     chain.Kind
		firstBad int64
	}{
		{"modified event", func(t *testing.T, dir string) {
			p := objectPath(t, dir, 21)
			l := readLines(t, p)
			l[4] = strings.Replace(l[4], `"action":"`, `"action":"x`, 1)
			writeLines(t, p, l)
		}, chain.Invalid, 21},
		{"deleted event", func(t *testing.T, dir string) {
			p := objectPath(t, dir, 21)
			l := readLines(t, p)
			writeLines(t, p, append(l[:4], l[5:]...))
		}, chain.Invalid, 21},
		{"two events swapped", func(t *testing.T, dir string) {
			p := objectPath(t, dir, 41)
			l := readLines(t, p)
			l[2], l[3] = l[3], l[2]
			writeLines(t, p, l)
		}, chain.Invalid, 41},
		{"deleted object", func(t *testing.T, dir string) {
			os.Remove(objectPath(t, dir, 21))
		}, chain.Missing, 21},
		{"deleted checkpoint", func(t *testing.T, dir string) {
			os.Remove(cp(dir, 40))
		}, chain.Missing, 21},
		{"checkpoint moved to another path", func(t *testing.T, dir string) {
			os.Rename(cp(dir, 40), cp(dir, 45))
		}, chain.Invalid, 21},
		{"checkpoint moved to another organization", func(t *testing.T, dir string) {
			other := filepath.Join(dir, "wandb-audit-logs", "other", "checkpoints")
			os.MkdirAll(other, 0o755)
			os.Rename(cp(dir, 40), filepath.Join(other, fmt.Sprintf("%012d.json", 40)))
		}, chain.Missing, 21},
		{"forged signature", func(t *testing.T, dir string) {
			raw, _ := os.ReadFile(cp(dir, 40))
			os.WriteFile(cp(dir, 40), bytes.Replace(raw, []byte(`"first_seq":21`), []byte(`"first_seq":22`), 1), 0o644)
		}, chain.Invalid, 21},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			dir := f.export(t)
			tc.tamper(t, dir)
			r := verifyBucket(t, dir, "acme")
			if r.Intact() || r.FirstBad() != tc.firstBad {
				t.Fatalf("FirstBad() = %d, want %d; report %+v", r.FirstBad(), tc.firstBad, r)
			}
			list := r.Invalid
			if tc.kind == chain.Missing {
				list = r.Missing
			}
			if len(list) == 0 {
				t.Fatalf("no %s finding: %+v", tc.kind, r)
			}
		})
	}
}

// A checkpoint moved into another organization's folder is invalid there.
func TestBucketCheckpointOfAnotherOrganization(t *testing.T) {
	f := newFixture(t)
	dir := f.export(t)
	other := filepath.Join(dir, "wandb-audit-logs", "other", "checkpoints")
	os.MkdirAll(other, 0o755)
	raw, _ := os.ReadFile(filepath.Join(dir, "wandb-audit-logs", "acme", "checkpoints", fmt.Sprintf("%012d.json", 20)))
	os.WriteFile(filepath.Join(other, fmt.Sprintf("%012d.json", 20)), raw, 0o644)
	r := verifyBucket(t, dir, "other")
	if r.Intact() || r.FirstBad() != 1 || !strings.Contains(r.Invalid[0].What, "moved") {
		t.Fatalf("report = %+v, want the foreign checkpoint invalid", r)
	}
}
