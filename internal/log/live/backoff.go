package live

import (
	"math/rand/v2"
	"net"
	"sync/atomic"
	"time"
)

// The listener's reconnect schedule: after a lost connection it tries again
// at once, then waits reconnectDelay(n) before the n-th attempt after n
// failed ones: about 0.5 s, 1 s, 2 s, then 3 s at most, each jittered to
// between half and all of it, so that the replicas of an outage do not
// reconnect in step, and so that the feed resumes at most a few seconds
// after PostgreSQL is back, however long it was away.
const (
	reconnectBase = 500 * time.Millisecond
	maxReconnect  = 3 * time.Second
	// pqReconnect is what pq.Listener itself waits after a failed attempt
	// (its minimum and maximum reconnect interval), and the least time
	// between one connection and the next; the dialer waits the rest of
	// reconnectDelay.
	pqReconnect = 250 * time.Millisecond
)

// reconnectDelay is the wait before the reconnect attempt that follows
// failed consecutive failed ones (failed ≥ 1), for r in [0, 1): the
// exponential step, capped at maxReconnect, scaled to between half and all
// of it by r.
func reconnectDelay(failed int, r float64) time.Duration {
	d := maxReconnect
	if failed >= 1 && failed <= 8 {
		d = min(maxReconnect, reconnectBase<<(failed-1))
	}
	return d/2 + time.Duration(r*float64(d/2))
}

// backoffDialer dials PostgreSQL for pq.Listener, waiting before each dial
// that follows failed attempts what reconnectDelay adds to pq's own wait.
// The listener's event callback tells it of failures and connections.
type backoffDialer struct {
	d        net.Dialer
	failures atomic.Int64 // consecutive failed connection attempts
	sleep    func(time.Duration)
	rand     func() float64
}

func newBackoffDialer() *backoffDialer {
	return &backoffDialer{sleep: time.Sleep, rand: rand.Float64}
}

func (b *backoffDialer) failed()    { b.failures.Add(1) }
func (b *backoffDialer) connected() { b.failures.Store(0) }

// wait sleeps what the schedule adds to pq's own wait before a dial.
func (b *backoffDialer) wait() {
	if n := b.failures.Load(); n > 0 {
		if d := reconnectDelay(int(min(n, 100)), b.rand()) - pqReconnect; d > 0 {
			b.sleep(d)
		}
	}
}

func (b *backoffDialer) Dial(network, address string) (net.Conn, error) {
	b.wait()
	return b.d.Dial(network, address)
}

func (b *backoffDialer) DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	b.wait()
	d := b.d
	d.Timeout = timeout
	return d.Dial(network, address)
}
