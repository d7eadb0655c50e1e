package verify_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/chain"
	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/log/ledger"
	"github.com/auditgraph/auditgraph/internal/log/notary"
	"github.com/auditgraph/auditgraph/internal/log/verify"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

// testKey is a fixed signing key, so failures reproduce.
var testKey = ed25519.NewKeyFromSeed([]byte("auditgraph-verify-test-key-seed!"))

type fixture struct {
	s     *storage.Store // as the role serve runs as, which writes and verifies
	owner *storage.Store // as the tables' owner (a superuser), which tampers
	org   entity.Organization
	n     *notary.Notary
	clock time.Time
	// cps holds the JSON of each checkpoint signed, in order.
	cps [][]byte
}

// newFixture makes an organization with 60 events in three checkpoints
// (1-20, 21-40, 41-60), through both write paths: ingest batches and the
// server's own events.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{clock: time.Now().Add(-2 * time.Hour)}
	f.s, f.owner = storagetest.NewApp(t)
	err := f.s.InTx(ctx, func(tx *storage.Tx) error {
		var err error
		f.org, err = tx.CreateOrganization(ctx, "acme", "enterprise")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	f.n = notary.New(notary.Config{Store: f.s, Key: testKey, Now: func() time.Time { return f.clock }})
	for b := range 3 {
		f.ingest(t, 15, fmt.Sprintf("b%d", b))
		f.append(t, 5)
		f.checkpoint(t, int64(20*(b+1)))
	}
	return f
}

func (f *fixture) ingest(t *testing.T, n int, prefix string) {
	t.Helper()
	events := make([]ledger.IngestEvent, n)
	for i := range events {
		events[i] = ledger.IngestEvent{ClientID: fmt.Sprintf("%s-%d", prefix, i), Event: audit.Event{
			Action: audit.RunUpdate, ActorEmail: fmt.Sprintf("u%d@acme.io", i), ProjectName: "p\"q\\r\u00e9",
			ResponseCode: 200, Timestamp: time.Now().Add(-time.Duration(i) * time.Minute).Add(123 * time.Nanosecond)}}
	}
	if _, err := ledger.Ingest(context.Background(), f.s, f.org.ID, events, time.Time{}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) append(t *testing.T, n int) {
	t.Helper()
	events := make([]audit.Event, n)
	for i := range events {
		events[i] = audit.Event{Action: audit.UserUpdate, UserEmail: fmt.Sprintf("m%d@acme.io", i)}
	}
	err := f.s.InTx(context.Background(), func(tx *storage.Tx) error { return ledger.Append(context.Background(), tx, f.org.ID, events) })
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) checkpoint(t *testing.T, lastSeq int64) []byte {
	t.Helper()
	f.clock = f.clock.Add(10 * time.Minute)
	b, err := f.n.Checkpoint(context.Background(), f.org.ID, f.org.Name, lastSeq)
	if err != nil {
		t.Fatal(err)
	}
	f.cps = append(f.cps, b)
	return b
}

func (f *fixture) verify(t *testing.T, opts verify.Options) *chain.Report {
	t.Helper()
	if opts.Keys == nil {
		opts.Keys = []ed25519.PublicKey{testKey.Public().(ed25519.PublicKey)}
	}
	r, err := verify.Database(context.Background(), f.s, f.org, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// tamper runs statements as the database superuser with the append-only
// triggers switched off, as an attacker with full access would.
func (f *fixture) tamper(t *testing.T, stmts ...string) {
	t.Helper()
	all := append([]string{
		`ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only`,
		`ALTER TABLE chain_checkpoints DISABLE TRIGGER chain_checkpoints_append_only`,
	}, stmts...)
	for _, q := range all {
		var args []any
		if strings.Contains(q, "$1") {
			args = append(args, f.org.ID)
		}
		if _, err := f.owner.DB().Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func TestIntactLogVerifies(t *testing.T) {
	f := newFixture(t)
	f.append(t, 3) // not yet checkpointed
	r := f.verify(t, verify.Options{})
	if !r.Intact() || r.Events != 63 || r.Checkpoints != 3 || r.Unsigned != 3 || r.GapCount != 0 {
		t.Fatalf("report = %+v, want intact, 63 events, 3 checkpoints, 3 unsigned, no gaps", r)
	}
}

func TestTamperingIsFoundAtTheFirstBadSequence(t *testing.T) {
	cases := []struct {
		name     string
		stmts    []string
		kind     chain.Kind
		firstBad int64
	}{
		{"modified event", []string{`UPDATE audit_events SET actor_email = 'someone@else.io' WHERE org_id = $1 AND seq = 25`}, chain.Invalid, 25},
		{"modified time", []string{`UPDATE audit_events SET ts = ts + interval '1 microsecond' WHERE org_id = $1 AND seq = 33`}, chain.Invalid, 33},
		{"deleted event", []string{`DELETE FROM audit_events WHERE org_id = $1 AND seq = 25`}, chain.Missing, 25},
		{"deleted last event", []string{`DELETE FROM audit_events WHERE org_id = $1 AND seq = 60`}, chain.Missing, 60},
		{"two events swapped", []string{
			`UPDATE audit_events SET seq = -25 WHERE org_id = $1 AND seq = 25`,
			`UPDATE audit_events SET seq = 25 WHERE org_id = $1 AND seq = 26`,
			`UPDATE audit_events SET seq = 26 WHERE org_id = $1 AND seq = -25`,
		}, chain.Invalid, 25},
		// The inserted copy carries a hash correctly computed from its
		// predecessor, as an attacker who knows the algorithm would make.
		{"inserted event", []string{`INSERT INTO audit_events (org_id, seq, ts, action, actor_email, hash)
			SELECT $1, 25, ts + interval '1 microsecond', 'user:login', 'intruder@evil.io', hash FROM audit_events WHERE org_id = $1 AND seq = 25`}, chain.Invalid, 25},
		{"appended event", []string{`INSERT INTO audit_events (org_id, seq, ts, action, hash)
			SELECT $1, 61, ts, 'user:login', hash FROM audit_events WHERE org_id = $1 AND seq = 60`}, chain.Invalid, 61},
		{"deleted checkpoint", []string{`DELETE FROM chain_checkpoints WHERE org_id = $1 AND last_seq = 40`}, chain.Missing, 21},
		{"deleted first checkpoint", []string{`DELETE FROM chain_checkpoints WHERE org_id = $1 AND last_seq = 20`}, chain.Missing, 1},
		{"forged checkpoint hash", []string{`UPDATE chain_checkpoints SET last_hash = sha256(last_hash) WHERE org_id = $1 AND last_seq = 40`}, chain.Invalid, 21},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.tamper(t, tc.stmts...)
			r := f.verify(t, verify.Options{})
			if r.Intact() {
				t.Fatalf("report = %+v, want tampering found", r)
			}
			if got := r.FirstBad(); got != tc.firstBad {
				t.Fatalf("FirstBad() = %d, want %d; report %+v", got, tc.firstBad, r)
			}
			list := r.Invalid
			if tc.kind == chain.Missing {
				list = r.Missing
			}
			found := false
			for _, fd := range list {
				found = found || fd.Seq == tc.firstBad
			}
			if !found {
				t.Fatalf("no %s finding at %d: %+v", tc.kind, tc.firstBad, r)
			}
		})
	}
}

// A rewrite that recomputes every later hash still breaks the signed
// checkpoint, which names the range.
func TestRehashedRewriteBreaksTheCheckpoint(t *testing.T) {
	f := newFixture(t)
	f.tamper(t, `UPDATE audit_events SET actor_email = 'someone@else.io' WHERE org_id = $1 AND seq = 25`)
	// Recompute the hashes from 25 on, as an attacker with the algorithm can.
	ctx := context.Background()
	var prev []byte
	if err := f.s.DB().Get(&prev, `SELECT hash FROM audit_events WHERE org_id = $1 AND seq = 24`, f.org.ID); err != nil {
		t.Fatal(err)
	}
	var fixes []string
	err := f.s.InSnapshot(ctx, func(tx *storage.Tx) error {
		var h chain.Hasher
		p := chain.Hash(prev)
		return tx.ChainEvents(ctx, f.org.ID, 25, 60, func(e *storage.ChainEvent) error {
			p = h.Next(p, e.Seq, &e.Event)
			fixes = append(fixes, fmt.Sprintf(`UPDATE audit_events SET hash = '\x%x' WHERE org_id = $1 AND seq = %d`, p[:], e.Seq))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	f.tamper(t, fixes...)
	r := f.verify(t, verify.Options{})
	if r.Intact() || r.FirstBad() != 21 || len(r.Invalid) < 2 || r.Invalid[0].LastSeq != 40 {
		t.Fatalf("report = %+v, want the checkpoint 21-40 and what follows invalid", r)
	}
}

func TestDowntimeIsAGapNotInvalid(t *testing.T) {
	f := newFixture(t)
	f.clock = f.clock.Add(5 * time.Hour) // the server was down
	f.ingest(t, 4, "late")
	f.checkpoint(t, 64)
	r := f.verify(t, verify.Options{GapAfter: verify.DefaultGapAfter})
	if !r.Intact() || r.GapCount != 1 || r.Gaps[0].Seq != 61 {
		t.Fatalf("report = %+v, want intact with one gap before 61", r)
	}
}

func TestRangeStartsAtACheckpoint(t *testing.T) {
	f := newFixture(t)
	f.tamper(t, `UPDATE audit_events SET actor_email = 'x@y.io' WHERE org_id = $1 AND seq = 5`)
	r := f.verify(t, verify.Options{From: verify.Bound{Seq: 30}, To: verify.Bound{Seq: 45}})
	if !r.Intact() || r.FirstSeq != 21 || r.LastSeq != 60 || r.Checkpoints != 3 {
		t.Fatalf("report = %+v, want events 21-60 verified from checkpoint 20, intact", r)
	}
	if r := f.verify(t, verify.Options{To: verify.Bound{Seq: 10}}); r.Intact() || r.FirstBad() != 5 || r.LastSeq != 20 {
		t.Fatalf("report = %+v, want 1-20 with 5 invalid", r)
	}
}

func TestUnknownKeyIsInvalid(t *testing.T) {
	f := newFixture(t)
	other := ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)
	r := f.verify(t, verify.Options{Keys: []ed25519.PublicKey{other}})
	if r.Intact() || r.FirstBad() != 1 || !strings.Contains(r.Invalid[0].What, "unknown key") {
		t.Fatalf("report = %+v, want checkpoints signed with an unknown key", r)
	}
}

// An organization whose events predate the chain (an upgraded database)
// verifies from its first chained event.
func TestUpgradedDatabaseChainsFromFirstHashedEvent(t *testing.T) {
	ctx := context.Background()
	s := storagetest.New(t)
	var org entity.Organization
	err := s.InTx(ctx, func(tx *storage.Tx) error {
		var err error
		org, err = tx.CreateOrganization(ctx, "old", "enterprise")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec(`INSERT INTO audit_events (org_id, seq, ts, action)
		SELECT $1, g, now(), 'user:login' FROM generate_series(1, 5) g`, org.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec(`UPDATE organizations SET last_seq = 5 WHERE id = $1`, org.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.Ingest(ctx, s, org.ID, []ledger.IngestEvent{{Event: audit.Event{Action: audit.RunStop}}, {Event: audit.Event{Action: audit.RunStop}}}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	n := notary.New(notary.Config{Store: s, Key: testKey})
	b, err := n.Checkpoint(ctx, org.ID, org.Name, 7)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := chain.ParseCheckpoint(b); err != nil || c.FirstSeq != 6 || c.LastSeq != 7 {
		t.Fatalf("checkpoint = %+v, %v; want 6-7", c, err)
	}
	r, err := verify.Database(ctx, s, org, verify.Options{Keys: []ed25519.PublicKey{testKey.Public().(ed25519.PublicKey)}})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Intact() || r.Unchained != 5 || r.Events != 7 || r.Unsigned != 0 {
		t.Fatalf("report = %+v, want intact with 5 unchained events", r)
	}
}
