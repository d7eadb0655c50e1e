package ledger

import (
	"context"
	"time"
)

// Waiting returns how many batches for orgID wait in in's queue, and whether
// a transaction of orgID's is running.
func Waiting(in *Ingester, orgID int64) (n int, busy bool) {
	g := in.groups
	g.mu.Lock()
	defer g.mu.Unlock()
	q, busy := g.queues[orgID]
	if !busy {
		return 0, false
	}
	return len(q.waiting), true
}

// SetMaxGroupEvents sets in's bound on a group's events.
func SetMaxGroupEvents(in *Ingester, n int) { in.groups.maxEvents = n }

// GroupContext is groupContext for requests with the contexts ctxs.
func GroupContext(ctxs ...context.Context) (context.Context, context.CancelFunc) {
	group := make([]*request, len(ctxs))
	for i, c := range ctxs {
		group[i] = &request{ctx: c}
	}
	return groupContext(group)
}

// SetGroupLinger sets how long in's group leaders wait for stragglers.
func SetGroupLinger(in *Ingester, d time.Duration) { in.groups.linger = d }
