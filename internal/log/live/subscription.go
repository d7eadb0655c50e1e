package live

import (
	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/storage"
)

// Subscription is one subscriber's feed of an organization's new events.
type Subscription struct {
	hub   *Hub
	orgID int64
	match func(audit.Event) bool
	ch    chan *storage.StoredEvent
	// next and err are guarded by hub.mu: the sequence number of the first
	// event not yet offered, and why ch was closed.
	next int64
	err  error
}

// Events returns the matching events, in sequence order. The events are
// shared with other subscribers and must not be modified. The channel is
// closed when the subscription ends; Err then says why.
func (s *Subscription) Events() <-chan *storage.StoredEvent { return s.ch }

// Err returns why Events was closed: ErrTooSlow, ErrClosed or
// ErrInterrupted; nil while it is open or after Close.
func (s *Subscription) Err() error {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.err
}

// Close ends the subscription. It may be called more than once.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.hub.end(s, nil)
}

// offer puts the events s has not been offered and that match into its
// buffer, and reports false when the buffer is full. The caller holds hub.mu.
func (s *Subscription) offer(events []storage.StoredEvent) bool {
	for i := range events {
		e := &events[i]
		if e.Seq < s.next {
			continue
		}
		s.next = e.Seq + 1
		if s.match != nil && !s.match(e.Event) {
			continue
		}
		select {
		case s.ch <- e:
		default:
			return false
		}
	}
	return true
}
