package notary_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/chain"
	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/log/ledger"
	"github.com/auditgraph/auditgraph/internal/log/notary"
	"github.com/auditgraph/auditgraph/internal/platform/fault"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

var key = ed25519.NewKeyFromSeed([]byte("auditgraph-notary-test-key-seed!"))

func newOrg(t *testing.T, s *storage.Store, name string, events int) entity.Organization {
	t.Helper()
	ctx := context.Background()
	var o entity.Organization
	err := s.InTx(ctx, func(tx *storage.Tx) error {
		var err error
		o, err = tx.CreateOrganization(ctx, name, "enterprise")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ingest(t, s, o, events)
	return o
}

func ingest(t *testing.T, s *storage.Store, o entity.Organization, n int) {
	t.Helper()
	es := make([]ledger.IngestEvent, n)
	for i := range es {
		es[i].Event = audit.Event{Action: audit.RunStop, ProjectName: "p"}
	}
	if _, err := ledger.Ingest(context.Background(), s, o.ID, es, time.Time{}); err != nil {
		t.Fatal(err)
	}
}

func TestCheckpointAllSignsWhatGrew(t *testing.T) {
	ctx := context.Background()
	s := storagetest.New(t)
	a := newOrg(t, s, "a", 3)
	newOrg(t, s, "b", 2)
	n := notary.New(notary.Config{Store: s, Key: key, Log: slog.New(slog.DiscardHandler)})
	if k, err := n.CheckpointAll(ctx); err != nil || k != 2 {
		t.Fatalf("CheckpointAll = %d, %v; want 2", k, err)
	}
	if k, err := n.CheckpointAll(ctx); err != nil || k != 0 {
		t.Fatalf("CheckpointAll with nothing new = %d, %v; want 0", k, err)
	}
	ingest(t, s, a, 4)
	if k, err := n.CheckpointAll(ctx); err != nil || k != 1 {
		t.Fatalf("CheckpointAll after a grew = %d, %v; want 1", k, err)
	}
	last, err := s.LastCheckpoint(ctx, a.ID)
	if err != nil || last.FirstSeq != 4 || last.LastSeq != 7 {
		t.Fatalf("a's last checkpoint = %+v, %v; want 4-7", last, err)
	}
	first, err := s.CheckpointAt(ctx, a.ID, 3)
	if err != nil || !bytes.Equal(last.PreviousSignature, first.Signature) {
		t.Fatalf("checkpoint 4-7 does not carry 1-3's signature: %v", err)
	}
	c := notary.ChainCheckpoint(last, "a")
	if !c.Verify(key.Public().(ed25519.PublicKey)) {
		t.Fatal("stored checkpoint does not verify")
	}

	// The same range asked for again returns the same checkpoint; a range
	// no checkpoint ends at is refused.
	again, err := n.Checkpoint(ctx, a.ID, "a", 3)
	if err != nil {
		t.Fatal(err)
	}
	want := notary.ChainCheckpoint(first, "a")
	if wb, _ := want.MarshalJSON(); !bytes.Equal(again, wb) {
		t.Errorf("Checkpoint(3) again = %s, want %s", again, wb)
	}
	if _, err := n.Checkpoint(ctx, a.ID, "a", 5); err == nil || !strings.Contains(err.Error(), "no checkpoint") {
		t.Errorf("Checkpoint(5) inside a signed range = %v, want an error", err)
	}
}

func TestCheckpointAllSkipsWhileAnotherProcessRunsIt(t *testing.T) {
	ctx := context.Background()
	s := storagetest.New(t)
	newOrg(t, s, "a", 2)
	held := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error)
	go func() {
		done <- s.InTx(ctx, func(tx *storage.Tx) error {
			if ok, err := tx.TryLockCheckpointJob(ctx); err != nil || !ok {
				return errors.New("could not take the job lock")
			}
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	n := notary.New(notary.Config{Store: s, Key: key, Log: slog.New(slog.DiscardHandler)})
	k, err := n.CheckpointAll(ctx)
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err != nil || k != 0 {
		t.Fatalf("CheckpointAll while another holds the lock = %d, %v; want 0", k, err)
	}
	if k, err := n.CheckpointAll(ctx); err != nil || k != 1 {
		t.Fatalf("CheckpointAll after = %d, %v; want 1", k, err)
	}
}

func TestBrokenChainIsNotSigned(t *testing.T) {
	ctx := context.Background()
	s := storagetest.New(t)
	a, b := newOrg(t, s, "a", 3), newOrg(t, s, "b", 2)
	for _, q := range []string{
		`ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only`,
		`UPDATE audit_events SET project_name = 'q' WHERE org_id = $1 AND seq = 2`,
	} {
		args := []any{}
		if strings.Contains(q, "$1") {
			args = append(args, a.ID)
		}
		if _, err := s.DB().Exec(q, args...); err != nil {
			t.Fatal(err)
		}
	}
	var logs bytes.Buffer
	n := notary.New(notary.Config{Store: s, Key: key, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	_, err := n.Checkpoint(ctx, a.ID, "a", 3)
	var broken *notary.BrokenError
	if !errors.As(err, &broken) || broken.Seq != 2 {
		t.Fatalf("Checkpoint over a modified event = %v, want a BrokenError at 2", err)
	}
	if k, err := n.CheckpointAll(ctx); err != nil || k != 1 {
		t.Fatalf("CheckpointAll = %d, %v; want b signed, a skipped", k, err)
	}
	if _, err := s.LastCheckpoint(ctx, a.ID); !errors.Is(err, fault.ErrNotFound) {
		t.Errorf("a's checkpoint: %v, want none", err)
	}
	if _, err := s.LastCheckpoint(ctx, b.ID); err != nil {
		t.Errorf("b's checkpoint: %v", err)
	}
	if !strings.Contains(logs.String(), "seq=2") {
		t.Errorf("log = %q, want the broken sequence number", logs.String())
	}
}

func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	if _, err := notary.LoadKey(notary.KeyConfig{DataDir: dir}); !errors.Is(err, notary.ErrNoKey) {
		t.Fatalf("LoadKey without a key = %v, want ErrNoKey", err)
	}
	k, err := notary.LoadKey(notary.KeyConfig{DataDir: dir, Generate: true})
	if err != nil || !k.Generated {
		t.Fatalf("LoadKey(Generate) = %+v, %v", k.Source, err)
	}
	fi, err := os.Stat(filepath.Join(dir, notary.KeyFileName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("generated key file: %v, %v; want mode 0600", fi, err)
	}
	again, err := notary.LoadKey(notary.KeyConfig{DataDir: dir, Generate: true})
	if err != nil || again.Generated || !again.Private.Equal(k.Private) {
		t.Fatalf("second LoadKey = generated %v, %v; want the same key loaded", again.Generated, err)
	}
	seed, _ := notary.GenerateSeed()
	file := filepath.Join(t.TempDir(), "key")
	os.WriteFile(file, []byte(seed+"\n"), 0o600)
	fromFile, err := notary.LoadKey(notary.KeyConfig{File: file, Env: "ignored", DataDir: dir})
	if err != nil || fromFile.Source != file || fromFile.Private.Equal(k.Private) {
		t.Fatalf("LoadKey(File) = %q, %v; want the file's key", fromFile.Source, err)
	}
	if _, err := notary.LoadKey(notary.KeyConfig{Env: "c2VjcmV0"}); err == nil || strings.Contains(err.Error(), "c2VjcmV0") {
		t.Fatalf("LoadKey(bad env) = %v, want an error without the value", err)
	}
	if id := chain.KeyID(k.Public()); len(id) != 16 {
		t.Errorf("KeyID = %q, want 16 hex digits", id)
	}
}

// A server stopped cleanly leaves every event covered: Run signs once more
// as it ends, whatever its interval.
func TestRunSignsAtTheEnd(t *testing.T) {
	s, _ := storagetest.NewApp(t)
	o := newOrg(t, s, "a", 3)
	n := notary.New(notary.Config{Store: s, Key: key, Log: slog.New(slog.DiscardHandler), Interval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of its context ending")
	}
	c, err := s.LastCheckpoint(context.Background(), o.ID)
	if err != nil || c.LastSeq != 3 {
		t.Errorf("last checkpoint after Run ended = %+v, %v; want one ending at 3", c, err)
	}
}
