// Package notifytest holds fakes for testing code that delivers alerts: a
// Clock that records the waits instead of sleeping, and a Notifier that
// answers from a script.
package notifytest

import (
	"context"
	"sync"
	"time"

	"github.com/auditgraph/auditgraph/notify"
)

// Clock is a notify.Clock whose Sleep returns at once (or with ctx.Err() if
// ctx is done), moving Now forward by the wait and recording it.
type Clock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

// NewClock returns a Clock that starts at now.
func NewClock(now time.Time) *Clock { return &Clock{now: now} }

func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	return nil
}

// Waits returns the waits asked for so far, in order.
func (c *Clock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}

// Result is one scripted answer of a Notifier.
type Result struct {
	Retry bool
	Err   error
}

// Notifier answers each Notify call with the next Result of its script, and
// with success once the script is used up. It records the alerts of every call.
type Notifier struct {
	mu     sync.Mutex
	script []Result
	calls  [][]notify.Alert
}

// NewNotifier returns a Notifier that answers with script, in order.
func NewNotifier(script ...Result) *Notifier { return &Notifier{script: script} }

func (n *Notifier) Notify(ctx context.Context, alerts ...notify.Alert) (bool, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.calls = append(n.calls, alerts)
	if len(n.calls) > len(n.script) {
		return false, nil
	}
	r := n.script[len(n.calls)-1]
	return r.Retry, r.Err
}

// Calls returns the alerts of every Notify call so far.
func (n *Notifier) Calls() [][]notify.Alert {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([][]notify.Alert(nil), n.calls...)
}
