package live_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/log/ledger"
	"github.com/auditgraph/auditgraph/internal/log/live"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

const wait = 10 * time.Second

func open(t *testing.T, url string) *storage.Store {
	t.Helper()
	s, err := storage.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// appendEvents commits one event per action in one transaction.
func appendEvents(t *testing.T, s *storage.Store, org int64, actions ...audit.Action) {
	t.Helper()
	if err := s.InTx(context.Background(), func(tx *storage.Tx) error {
		return ledger.Append(context.Background(), tx, org, events(actions...))
	}); err != nil {
		t.Fatal(err)
	}
}

func events(actions ...audit.Action) []audit.Event {
	es := make([]audit.Event, len(actions))
	for i, a := range actions {
		es[i] = audit.Event{Action: a, ActorEmail: "alice@x.io"}
	}
	return es
}

// start runs a hub until the test ends and waits until it listens.
func start(t *testing.T, cfg live.Config) *live.Hub {
	t.Helper()
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	h := live.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v, want nil after cancel", err)
		}
	})
	select {
	case <-h.Ready():
	case err := <-done:
		t.Fatalf("Run = %v before listening", err)
	case <-time.After(wait):
		t.Fatal("hub not listening after 10s")
	}
	return h
}

func subscribe(t *testing.T, h *live.Hub, org int64, match func(audit.Event) bool) *live.Subscription {
	t.Helper()
	s, err := h.Subscribe(context.Background(), org, match)
	if err != nil {
		t.Fatalf("Subscribe(%d) = %v", org, err)
	}
	t.Cleanup(s.Close)
	return s
}

// receive returns the next n events of s.
func receive(t *testing.T, s *live.Subscription, n int) []*storage.StoredEvent {
	t.Helper()
	var got []*storage.StoredEvent
	timeout := time.After(wait)
	for len(got) < n {
		select {
		case e, ok := <-s.Events():
			if !ok {
				t.Fatalf("subscription closed with %v after %d of %d events", s.Err(), len(got), n)
			}
			got = append(got, e)
		case <-timeout:
			t.Fatalf("received %d of %d events in 10s", len(got), n)
		}
	}
	return got
}

// quiet fails if s delivers anything within a short while.
func quiet(t *testing.T, s *live.Subscription) {
	t.Helper()
	select {
	case e, ok := <-s.Events():
		t.Fatalf("got event %+v (open %v), want none", e, ok)
	case <-time.After(200 * time.Millisecond):
	}
}

func seqs(es []*storage.StoredEvent) []int64 {
	out := make([]int64, len(es))
	for i, e := range es {
		out[i] = e.Seq
	}
	return out
}

func count(from, to int64) []int64 {
	var out []int64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// Two hubs stand for two server processes on one database: each hears every
// commit, whoever made it, and serves its subscribers the organization's
// events in sequence order; rolled-back appends are never announced.
func TestHubFansOutCommittedAppendsAcrossProcesses(t *testing.T) {
	t.Parallel()
	url := storagetest.URL(t)
	writer := open(t, url)
	acme, other := storagetest.NewOrg(t, writer, "acme"), storagetest.NewOrg(t, writer, "other")
	hubs := []*live.Hub{start(t, live.Config{URL: url, Store: open(t, url)}), start(t, live.Config{URL: url, Store: open(t, url)})}
	subs := []*live.Subscription{subscribe(t, hubs[0], acme, nil), subscribe(t, hubs[1], acme, nil), subscribe(t, hubs[1], acme, nil)}

	// Concurrent writers, some of whose transactions roll back after
	// appending; the organization row lock orders the commits.
	var wg sync.WaitGroup
	var mu sync.Mutex
	committed := 0
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				n := 1 + (w+i)%3
				rollback := i%4 == 3
				err := writer.InTx(context.Background(), func(tx *storage.Tx) error {
					if err := ledger.Append(context.Background(), tx, acme, events(slices.Repeat([]audit.Action{audit.UserLogin}, n)...)); err != nil {
						return err
					}
					if err := ledger.Append(context.Background(), tx, other, events(audit.UserLogin)); err != nil {
						return err
					}
					if rollback {
						return errors.New("roll back")
					}
					return nil
				})
				if err != nil && !rollback {
					t.Error(err)
				}
				if !rollback {
					mu.Lock()
					committed += n
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	for i, s := range subs {
		got := receive(t, s, committed)
		if want := count(1, int64(committed)); !slices.Equal(seqs(got), want) {
			t.Errorf("subscriber %d got sequences %v, want %v", i, seqs(got), want)
		}
		for _, e := range got {
			if e.OrgID != acme {
				t.Errorf("subscriber %d of organization %d got an event of %d", i, acme, e.OrgID)
			}
		}
		quiet(t, s)
	}

	// A rolled-back append is not delivered; the next commit is.
	err := writer.InTx(context.Background(), func(tx *storage.Tx) error {
		if err := ledger.Append(context.Background(), tx, acme, events(audit.UserLogout)); err != nil {
			return err
		}
		return errors.New("roll back")
	})
	if err == nil {
		t.Fatal("InTx returned nil, want the rollback error")
	}
	appendEvents(t, writer, acme, audit.UserCreate)
	for _, s := range subs {
		got := receive(t, s, 1)
		if got[0].Seq != int64(committed+1) || got[0].Action != audit.UserCreate {
			t.Errorf("after a rollback got %d %s, want %d user:create", got[0].Seq, got[0].Action, committed+1)
		}
	}
	if n := hubs[1].Subscribers(); n != 2 {
		t.Errorf("Subscribers() = %d, want 2", n)
	}
}

// Events of a batch larger than one read arrive complete and in order.
func TestHubDeliversLargeBatch(t *testing.T) {
	t.Parallel()
	url := storagetest.URL(t)
	st := open(t, url)
	org := storagetest.NewOrg(t, st, "acme")
	h := start(t, live.Config{URL: url, Store: st, Buffer: 5000})
	s := subscribe(t, h, org, nil)
	batch := make([]ledger.IngestEvent, 1234)
	for i := range batch {
		batch[i] = ledger.IngestEvent{Event: audit.Event{Action: audit.RunUpdate, ActorEmail: fmt.Sprintf("u%d@x.io", i)}}
	}
	res, err := ledger.Ingest(context.Background(), st, org, batch, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	got := receive(t, s, len(batch))
	if want := count(res.FirstSeq, res.LastSeq); !slices.Equal(seqs(got), want) {
		t.Errorf("got sequences %v..., want %d..%d", seqs(got)[:5], res.FirstSeq, res.LastSeq)
	}
	if got[1233].ActorEmail != "u1233@x.io" {
		t.Errorf("last event actor = %q, want u1233@x.io", got[1233].ActorEmail)
	}
}

// The subscriber's match decides what reaches its buffer.
func TestHubAppliesSubscriberMatch(t *testing.T) {
	t.Parallel()
	url := storagetest.URL(t)
	st := open(t, url)
	org := storagetest.NewOrg(t, st, "acme")
	h := start(t, live.Config{URL: url, Store: st})
	logins := subscribe(t, h, org, func(e audit.Event) bool { return e.Action == audit.UserLogin })
	all := subscribe(t, h, org, nil)
	appendEvents(t, st, org, audit.UserLogin, audit.RunUpdate, audit.UserLogin, audit.UserLogout)
	if got := seqs(receive(t, logins, 2)); !slices.Equal(got, []int64{1, 3}) {
		t.Errorf("user:login subscriber got %v, want [1 3]", got)
	}
	quiet(t, logins)
	if got := seqs(receive(t, all, 4)); !slices.Equal(got, []int64{1, 2, 3, 4}) {
		t.Errorf("unfiltered subscriber got %v, want [1 2 3 4]", got)
	}
}

// A subscriber that stops reading is dropped with ErrTooSlow once its
// buffer is full, after the events it did buffer; the others go on.
func TestHubDropsSlowSubscriber(t *testing.T) {
	t.Parallel()
	url := storagetest.URL(t)
	st := open(t, url)
	org := storagetest.NewOrg(t, st, "acme")
	h := start(t, live.Config{URL: url, Store: st, Buffer: 3})
	slow, fast := subscribe(t, h, org, nil), subscribe(t, h, org, nil)
	for i := range 6 {
		appendEvents(t, st, org, audit.UserLogin)
		if got := receive(t, fast, 1)[0].Seq; got != int64(i+1) {
			t.Fatalf("fast subscriber got sequence %d, want %d", got, i+1)
		}
	}
	var got []int64
	for e := range slow.Events() {
		got = append(got, e.Seq)
	}
	if !slices.Equal(got, []int64{1, 2, 3}) {
		t.Errorf("slow subscriber got %v before it was dropped, want [1 2 3]", got)
	}
	if err := slow.Err(); !errors.Is(err, live.ErrTooSlow) || err.Error() != "subscriber too slow, resubscribe" {
		t.Errorf("slow subscriber Err() = %v, want %v", err, live.ErrTooSlow)
	}
	if n := h.Subscribers(); n != 1 {
		t.Errorf("Subscribers() = %d after dropping the slow one, want 1", n)
	}
}

// Stopping the hub ends its subscriptions with ErrClosed and refuses new ones.
func TestHubStopEndsSubscriptions(t *testing.T) {
	t.Parallel()
	url := storagetest.URL(t)
	st := open(t, url)
	org := storagetest.NewOrg(t, st, "acme")
	h := live.New(live.Config{URL: url, Store: st, Log: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	<-h.Ready()
	s := subscribe(t, h, org, nil)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v after cancel, want nil", err)
	}
	if _, ok := <-s.Events(); ok || !errors.Is(s.Err(), live.ErrClosed) {
		t.Errorf("after stop: open %v, Err() = %v; want closed with %v", ok, s.Err(), live.ErrClosed)
	}
	if _, err := h.Subscribe(context.Background(), org, nil); !errors.Is(err, live.ErrClosed) {
		t.Errorf("Subscribe after stop = %v, want %v", err, live.ErrClosed)
	}
}

// Losing the database connection loses the notifications sent meanwhile;
// the hub reconnects, logs it, and delivers what was committed while it was
// away before anything newer.
func TestHubCatchesUpAfterReconnect(t *testing.T) {
	t.Parallel()
	url := storagetest.URL(t)
	st := open(t, url)
	org := storagetest.NewOrg(t, st, "acme")
	p := newCutter(t, url)
	logs := &logRecorder{}
	h := start(t, live.Config{URL: p.url, Store: st, Log: slog.New(logs)})
	s := subscribe(t, h, org, nil)

	appendEvents(t, st, org, audit.UserLogin)
	receive(t, s, 1)
	p.cut()
	logs.wait(t, "lost its connection")
	appendEvents(t, st, org, audit.RunUpdate, audit.RunUpdate)
	appendEvents(t, st, org, audit.RunStop)
	p.restore()
	logs.wait(t, "reconnected")
	if got := seqs(receive(t, s, 3)); !slices.Equal(got, []int64{2, 3, 4}) {
		t.Errorf("after reconnecting got sequences %v, want [2 3 4]", got)
	}
	appendEvents(t, st, org, audit.UserLogout)
	if got := receive(t, s, 1)[0].Seq; got != 5 {
		t.Errorf("then got sequence %d, want 5", got)
	}
	quiet(t, s)
}

// logRecorder keeps the messages logged through it.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, rec.Message)
	return nil
}

// wait waits until a message containing s was logged.
func (r *logRecorder) wait(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		found := slices.ContainsFunc(r.msgs, func(m string) bool { return strings.Contains(m, s) })
		r.mu.Unlock()
		if found {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	t.Fatalf("no log message containing %q in 10s; logged %q", s, r.msgs)
}

// After a long outage the listener is back within a few seconds of the
// database (it was 20.8 s after a 40 s outage with a 30 s backoff cap).
func TestHubResumesSoonAfterLongOutage(t *testing.T) {
	t.Parallel()
	url := storagetest.URL(t)
	st := open(t, url)
	org := storagetest.NewOrg(t, st, "acme")
	p := newCutter(t, url)
	logs := &logRecorder{}
	h := start(t, live.Config{URL: p.url, Store: st, Log: slog.New(logs)})
	s := subscribe(t, h, org, nil)
	p.cut()
	logs.wait(t, "lost its connection")
	time.Sleep(8 * time.Second) // old schedule: attempts at 0, 1, 3, 7, 15 s
	appendEvents(t, st, org, audit.RunStop)
	p.restore()
	back := time.Now()
	logs.wait(t, "reconnected")
	took := time.Since(back)
	t.Logf("reconnected %v after the database was back", took.Round(10*time.Millisecond))
	if took > 4*time.Second {
		t.Errorf("reconnected %v after the database was back, want within 4s", took.Round(10*time.Millisecond))
	}
	if got := seqs(receive(t, s, 1)); !slices.Equal(got, []int64{1}) {
		t.Errorf("after reconnecting got sequences %v, want [1]", got)
	}
}
