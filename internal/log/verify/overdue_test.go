package verify_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/chain"
	"github.com/auditgraph/auditgraph/internal/log/verify"
	"github.com/auditgraph/auditgraph/storage"
)

// rewrite changes event seq and recomputes every hash from it on, and the
// organization's head, as a superuser who knows the algorithm can.
func (f *fixture) rewrite(t *testing.T, seq int64) {
	t.Helper()
	ctx := context.Background()
	f.tamper(t, fmt.Sprintf(`UPDATE audit_events SET actor_email = 'someone@else.io' WHERE org_id = $1 AND seq = %d`, seq))
	var prev []byte
	if err := f.s.DB().Get(&prev, `SELECT hash FROM audit_events WHERE org_id = $1 AND seq = $2`, f.org.ID, seq-1); err != nil {
		t.Fatal(err)
	}
	var fixes []string
	p := chain.Hash(prev)
	err := f.s.InSnapshot(ctx, func(tx *storage.Tx) error {
		var h chain.Hasher
		return tx.ChainEvents(ctx, f.org.ID, seq, 1<<62, func(e *storage.ChainEvent) error {
			p = h.Next(p, e.Seq, &e.Event)
			fixes = append(fixes, fmt.Sprintf(`UPDATE audit_events SET hash = '\x%x' WHERE org_id = $1 AND seq = %d`, p[:], e.Seq))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	fixes = append(fixes, fmt.Sprintf(`UPDATE organizations SET last_hash = '\x%x' WHERE id = $1`, p[:]))
	f.tamper(t, fixes...)
}

func (f *fixture) expected(t *testing.T, cps ...[]byte) []chain.Checkpoint {
	t.Helper()
	exp, err := verify.ReadCheckpoints(bytes.NewReader(bytes.Join(cps, []byte("\n"))), []ed25519.PublicKey{testKey.Public().(ed25519.PublicKey)})
	if err != nil {
		t.Fatal(err)
	}
	return exp
}

// The attack of issue 10: a superuser disables the triggers, rewrites an
// event, recomputes the chain after it consistently and deletes every
// checkpoint. The chain alone then verifies (nothing is left to contradict
// it); the age of the events no checkpoint covers, and a checkpoint kept
// elsewhere, both show it.
func TestSuperuserRewriteWithoutCheckpoints(t *testing.T) {
	cases := []struct {
		name string
		// freshen: the attacker also makes the events look just stored.
		freshen bool
		opts    func(f *fixture) verify.Options
		intact  bool
		first   int64
		what    string
	}{
		{"the chain alone cannot tell", false, func(*fixture) verify.Options { return verify.Options{} }, true, 0, ""},
		{"overdue events", false, func(*fixture) verify.Options { return verify.Options{Overdue: verify.DefaultOverdue} }, false, 1, "no checkpoint covers these events"},
		{"expected newest checkpoint", true, func(f *fixture) verify.Options {
			return verify.Options{Overdue: verify.DefaultOverdue, Expect: f.expected(t, f.cps[2])}
		}, false, 1, "checkpoints end at 0, but the expected checkpoint"},
		{"expected older checkpoint", true, func(f *fixture) verify.Options {
			return verify.Options{Expect: f.expected(t, f.cps[0])}
		}, false, 1, "vouches for events up to 20"},
		{"freshened events are not overdue", true, func(*fixture) verify.Options { return verify.Options{Overdue: verify.DefaultOverdue} }, true, 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			// The log is a day old, far past any checkpoint interval.
			f.tamper(t, `UPDATE audit_events SET received_at = received_at - interval '1 day' WHERE org_id = $1`)
			if r := f.verify(t, verify.Options{Overdue: verify.DefaultOverdue}); !r.Intact() {
				t.Fatalf("before the attack: %+v, want intact", r)
			}
			f.rewrite(t, 25)
			f.tamper(t, `DELETE FROM chain_checkpoints WHERE org_id = $1`)
			if tc.freshen {
				f.tamper(t, `UPDATE audit_events SET received_at = now() WHERE org_id = $1`)
			}
			r := f.verify(t, tc.opts(f))
			if r.Intact() != tc.intact {
				t.Fatalf("report = %+v, want intact %v", r, tc.intact)
			}
			if tc.intact {
				return
			}
			if r.FirstBad() != tc.first || len(r.Missing) == 0 || !strings.Contains(r.Missing[0].What, tc.what) {
				t.Fatalf("report = %+v, want MISSING from %d saying %q", r, tc.first, tc.what)
			}
		})
	}
}

func TestOverdueSparesRecentEvents(t *testing.T) {
	f := newFixture(t)
	f.append(t, 3) // stored just now, not yet checkpointed
	if r := f.verify(t, verify.Options{Overdue: verify.DefaultOverdue}); !r.Intact() || r.Unsigned != 3 {
		t.Fatalf("report = %+v, want intact with 3 not yet checkpointed", r)
	}
	later := func() time.Time { return time.Now().Add(2 * time.Hour) }
	r := f.verify(t, verify.Options{Overdue: verify.DefaultOverdue, Now: later})
	if r.Intact() || r.FirstBad() != 61 || r.Missing[0].LastSeq != 63 || !strings.Contains(r.Missing[0].What, "more than 1h0m0s ago") {
		t.Fatalf("report two hours later = %+v, want MISSING 61..63", r)
	}
	// An events' range that ends at a checkpoint has nothing overdue.
	if r := f.verify(t, verify.Options{Overdue: verify.DefaultOverdue, Now: later, To: verify.Bound{Seq: 40}}); !r.Intact() {
		t.Fatalf("report up to 40 = %+v, want intact", r)
	}
}

func TestExpectCheckpoint(t *testing.T) {
	f := newFixture(t)
	if r := f.verify(t, verify.Options{Expect: f.expected(t, f.cps...)}); !r.Intact() {
		t.Fatalf("report with every checkpoint expected = %+v, want intact", r)
	}
	// Another organization's checkpoints are not this one's business.
	other := f.expected(t, f.cps[2])
	other[0].Org = "other"
	if r := f.verify(t, verify.Options{Expect: other}); !r.Intact() {
		t.Fatalf("report with another organization's checkpoint = %+v, want intact", r)
	}

	f.tamper(t, `DELETE FROM chain_checkpoints WHERE org_id = $1 AND last_seq = 60`)
	r := f.verify(t, verify.Options{})
	if !r.Intact() || r.Unsigned != 20 {
		t.Fatalf("without the newest checkpoint, alone = %+v, want intact, 20 not yet checkpointed (it looks not written yet)", r)
	}
	r = f.verify(t, verify.Options{Expect: f.expected(t, f.cps[2])})
	if r.Intact() || r.FirstBad() != 41 || r.Missing[0].LastSeq != 60 || !strings.Contains(r.Missing[0].What, "the database's checkpoints end at 40") {
		t.Fatalf("with the newest checkpoint expected = %+v, want MISSING 41..60", r)
	}

	// A checkpoint replaced by one covering a different range.
	f.tamper(t, `DELETE FROM chain_checkpoints WHERE org_id = $1 AND last_seq = 40`)
	f.checkpoint(t, 60)
	r = f.verify(t, verify.Options{Expect: f.expected(t, f.cps[1])})
	if r.Intact() || r.FirstBad() != 21 || !strings.Contains(r.Missing[0].What, "has no checkpoint ending at 40") {
		t.Fatalf("with checkpoint 21..40 replaced by 21..60 = %+v, want MISSING 21..40", r)
	}
}

func TestReadCheckpointsChecksSignatures(t *testing.T) {
	f := newFixture(t)
	keys := []ed25519.PublicKey{testKey.Public().(ed25519.PublicKey)}
	forged := bytes.Replace(f.cps[0], []byte(`"last_seq":20`), []byte(`"last_seq":21`), 1)
	other := ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)
	for _, tc := range []struct {
		name string
		in   []byte
		keys []ed25519.PublicKey
		want string
	}{
		{"forged", forged, keys, "signature does not verify"},
		{"unknown key", f.cps[0], []ed25519.PublicKey{other}, "unknown key"},
		{"not a checkpoint", []byte("{}\n"), keys, "line 1"},
		{"empty", []byte("\n"), keys, "no checkpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := verify.ReadCheckpoints(bytes.NewReader(tc.in), tc.keys); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ReadCheckpoints = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if cps, err := verify.ReadCheckpoints(bytes.NewReader(bytes.Join(f.cps, []byte("\n"))), keys); err != nil || len(cps) != 3 {
		t.Errorf("ReadCheckpoints of three lines = %d, %v", len(cps), err)
	}
}
