package ledger

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/storage"
)

// DefaultMaxGroupEvents bounds the events one group transaction takes from
// the queue (a single batch larger than that still goes alone).
const DefaultMaxGroupEvents = 10_000

// DefaultGroupLinger bounds how long a group's leader waits for more
// batches before its transaction starts. It waits only while its
// organization is under contention (see gather): an organization whose
// batches arrive one at a time never waits.
const DefaultGroupLinger = 2 * time.Millisecond

// errGroupPanic answers the requests of a group whose transaction panicked.
var errGroupPanic = errors.New("ledger: the group's transaction failed")

// groups is group commit for reported batches: the batches for one
// organization that arrive while a transaction holds its log queue behind
// it, and the next transaction takes all of them (up to maxEvents events) in
// one lock, one chain update, one COPY, one rollup update and one commit.
//
// A batch for an organization with no transaction of this server's running
// goes straight in, in a transaction of its own: grouping adds no wait when
// there is no contention, only a queue when there is. Each request is
// answered after the transaction holding its events commits, with its own
// counts. A batch that fails validation never joins a queue (newBatch runs
// first). Group transactions, and the server's own events (Append, in the
// caller's transaction), are ordered by the organization's row lock as
// before.
type groups struct {
	store     *storage.Store
	maxEvents int
	linger    time.Duration

	mu sync.Mutex
	// queues holds the organizations with a transaction of this server
	// running; its value is the batches waiting for the next one.
	queues map[int64]*queue
	// bursts remembers, for the organizations whose last group was
	// larger than one batch, that group's size and when it ended.
	bursts map[int64]burst

	transactions, batches atomic.Int64
}

type queue struct{ waiting []*request }

// burst is an organization's last group of more than one batch.
type burst struct {
	size int
	end  time.Time
}

// request is one batch on its way in.
type request struct {
	ctx   context.Context
	b     *batch
	since time.Time
	// ready is closed when the request is answered (res, err) or is to
	// run the next group (group set, itself first).
	ready chan struct{}
	group []*request
	res   IngestResult
	err   error
}

func newGroups(store *storage.Store) *groups {
	return &groups{store: store, maxEvents: DefaultMaxGroupEvents, linger: DefaultGroupLinger,
		queues: map[int64]*queue{}, bursts: map[int64]burst{}}
}

// ingest stores events in orgID's log, grouped with the batches for orgID
// that arrive concurrently, as Ingest does for one batch.
func (g *groups) ingest(ctx context.Context, orgID int64, events []IngestEvent, activeSince time.Time) (IngestResult, error) {
	if len(events) == 0 {
		return IngestResult{}, nil
	}
	b, err := newBatch(orgID, len(events), func(i int) (audit.Event, string) { return events[i].Event, events[i].ClientID })
	if err != nil {
		return IngestResult{}, err
	}
	if err := g.store.EnsureEventPartitions(ctx, b.events); err != nil {
		return IngestResult{}, err
	}
	r := &request{ctx: ctx, b: b, since: activeSince, ready: make(chan struct{})}
	g.mu.Lock()
	q, busy := g.queues[orgID]
	if !busy {
		// No transaction for orgID: go straight in.
		g.queues[orgID] = &queue{}
		g.mu.Unlock()
		g.lead(orgID, g.gather(orgID, []*request{r}))
		return r.res, r.err
	}
	q.waiting = append(q.waiting, r)
	g.mu.Unlock()
	select {
	case <-r.ready:
	case <-ctx.Done():
		g.mu.Lock()
		if i := slices.Index(q.waiting, r); i >= 0 {
			// Not taken yet: leave the queue, nothing of it stored.
			q.waiting = slices.Delete(q.waiting, i, i+1)
			g.mu.Unlock()
			return IngestResult{}, ctx.Err()
		}
		g.mu.Unlock()
		// Taken into a group already: its events may commit; wait for
		// the answer (the group's context ends when all of its requests'
		// do).
		<-r.ready
	}
	if r.group != nil {
		g.lead(orgID, g.gather(orgID, r.group))
	}
	return r.res, r.err
}

// gather returns group, the batches a leader was given, with the batches
// for orgID that queue within g.linger added, when orgID is under
// contention: its last group of several batches ended less than 10 lingers
// ago and group has fewer. It stops waiting as soon as it has as many.
//
// Without it, 32 clients sending one batch each settle into groups of 1
// and 31 in turn: the one client answered first comes back while the 31
// are stored and makes a group of its own, during which the 31 come back.
// Each transaction costs about the same whatever its size, so the small
// group halves the rate. Waiting only for half as many would settle into
// groups of 16 and 16, no better. A client that reports alone never waits:
// it has no recent group of several.
func (g *groups) gather(orgID int64, group []*request) []*request {
	if g.linger <= 0 {
		return group
	}
	g.mu.Lock()
	b, ok := g.bursts[orgID]
	g.mu.Unlock()
	want := b.size
	if !ok || len(group) >= want || time.Since(b.end) > 10*g.linger {
		return group
	}
	events := 0
	for _, r := range group {
		events += len(r.b.events)
	}
	deadline := time.Now().Add(g.linger)
	for len(group) < want && events < g.maxEvents && time.Now().Before(deadline) {
		time.Sleep(min(g.linger/8, 250*time.Microsecond))
		g.mu.Lock()
		q := g.queues[orgID]
		n := 0
		for n < len(q.waiting) && events+len(q.waiting[n].b.events) <= g.maxEvents {
			events += len(q.waiting[n].b.events)
			n++
		}
		group = append(group, q.waiting[:n]...)
		q.waiting = slices.Delete(q.waiting, 0, n)
		g.mu.Unlock()
	}
	return group
}

// lead runs group's transaction on the calling goroutine (group[0]'s), then
// hands the queue to the next group and answers the others.
func (g *groups) lead(orgID int64, group []*request) {
	done := false
	defer func() {
		if !done { // run panicked: answer everyone, keep the queue moving
			for _, r := range group {
				r.res, r.err = IngestResult{}, errGroupPanic
			}
		}
		g.handOff(orgID, len(group))
		for _, r := range group[1:] {
			close(r.ready)
		}
	}()
	g.run(orgID, group)
	done = true
}

// handOff gives orgID's queue to its next group, or marks orgID idle; size
// is the number of batches of the group that has just ended.
func (g *groups) handOff(orgID int64, size int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if size > 1 {
		g.bursts[orgID] = burst{size: size, end: time.Now()}
	} else if b, ok := g.bursts[orgID]; ok && time.Since(b.end) > 10*g.linger {
		delete(g.bursts, orgID)
	}
	q := g.queues[orgID]
	if len(q.waiting) == 0 {
		delete(g.queues, orgID)
		return
	}
	n, events := 0, 0
	for n < len(q.waiting) && (n == 0 || events+len(q.waiting[n].b.events) <= g.maxEvents) {
		events += len(q.waiting[n].b.events)
		n++
	}
	next := slices.Clone(q.waiting[:n])
	q.waiting = slices.Delete(q.waiting, 0, n)
	next[0].group = next
	close(next[0].ready)
}

// run stores group's batches in one transaction and sets each request's
// answer. When that transaction fails before its commit (so nothing of it
// is stored), each batch is retried alone, so that a batch that makes the
// transaction fail fails alone. When the commit itself fails, the events
// may or may not be stored: every request gets the error (a retry could
// store events twice).
func (g *groups) run(orgID int64, group []*request) {
	g.transactions.Add(1)
	g.batches.Add(int64(len(group)))
	if len(group) == 1 {
		r := group[0]
		r.res, r.err = ingestOne(r.ctx, g.store, r.b, r.since)
		return
	}
	ctx, cancel := groupContext(group)
	defer cancel()
	m := merge(orgID, group)
	var res IngestResult
	appended := false
	err := g.store.InTx(ctx, func(tx *storage.Tx) error {
		var err error
		res, err = m.append(ctx, tx)
		appended = err == nil
		return err
	})
	switch {
	case err == nil:
		split(group, m, res)
	case appended:
		for _, r := range group {
			r.res, r.err = IngestResult{}, err
		}
	default:
		for _, r := range group {
			g.transactions.Add(1)
			r.res, r.err = ingestOne(r.ctx, g.store, r.b, r.since)
		}
	}
}

// groupContext returns a context for a group's transaction that ends when
// every request's context has ended: a client that goes away does not fail
// the others' events.
func groupContext(group []*request) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(group[0].ctx))
	var left atomic.Int64
	left.Store(int64(len(group)))
	stops := make([]func() bool, len(group))
	for i, r := range group {
		stops[i] = context.AfterFunc(r.ctx, func() {
			if left.Add(-1) == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}

// merge makes one batch of group's batches, in queue order, each event
// keeping its request's activity cut-off. The requests' batches are left as
// they are (for a retry).
func merge(orgID int64, group []*request) *batch {
	n, ids := 0, false
	for _, r := range group {
		n += len(r.b.events)
		ids = ids || r.b.clientIDs != nil
	}
	m := &batch{orgID: orgID, events: make([]audit.Event, 0, n), markActive: true, since: make([]time.Time, 0, n)}
	if ids {
		m.clientIDs = make([]string, 0, n)
	}
	for _, r := range group {
		m.events = append(m.events, r.b.events...)
		for range r.b.events {
			m.since = append(m.since, r.since)
		}
		if ids {
			if r.b.clientIDs != nil {
				m.clientIDs = append(m.clientIDs, r.b.clientIDs...)
			} else {
				m.clientIDs = append(m.clientIDs, make([]string, len(r.b.events))...)
			}
		}
	}
	return m
}

// split gives each request of group its share of the merged batch's result:
// the events of its batch that were stored (kept, in m.origin), and the
// range of sequence numbers they got.
func split(group []*request, m *batch, res IngestResult) {
	lo, pos := 0, 0
	for _, r := range group {
		hi := lo + len(r.b.events)
		start := pos
		if m.origin == nil {
			pos += hi - lo
		} else {
			for pos < len(m.origin) && m.origin[pos] < hi {
				pos++
			}
		}
		stored := pos - start
		r.res = IngestResult{Stored: stored, Duplicates: hi - lo - stored}
		if stored > 0 {
			r.res.FirstSeq = res.FirstSeq + int64(start)
			r.res.LastSeq = r.res.FirstSeq + int64(stored) - 1
		}
		lo = hi
	}
}
