// Package live fans newly stored audit events out to the subscribers of this
// server process. Every append to an audit log is announced with a
// PostgreSQL NOTIFY on storage.AppendedChannel when its transaction commits;
// the Hub keeps one LISTEN connection per process, reads each announced
// range once (only for organizations it has subscribers of), and hands the
// events to those subscribers, so subscriptions work whichever replica
// stored the events.
package live

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/lib/pq"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/storage"
)

// Errors a subscription ends with; their text is meant for the client.
var (
	// ErrTooSlow ends a subscription whose buffer is full: it is dropped
	// rather than left to miss events silently or to hold up the others.
	ErrTooSlow = errors.New("subscriber too slow, resubscribe")
	// ErrClosed ends the subscriptions of a hub that stopped running.
	ErrClosed = errors.New("server shutting down, resubscribe")
	// ErrInterrupted ends subscriptions whose events could not be read.
	ErrInterrupted = errors.New("live audit events interrupted, resubscribe")
)

// DefaultBuffer is how many matching events a subscriber may fall behind
// before it is dropped with ErrTooSlow.
const DefaultBuffer = 1000

const (
	// readChunk bounds the events one read returns, so a large batch is
	// handed out in steps with bounded memory.
	readChunk = 500
	// How often the listener checks that an idle connection is still alive.
	pingInterval = 30 * time.Second
)

// Store is what the hub reads; *storage.Store implements it.
type Store interface {
	LastSeq(ctx context.Context, orgID int64) (int64, error)
	EventsBySeq(ctx context.Context, orgID, from, to int64) ([]storage.StoredEvent, error)
}

// Config is what a Hub needs.
type Config struct {
	// URL is the PostgreSQL connection string the LISTEN connection opens;
	// it must name the database the store uses.
	URL   string
	Store Store
	Log   *slog.Logger
	// Buffer is each subscriber's buffer, in events; 0 means DefaultBuffer.
	Buffer int
}

// Hub is one process's fan-out of newly stored audit events.
type Hub struct {
	url    string
	store  Store
	log    *slog.Logger
	buffer int
	ready  chan struct{}

	mu     sync.Mutex
	feeds  map[int64]*feed // by organization id
	closed bool
}

// feed is one organization's subscribers and how far they have been served.
type feed struct {
	subs map[*Subscription]struct{}
	// next is the sequence number of the first event not yet read.
	next int64
}

// New returns a hub; it hears nothing until Run is called.
func New(cfg Config) *Hub {
	if cfg.Buffer <= 0 {
		cfg.Buffer = DefaultBuffer
	}
	return &Hub{url: cfg.URL, store: cfg.Store, log: cfg.Log, buffer: cfg.Buffer,
		ready: make(chan struct{}), feeds: map[int64]*feed{}}
}

// Ready is closed once the hub listens, so that every event committed after
// that reaches the subscribers.
func (h *Hub) Ready() <-chan struct{} { return h.ready }

// Subscribers returns how many subscriptions are open.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, f := range h.feeds {
		n += len(f.subs)
	}
	return n
}

// Run listens for appended events and fans them out until ctx is done. It
// returns nil then, or the error that stopped it; either way it ends every
// open subscription. Lost connections are re-established with backoff, and
// the events committed while the hub was not listening are read and
// delivered once it is again. Call it once.
func (h *Hub) Run(ctx context.Context) error {
	connected := make(chan struct{})
	var once sync.Once
	d := newBackoffDialer()
	l := pq.NewDialListener(d, h.url, pqReconnect, pqReconnect, func(ev pq.ListenerEventType, err error) {
		switch ev {
		case pq.ListenerEventConnected:
			d.connected()
			once.Do(func() { close(connected) })
		case pq.ListenerEventReconnected:
			d.connected()
			h.log.Info("live: audit event listener reconnected")
		case pq.ListenerEventDisconnected:
			h.log.Warn("live: audit event listener lost its connection, reconnecting", "err", err)
		case pq.ListenerEventConnectionAttemptFailed:
			d.failed()
			h.log.Warn("live: audit event listener cannot connect, retrying", "err", err)
		}
	})
	defer l.Close()
	err := h.run(ctx, l, connected)
	if ctx.Err() != nil {
		err = nil
	}
	h.closeAll(ErrClosed)
	return err
}

func (h *Hub) run(ctx context.Context, l *pq.Listener, connected <-chan struct{}) error {
	select {
	case <-connected:
	case <-ctx.Done():
		return nil
	}
	// Listen returns net.ErrClosed when the connection drops while it runs,
	// having recorded the channel, which the listener then LISTENs on as it
	// reconnects.
	if err := l.Listen(storage.AppendedChannel); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("live: listen on %s: %w", storage.AppendedChannel, err)
	}
	h.log.Info("live: listening for audit events", "channel", storage.AppendedChannel)
	h.catchUp(ctx)
	close(h.ready)

	ping := time.NewTicker(pingInterval)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ping.C:
			// Pinging from the loop could deadlock: the answer queues
			// behind the notifications this loop has not taken yet.
			go l.Ping()
		case n, ok := <-l.Notify:
			switch {
			case !ok:
				return errors.New("live: audit event listener closed")
			case n == nil:
				// The listener reconnected; announcements made meanwhile are lost.
				h.catchUp(ctx)
			default:
				a, err := storage.ParseAppended(n.Extra)
				if err != nil {
					h.log.Warn("live: ignoring notification", "err", err)
					continue
				}
				h.read(ctx, a.Org, a.To)
			}
		}
	}
}

// catchUp reads, for every organization with subscribers, the events
// committed since the last ones it read.
func (h *Hub) catchUp(ctx context.Context) {
	h.mu.Lock()
	orgs := make([]int64, 0, len(h.feeds))
	for id := range h.feeds {
		orgs = append(orgs, id)
	}
	h.mu.Unlock()
	for _, org := range orgs {
		last, err := h.store.LastSeq(ctx, org)
		if err != nil {
			h.interrupted(ctx, org, err)
			continue
		}
		h.read(ctx, org, last)
	}
}

// read reads an organization's events up to sequence number to that its
// subscribers have not been given yet, and hands them out.
func (h *Hub) read(ctx context.Context, org, to int64) {
	for {
		from, ok := h.next(org)
		if !ok || from > to {
			return // nobody here is subscribed to the organization, or all is read
		}
		end := min(to, from+readChunk-1)
		events, err := h.store.EventsBySeq(ctx, org, from, end)
		if err != nil {
			h.interrupted(ctx, org, err)
			return
		}
		h.deliver(org, end, events)
	}
}

// next returns the first sequence number of an organization not yet read,
// and false when nobody here is subscribed to it.
func (h *Hub) next(org int64) (int64, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f := h.feeds[org]
	if f == nil {
		return 0, false
	}
	return f.next, true
}

// deliver hands events, read up to sequence number end, to an
// organization's subscribers without ever waiting for one: a subscriber
// whose buffer is full is dropped with ErrTooSlow.
func (h *Hub) deliver(org, end int64, events []storage.StoredEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f := h.feeds[org]
	if f == nil {
		return
	}
	f.next = max(f.next, end+1)
	for s := range f.subs {
		if !s.offer(events) {
			h.end(s, ErrTooSlow)
		}
	}
}

// interrupted ends an organization's subscriptions after a failed read,
// unless the hub is stopping.
func (h *Hub) interrupted(ctx context.Context, org int64, err error) {
	if ctx.Err() != nil {
		return
	}
	h.log.Error("live: reading audit events failed; ending the organization's subscriptions", "org", org, "err", err)
	h.mu.Lock()
	defer h.mu.Unlock()
	if f := h.feeds[org]; f != nil {
		for s := range f.subs {
			h.end(s, ErrInterrupted)
		}
	}
}

func (h *Hub) closeAll(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, f := range h.feeds {
		for s := range f.subs {
			h.end(s, err)
		}
	}
}

// Subscribe returns a subscription to the events of an organization stored
// from now on that match (all of them when match is nil). match runs on the
// hub's goroutine and must be quick.
func (h *Hub) Subscribe(ctx context.Context, orgID int64, match func(audit.Event) bool) (*Subscription, error) {
	// Events up to last are older than the subscription. Reading it also
	// tells the hub where to resume after a lost connection.
	last, err := h.store.LastSeq(ctx, orgID)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	f := h.feeds[orgID]
	if f == nil {
		f = &feed{subs: map[*Subscription]struct{}{}, next: last + 1}
		h.feeds[orgID] = f
	}
	s := &Subscription{hub: h, orgID: orgID, match: match, next: last + 1, ch: make(chan *storage.StoredEvent, h.buffer)}
	f.subs[s] = struct{}{}
	return s, nil
}

// end closes s's channel with err as the reason, unless it is closed
// already. The caller holds h.mu.
func (h *Hub) end(s *Subscription, err error) {
	f := h.feeds[s.orgID]
	if f == nil {
		return
	}
	if _, ok := f.subs[s]; !ok {
		return
	}
	delete(f.subs, s)
	if len(f.subs) == 0 {
		delete(h.feeds, s.orgID)
	}
	s.err = err
	close(s.ch)
}
