// Package ledger appends events to an organization's audit log. The two
// ways in (Append for the events the server records about its own changes,
// in the transaction of the change; Ingest for the batches the platform
// reports, in a transaction of their own) share one pipeline, batch.append,
// which reads top to bottom: make the partitions, lock the log's head, drop
// the events already stored, hash, write, advance the head and mark the
// actors active, raise the alerts, announce. Every step commits with the events or
// not at all. The SQL of each step is a method of storage.Tx; what the steps
// are, and their order, is decided here. The server's ingest goes through
// Ingester, which appends the batches that arrive for one organization while
// its log is busy as one batch, in one transaction (group commit, group.go).
package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/chain"
	"github.com/auditgraph/auditgraph/storage"
)

// IngestEvent is an event reported by the platform, with the client's
// optional idempotency key.
type IngestEvent struct {
	audit.Event
	ClientID string
}

// IngestResult says what a batch did.
type IngestResult struct {
	Stored     int
	Duplicates int
	// FirstSeq and LastSeq bound the sequence numbers given to the stored
	// events; both are 0 when nothing was stored.
	FirstSeq, LastSeq int64
}

// Append appends the server's own events to orgID's log in tx, the
// transaction of the change they record: no change without its event, no
// event without its change. An event without a timestamp gets the current
// time. The caller's events are not modified.
func Append(ctx context.Context, tx *storage.Tx, orgID int64, events []audit.Event) error {
	if len(events) == 0 {
		return nil
	}
	b, err := newBatch(orgID, len(events), func(i int) (audit.Event, string) { return events[i], "" })
	if err != nil {
		return err
	}
	_, err = b.append(ctx, tx)
	return err
}

// Ingest stores a batch of reported events in orgID's log in one
// transaction: nothing of it is stored if any step fails. An event whose
// client id the log has seen before (in an earlier batch or earlier in this
// one) is a duplicate and is skipped. The actors of the stored events are
// marked active on the events' UTC days, unless the event is older than
// activeSince.
func Ingest(ctx context.Context, s *storage.Store, orgID int64, events []IngestEvent, activeSince time.Time) (IngestResult, error) {
	if len(events) == 0 {
		return IngestResult{}, nil
	}
	b, err := newBatch(orgID, len(events), func(i int) (audit.Event, string) { return events[i].Event, events[i].ClientID })
	if err != nil {
		return IngestResult{}, err
	}
	// Reported events may be old: create their months' partitions now, each
	// in a short transaction of its own, rather than in the batch's (where
	// creating one would hold a lock on the whole table until it commits).
	if err := s.EnsureEventPartitions(ctx, b.events); err != nil {
		return IngestResult{}, err
	}
	return ingestOne(ctx, s, b, activeSince)
}

// ingestOne appends b, a reported batch whose partitions exist, in a
// transaction of its own.
func ingestOne(ctx context.Context, s *storage.Store, b *batch, activeSince time.Time) (IngestResult, error) {
	b.markActive, b.activeSince = true, activeSince
	var res IngestResult
	err := s.InTx(ctx, func(tx *storage.Tx) error {
		var err error
		res, err = b.append(ctx, tx)
		return err
	})
	return res, err
}

// batch is a run of events on their way into one organization's log.
type batch struct {
	orgID  int64
	events []audit.Event
	// clientIDs holds each event's client id ("" for none), nil when no
	// event has one.
	clientIDs []string
	// markActive says whether the events mark their actors active. Only
	// reported events do: the server's own events come from requests, which
	// the activity tracker counts already.
	markActive  bool
	activeSince time.Time
	// since, for a group's batch, holds each event's own cut-off for
	// activity (its request's activeSince), used instead of activeSince.
	since []time.Time
	// origin holds, once dropDuplicates ran, the position each kept event
	// had in the batch; nil when every event was kept.
	origin []int
}

// newBatch checks the n events that event returns and copies them, each
// with a timestamp at the stored precision (now for an event without one),
// so that the stored row, its hash and its partition agree.
func newBatch(orgID int64, n int, event func(i int) (audit.Event, string)) (*batch, error) {
	b := &batch{orgID: orgID, events: make([]audit.Event, n)}
	now := time.Now()
	for i := range n {
		e, id := event(i)
		if !e.Action.Valid() {
			return nil, fmt.Errorf("ledger: append to organization %d: unknown action %q", orgID, e.Action)
		}
		if e.Timestamp.IsZero() {
			e.Timestamp = now
		}
		e.Timestamp = chain.Time(e.Timestamp)
		b.events[i] = e
		if id != "" {
			if b.clientIDs == nil {
				b.clientIDs = make([]string, n)
			}
			b.clientIDs[i] = id
		}
	}
	return b, nil
}

// append writes the batch to its organization's log in tx. It is the only
// code that does; every step after the lock runs with the log's head locked.
func (b *batch) append(ctx context.Context, tx *storage.Tx) (IngestResult, error) {
	var res IngestResult
	// Make the partitions the events go to. They usually exist already:
	// Ingest made them beforehand, and the server's own events are of this
	// month, made months ahead; a missing one is made in tx, before the lock.
	if err := tx.EnsureEventPartitions(ctx, b.events); err != nil {
		return res, err
	}
	// Lock the head: one append at a time per organization, so sequence
	// numbers stay gap-free, the chain linear, the duplicate check race-free
	// and the alert counters' updates serialized. The same round trip finds
	// the actors among the members and counts the enabled alert rules.
	// The same round trip records the batch's client ids and says which the
	// log had seen.
	var ids []int64
	var emails []string
	if b.markActive {
		ids, emails = actors(b.events)
	}
	log, err := tx.LockLog(ctx, b.orgID, ids, emails, b.nonEmptyClientIDs())
	if err != nil {
		return res, err
	}
	// Drop the events already stored, by client id.
	received := len(b.events)
	if log.AllFresh {
		b.clientIDs = nil // nothing to drop
	} else {
		b.dropDuplicates(log.Fresh)
	}
	res.Stored, res.Duplicates = len(b.events), received-len(b.events)
	if len(b.events) == 0 {
		return res, nil
	}
	// Hash the events onto the chain, write them, advance the head, mark
	// the actors active and announce the events to live subscribers once
	// the transaction commits: one statement for a small batch.
	hashes, newHead := hashOnto(log.LogHead, b.events)
	first := log.Seq + 1
	var activity []storage.ActivityDay
	if b.markActive {
		activity = activityRows(log.Members, b.active(), b.activeSince)
	}
	if err := tx.AppendEvents(ctx, b.orgID, first, b.events, hashes, activity); err != nil {
		return res, err
	}
	res.FirstSeq, res.LastSeq = first, newHead.Seq
	// Match the alert rules and count the thresholds: an alert is queued
	// exactly when its event is stored.
	if log.Rules > 0 {
		if err := raiseAlerts(ctx, tx, b.orgID, first, b.events); err != nil {
			return res, err
		}
	}
	return res, nil
}

// nonEmptyClientIDs returns the batch's client ids, nil when it has none.
func (b *batch) nonEmptyClientIDs() []string {
	var ids []string
	for _, id := range b.clientIDs {
		if id != "" {
			ids = append(ids, id)
		}
	}
	return ids
}

// dropDuplicates removes the events whose client id is not in fresh (the
// ids LockLog recorded for the first time), and those that repeat an id
// earlier in the batch.
func (b *batch) dropDuplicates(fresh map[string]bool) {
	if b.clientIDs == nil {
		return
	}
	keep := b.events[:0]
	origin := make([]int, 0, len(b.events))
	for i, e := range b.events {
		if id := b.clientIDs[i]; id != "" {
			if !fresh[id] {
				continue
			}
			delete(fresh, id) // a repeat later in the batch is a duplicate too
		}
		keep = append(keep, e)
		origin = append(origin, i)
	}
	b.events, b.clientIDs, b.origin = keep, nil, origin
}

// active returns the stored events that mark their actors active: all of
// them, unless the batch is a group's, whose requests each have their own
// cut-off (activeSince is then zero and the events are filtered here).
func (b *batch) active() []audit.Event {
	if b.since == nil {
		return b.events
	}
	var out []audit.Event
	for i, e := range b.events {
		j := i
		if b.origin != nil {
			j = b.origin[i]
		}
		if !e.Timestamp.Before(b.since[j]) {
			out = append(out, e)
		}
	}
	return out
}

// hashOnto hashes events onto the chain ending at head, numbering them from
// head.Seq+1, and returns their hashes and the new head.
func hashOnto(head storage.LogHead, events []audit.Event) ([][]byte, storage.LogHead) {
	prev := chain.Genesis
	copy(prev[:], head.Hash)
	var h chain.Hasher
	size := len(prev)
	buf := make([]byte, len(events)*size)
	hashes := make([][]byte, len(events))
	for i := range events {
		prev = h.Next(prev, head.Seq+1+int64(i), &events[i])
		hashes[i] = buf[i*size : (i+1)*size : (i+1)*size]
		copy(hashes[i], prev[:])
	}
	return hashes, storage.LogHead{Seq: head.Seq + int64(len(events)), Hash: hashes[len(hashes)-1]}
}
