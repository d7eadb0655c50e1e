package ledger_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/chain"
	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/log/ledger"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

var root = entity.User{ID: -1, Username: "root", InstanceAdmin: true}

// holdLog locks org's log head from outside the server, as a long
// transaction of another server would, until the returned func is called.
func holdLog(t *testing.T, s *storage.Store, org int64) (release func()) {
	t.Helper()
	tx, err := s.DB().BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`SELECT 1 FROM organizations WHERE id = $1 FOR UPDATE`, org); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() { once.Do(func() { tx.Rollback() }) }
	t.Cleanup(release)
	return release
}

// waitFor waits until in's queue for org holds n batches behind a running
// transaction.
func waitFor(t *testing.T, in *ledger.Ingester, org int64, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		w, busy := ledger.Waiting(in, org)
		if busy && w == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue: %d waiting (busy %v), want %d", w, busy, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

type answer struct {
	res ledger.IngestResult
	err error
}

// send ingests batch on a goroutine of its own; the answer arrives on the
// returned channel.
func send(ctx context.Context, in *ledger.Ingester, org int64, batch []ledger.IngestEvent) <-chan answer {
	c := make(chan answer, 1)
	go func() {
		res, err := in.Ingest(ctx, root, entity.Organization{ID: org}, batch, time.Time{})
		c <- answer{res, err}
	}()
	return c
}

func get(t *testing.T, c <-chan answer) answer {
	t.Helper()
	select {
	case a := <-c:
		return a
	case <-time.After(30 * time.Second):
		t.Fatal("no answer")
		return answer{}
	}
}

// verifyChain checks org's log: sequence numbers from 1 without gaps, every
// hash recomputed from its predecessor and its row, last_hash the newest's.
// It returns how many events the log holds.
func verifyChain(t *testing.T, s *storage.Store, org int64) int64 {
	t.Helper()
	ctx := context.Background()
	var h chain.Hasher
	prev, next := chain.Genesis, int64(1)
	err := s.InSnapshot(ctx, func(tx *storage.Tx) error {
		return tx.ChainEvents(ctx, org, 1, 1<<62, func(e *storage.ChainEvent) error {
			prev = h.Next(prev, e.Seq, &e.Event)
			if e.Seq != next || !bytes.Equal(prev[:], e.Hash) {
				return fmt.Errorf("event %d (want %d): stored hash %x, recomputed %s", e.Seq, next, e.Hash, prev)
			}
			next++
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	var last []byte
	var seq int64
	if err := s.DB().QueryRow(`SELECT last_hash, last_seq FROM organizations WHERE id = $1`, org).Scan(&last, &seq); err != nil {
		t.Fatal(err)
	}
	if seq != next-1 || next > 1 && !bytes.Equal(last, prev[:]) {
		t.Errorf("organizations: last_seq %d, last_hash %x; the chain ends at %d, %s", seq, last, next-1, prev)
	}
	return next - 1
}

func evs(ids ...string) []ledger.IngestEvent {
	out := make([]ledger.IngestEvent, len(ids))
	for i, id := range ids {
		out[i] = ev(id, audit.RunUpdate, time.Time{})
	}
	return out
}

// The batches that arrive while a transaction holds the organization's log
// wait, and the next transaction takes all of them; each request gets its
// own counts and sequence numbers, and a client id sent in two batches of
// one group, or in an earlier transaction, is stored once.
func TestGroupCommitTakesTheQueue(t *testing.T) {
	s := storagetest.New(t)
	ctx := context.Background()
	org, _ := storagetest.NewOrgWithMember(t, s, "acme", "a@acme.io")
	in := ledger.NewIngester(s)

	release := holdLog(t, s, org)
	first := send(ctx, in, org, evs("a"))
	waitFor(t, in, org, 0)
	batches := [][]ledger.IngestEvent{
		evs("b", "c"),
		evs("c", "d"), // c: in the batch before, same group
		evs("a"),      // a: stored by the transaction before
		evs("", ""),   // no ids: never duplicates
		evs("e", "e"), // e twice in one batch
	}
	var answers []<-chan answer
	for i, b := range batches {
		answers = append(answers, send(ctx, in, org, b))
		waitFor(t, in, org, i+1)
	}
	release()

	if a := get(t, first); a.err != nil || a.res != (ledger.IngestResult{Stored: 1, FirstSeq: 1, LastSeq: 1}) {
		t.Errorf("first batch: %+v, %v", a.res, a.err)
	}
	want := []ledger.IngestResult{
		{Stored: 2, FirstSeq: 2, LastSeq: 3},
		{Stored: 1, Duplicates: 1, FirstSeq: 4, LastSeq: 4},
		{Duplicates: 1},
		{Stored: 2, FirstSeq: 5, LastSeq: 6},
		{Stored: 1, Duplicates: 1, FirstSeq: 7, LastSeq: 7},
	}
	for i, c := range answers {
		if a := get(t, c); a.err != nil || a.res != want[i] {
			t.Errorf("batch %d: %+v, %v; want %+v", i, a.res, a.err, want[i])
		}
	}
	if tx, b := in.Transactions(); tx != 2 || b != 6 {
		t.Errorf("%d transactions for %d batches; want 2 for 6", tx, b)
	}
	if n := verifyChain(t, s, org); n != 7 {
		t.Errorf("log holds %d events, want 7", n)
	}
	if _, busy := ledger.Waiting(in, org); busy {
		t.Error("the organization's queue is still busy")
	}
}

// A lone batch goes straight in: no queue, one transaction.
func TestGroupCommitLoneBatch(t *testing.T) {
	s := storagetest.New(t)
	org, _ := storagetest.NewOrgWithMember(t, s, "acme", "a@acme.io")
	in := ledger.NewIngester(s)
	for i := range 3 {
		a := get(t, send(context.Background(), in, org, evs(fmt.Sprint(i))))
		if a.err != nil || a.res.Stored != 1 {
			t.Fatalf("batch %d: %+v, %v", i, a.res, a.err)
		}
	}
	if tx, b := in.Transactions(); tx != 3 || b != 3 {
		t.Errorf("%d transactions for %d batches; want 3 for 3", tx, b)
	}
}

// A batch that makes its group's transaction fail fails alone: the group is
// rolled back and each batch retried in a transaction of its own.
func TestGroupCommitRetriesWithoutTheCulprit(t *testing.T) {
	s := storagetest.New(t)
	ctx := context.Background()
	org, _ := storagetest.NewOrgWithMember(t, s, "acme", "a@acme.io")
	in := ledger.NewIngester(s)

	release := holdLog(t, s, org)
	first := send(ctx, in, org, evs("a"))
	waitFor(t, in, org, 0)
	bad := evs("x", "y")
	bad[1].ActorEmail = "nul\x00@acme.io" // PostgreSQL's text holds no NUL
	var answers []<-chan answer
	for i, b := range [][]ledger.IngestEvent{evs("b"), bad, evs("c", "x")} {
		answers = append(answers, send(ctx, in, org, b))
		waitFor(t, in, org, i+1)
	}
	release()
	if a := get(t, first); a.err != nil || a.res.Stored != 1 {
		t.Errorf("first batch: %+v, %v", a.res, a.err)
	}
	if a := get(t, answers[0]); a.err != nil || a.res.Stored != 1 {
		t.Errorf("good batch before the culprit: %+v, %v", a.res, a.err)
	}
	if a := get(t, answers[1]); a.err == nil {
		t.Errorf("the culprit: %+v, no error", a.res)
	}
	// x was the culprit's, which stored nothing: it is fresh here.
	if a := get(t, answers[2]); a.err != nil || a.res.Stored != 2 {
		t.Errorf("good batch after the culprit: %+v, %v", a.res, a.err)
	}
	if n := verifyChain(t, s, org); n != 4 {
		t.Errorf("log holds %d events, want 4", n)
	}
	// The first alone, the failed group of three, each of the three again.
	if tx, b := in.Transactions(); tx != 5 || b != 4 {
		t.Errorf("%d transactions for %d batches; want 5 for 4", tx, b)
	}
}

// A group's transaction goes on while any of its requests is waiting for
// it: a client that goes away (even the one whose goroutine runs it) does
// not fail the others' events; it ends when all have gone.
func TestGroupContextEndsWithTheLastRequest(t *testing.T) {
	a, cancelA := context.WithCancel(context.Background())
	b, cancelB := context.WithCancel(context.Background())
	ctx, stop := ledger.GroupContext(a, b)
	defer stop()
	cancelA()
	time.Sleep(10 * time.Millisecond)
	if ctx.Err() != nil {
		t.Fatal("the group's context ended with one of its two requests")
	}
	cancelB()
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the group's context outlived all its requests")
	}
}

// A request whose context ends while it waits leaves the queue: nothing of
// it is stored and the others are not held up.
func TestGroupCommitCanceledWhileQueued(t *testing.T) {
	s := storagetest.New(t)
	ctx := context.Background()
	org, _ := storagetest.NewOrgWithMember(t, s, "acme", "a@acme.io")
	in := ledger.NewIngester(s)

	release := holdLog(t, s, org)
	first := send(ctx, in, org, evs("a"))
	waitFor(t, in, org, 0)
	cctx, cancel := context.WithCancel(ctx)
	gone := send(cctx, in, org, evs("gone"))
	waitFor(t, in, org, 1)
	stays := send(ctx, in, org, evs("stays"))
	waitFor(t, in, org, 2)
	cancel()
	if a := get(t, gone); !errors.Is(a.err, context.Canceled) {
		t.Errorf("canceled batch: %+v, %v; want context.Canceled", a.res, a.err)
	}
	waitFor(t, in, org, 1)
	release()
	for _, c := range []<-chan answer{first, stays} {
		if a := get(t, c); a.err != nil || a.res.Stored != 1 {
			t.Errorf("batch: %+v, %v", a.res, a.err)
		}
	}
	if n := verifyChain(t, s, org); n != 2 {
		t.Errorf("log holds %d events, want 2", n)
	}
}

// A group takes at most the size limit's events (a single batch larger than
// the limit still goes, alone).
func TestGroupCommitBound(t *testing.T) {
	s := storagetest.New(t)
	ctx := context.Background()
	org, _ := storagetest.NewOrgWithMember(t, s, "acme", "a@acme.io")
	in := ledger.NewIngester(s)
	ledger.SetMaxGroupEvents(in, 3)

	release := holdLog(t, s, org)
	first := send(ctx, in, org, evs(""))
	waitFor(t, in, org, 0)
	var answers []<-chan answer
	for i, n := range []int{1, 1, 1, 1, 5, 2} {
		answers = append(answers, send(ctx, in, org, evs(make([]string, n)...)))
		waitFor(t, in, org, i+1)
	}
	release()
	get(t, first)
	for _, c := range answers {
		if a := get(t, c); a.err != nil {
			t.Fatal(a.err)
		}
	}
	// [1] then [1 1 1], [1], [5], [2].
	if tx, b := in.Transactions(); tx != 5 || b != 7 {
		t.Errorf("%d transactions for %d batches; want 5 for 7", tx, b)
	}
	if n := verifyChain(t, s, org); n != 12 {
		t.Errorf("log holds %d events, want 12", n)
	}
}

// Many clients sending small batches with overlapping client ids, through
// two Ingesters as two servers on one database would (their groups contend
// for the organization's lock and claim the same ids), beside the server's
// own events: the chain verifies, every id is stored once, and the answers
// add up to what the log holds (nothing lost, nothing doubled).
func TestGroupCommitConcurrent(t *testing.T) {
	s := storagetest.New(t)
	ctx := context.Background()
	org, _ := storagetest.NewOrgWithMember(t, s, "acme", "a@acme.io")
	other, _ := storagetest.NewOrgWithMember(t, s, "other", "o@other.io")
	servers := []*ledger.Ingester{ledger.NewIngester(s), ledger.NewIngester(s)}

	const clients, perClient, idPool = 32, 25, 400
	type seqRange struct{ first, last int64 }
	var (
		mu                       sync.Mutex
		sent, stored, duplicates int
		noID                     int
		ids                      = map[string]bool{}
		ranges                   []seqRange
		appended                 int
		wg                       sync.WaitGroup
	)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(c), 1))
			in := servers[c%2]
			for range perClient {
				target := org
				if c%8 == 7 {
					target = other
				}
				if c%8 == 3 {
					// The server's own events, in a transaction of their own.
					err := s.InTx(ctx, func(tx *storage.Tx) error {
						return ledger.Append(ctx, tx, org, []audit.Event{{Action: audit.UserRead}})
					})
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					appended++
					mu.Unlock()
					continue
				}
				batch := make([]ledger.IngestEvent, 1+rnd.IntN(4))
				for i := range batch {
					id := ""
					if rnd.IntN(5) > 0 {
						id = fmt.Sprint("id-", rnd.IntN(idPool))
					}
					batch[i] = ev(id, audit.RunUpdate, time.Time{})
				}
				res, err := in.Ingest(ctx, root, entity.Organization{ID: target}, batch, time.Time{})
				if err != nil {
					t.Error(err)
					return
				}
				if target != org {
					continue
				}
				mu.Lock()
				sent += len(batch)
				stored += res.Stored
				duplicates += res.Duplicates
				for _, e := range batch {
					if e.ClientID == "" {
						noID++
					} else {
						ids[e.ClientID] = true
					}
				}
				if res.Stored > 0 {
					if res.LastSeq-res.FirstSeq+1 != int64(res.Stored) {
						t.Errorf("answer %+v: the range does not hold the stored events", res)
					}
					ranges = append(ranges, seqRange{res.FirstSeq, res.LastSeq})
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if stored+duplicates != sent {
		t.Errorf("stored %d + duplicates %d != sent %d", stored, duplicates, sent)
	}
	if want := len(ids) + noID; stored != want {
		t.Errorf("stored %d, want %d (%d distinct ids, %d events without one)", stored, want, len(ids), noID)
	}
	n := verifyChain(t, s, org)
	if n != int64(stored+appended) {
		t.Errorf("log holds %d events; answers say %d stored, plus %d of the server's", n, stored, appended)
	}
	var claimed int
	s.DB().Get(&claimed, `SELECT count(*) FROM audit_event_ids WHERE org_id = $1`, org)
	if claimed != len(ids) {
		t.Errorf("%d client ids recorded, want %d", claimed, len(ids))
	}
	// The answered ranges do not overlap.
	seen := map[int64]bool{}
	for _, r := range ranges {
		for q := r.first; q <= r.last; q++ {
			if seen[q] {
				t.Fatalf("sequence number %d answered twice", q)
			}
			seen[q] = true
		}
	}
	verifyChain(t, s, other)
	for i, in := range servers {
		tx, b := in.Transactions()
		t.Logf("server %d: %d batches in %d transactions", i+1, b, tx)
	}
}

// The group's transaction runs on the goroutine of its first request; that
// request's client going away does not fail the others' events (nor its
// own, once they are in the group: it is answered as the others).
func TestGroupCommitLeaderGoesAway(t *testing.T) {
	s := storagetest.New(t)
	ctx := context.Background()
	org, _ := storagetest.NewOrgWithMember(t, s, "acme", "a@acme.io")
	in := ledger.NewIngester(s)

	release := holdLog(t, s, org)
	lctx, cancelLone := context.WithCancel(ctx)
	lone := send(lctx, in, org, evs("lone"))
	waitFor(t, in, org, 0)
	actx, cancelA := context.WithCancel(ctx)
	a := send(actx, in, org, evs("a"))
	waitFor(t, in, org, 1)
	b := send(ctx, in, org, evs("b"))
	waitFor(t, in, org, 2)
	// The lone batch's transaction ends (its client went away): the group
	// of a and b takes the queue, a's goroutine runs it, and it waits for
	// the log as the lone one did.
	cancelLone()
	if got := get(t, lone); got.err == nil {
		t.Errorf("canceled lone batch: %+v, no error", got.res)
	}
	waitFor(t, in, org, 0)
	cancelA()
	time.Sleep(50 * time.Millisecond)
	release()
	for name, c := range map[string]<-chan answer{"a": a, "b": b} {
		if got := get(t, c); got.err != nil || got.res.Stored != 1 {
			t.Errorf("batch %s: %+v, %v; want 1 stored", name, got.res, got.err)
		}
	}
	if n := verifyChain(t, s, org); n != 2 {
		t.Errorf("log holds %d events, want 2", n)
	}
	if tx, n := in.Transactions(); tx != 2 || n != 3 {
		t.Errorf("%d transactions for %d batches; want 2 for 3", tx, n)
	}
}

// After a group of several batches, the next leader with fewer waits (up to
// the linger) for the clients of that group to come back, instead of running
// alone: 32 clients would otherwise settle into groups of 1 and 31 in turn. An organization that has had no group of several
// never waits. The linger is long here so that the test does not depend on
// timing: the leader must stop waiting as soon as its group is big enough.
func TestGroupCommitLingersAfterABurst(t *testing.T) {
	s := storagetest.New(t)
	ctx := context.Background()
	org, _ := storagetest.NewOrgWithMember(t, s, "acme", "a@acme.io")
	in := ledger.NewIngester(s)
	ledger.SetGroupLinger(in, time.Minute)

	// No burst yet: a lone batch goes straight in without waiting.
	start := time.Now()
	if a := get(t, send(ctx, in, org, evs("lone"))); a.err != nil || a.res.Stored != 1 {
		t.Fatalf("lone batch: %+v, %v", a.res, a.err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("a lone batch waited %s for stragglers", d)
	}

	// A burst: one batch holds the log, four queue behind it and go in
	// together.
	release := holdLog(t, s, org)
	first := send(ctx, in, org, evs("a"))
	waitFor(t, in, org, 0)
	var burst []<-chan answer
	for i := range 4 {
		burst = append(burst, send(ctx, in, org, evs(fmt.Sprint("b", i))))
		waitFor(t, in, org, i+1)
	}
	release()
	for _, c := range append(burst, first) {
		if a := get(t, c); a.err != nil || a.res.Stored != 1 {
			t.Fatalf("burst: %+v, %v", a.res, a.err)
		}
	}
	if tx, b := in.Transactions(); tx != 3 || b != 6 {
		t.Fatalf("%d transactions for %d batches; want 3 for 6", tx, b)
	}

	// The next batch leads and waits until as many as the burst had have
	// joined its group, then goes at once.
	c := []<-chan answer{send(ctx, in, org, evs("c0"))}
	waitFor(t, in, org, 0)
	for i := 1; i < 4; i++ {
		if tx, _ := in.Transactions(); tx != 3 {
			t.Fatalf("the leader did not wait: %d transactions", tx)
		}
		c = append(c, send(ctx, in, org, evs(fmt.Sprint("c", i))))
	}
	for _, c := range c {
		if a := get(t, c); a.err != nil || a.res.Stored != 1 {
			t.Fatalf("stragglers: %+v, %v", a.res, a.err)
		}
	}
	if tx, b := in.Transactions(); tx != 4 || b != 10 {
		t.Errorf("%d transactions for %d batches; want 4 for 10 (the four stragglers together)", tx, b)
	}
	if n := verifyChain(t, s, org); n != 10 {
		t.Errorf("log holds %d events, want 10", n)
	}
}
