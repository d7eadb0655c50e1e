package auth

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/auditgraph/auditgraph/internal/platform/metrics"
)

// Failed authentication is counted, logged and, per source address, slowed
// down. Keys are checked first and whatever the source's record, so a valid
// key always passes: a flood of bad keys from one address never locks out
// the correct key presented from that or any other address. A source's
// failures spend tokens of its bucket (FailureBurst, refilled at
// FailureRate a second); once it is empty, the source's further failures
// are answered 429 with Retry-After instead of 401. Addresses are taken
// from the connection (behind a proxy, the proxy's); IPv6 addresses count
// by their /64, which one client usually holds whole.
const (
	FailureBurst = 20
	FailureRate  = 1.0
	// maxSources bounds the sources remembered; the least recently failing
	// ones are forgotten first (a forgotten source starts afresh).
	maxSources = 10_000
	// At most logBurst failure lines are logged at once, then one every
	// logEvery; each line says how many were left out before it.
	logBurst = 10
	logEvery = 10 * time.Second
)

// failure is a refusal of credentials with the reason it is counted under
// (one of metrics' Auth reasons) and the username the client gave, if any.
type failure struct {
	err      error
	reason   string
	username string
}

func (f *failure) Error() string { return f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

func refuse(err error, reason, username string) error {
	return &failure{err: err, reason: reason, username: username}
}

// bucket is a token bucket: tokens as of at.
type bucket struct {
	tokens float64
	at     time.Time
}

// take spends a token at now and reports 0, or reports how long until one
// is there.
func (b *bucket) take(now time.Time, rate, burst float64) time.Duration {
	if elapsed := now.Sub(b.at).Seconds(); elapsed > 0 {
		b.tokens = math.Min(burst, b.tokens+elapsed*rate)
	}
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	return time.Duration((1 - b.tokens) / rate * float64(time.Second))
}

// limiter keeps a bucket per source, for at most max sources.
type limiter struct {
	rate, burst float64
	max         int

	mu    sync.Mutex
	order *list.List // of *source, the most recently failing first
	byKey map[string]*list.Element
}

type source struct {
	key string
	b   bucket
	// throttled says the source's last failure found its bucket empty.
	throttled bool
}

func newLimiter(rate, burst float64, max int) *limiter {
	return &limiter{rate: rate, burst: burst, max: max, order: list.New(), byKey: map[string]*list.Element{}}
}

// take spends one of key's tokens at now; see bucket.take. started says
// that this failure is the first the source is slowed down for since its
// bucket was last full.
func (l *limiter) take(key string, now time.Time) (wait time.Duration, started bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.byKey[key]
	if ok {
		l.order.MoveToFront(el)
	} else {
		if l.order.Len() >= l.max {
			oldest := l.order.Back()
			l.order.Remove(oldest)
			delete(l.byKey, oldest.Value.(*source).key)
		}
		el = l.order.PushFront(&source{key: key, b: bucket{tokens: l.burst, at: now}})
		l.byKey[key] = el
	}
	src := el.Value.(*source)
	wait = src.b.take(now, l.rate, l.burst)
	switch {
	case wait > 0:
		started = !src.throttled
		src.throttled = true
	case src.b.tokens >= l.burst-1:
		// The bucket was full: the source stopped failing for long enough.
		src.throttled = false
	}
	return wait, started
}

// len returns how many sources are remembered.
func (l *limiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.order.Len()
}

// sourceKey is what failures are counted by: the address, or an IPv6
// address's /64.
func sourceKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// logGate lets a log line through while its bucket has tokens, and counts
// the lines it holds back.
type logGate struct {
	mu         sync.Mutex
	b          bucket
	suppressed int
}

func (g *logGate) allow(now time.Time) (bool, int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.b.take(now, 1/logEvery.Seconds(), logBurst) > 0 {
		g.suppressed++
		return false, 0
	}
	n := g.suppressed
	g.suppressed = 0
	return true, n
}

// Failed records refused credentials (err, from Authenticate) presented
// from ip: it counts them, logs them (never the key) and returns how long
// the client should wait before trying again when its address failed too
// often, 0 otherwise. A missing Authorization, which every browser sends
// first, is counted but neither logged nor held against the source.
func (a *Authenticator) Failed(ctx context.Context, ip string, err error) time.Duration {
	reason, username := metrics.AuthMalformed, ""
	var f *failure
	switch {
	case errors.As(err, &f):
		reason, username = f.reason, f.username
	case errors.Is(err, ErrNoCredentials):
		reason = metrics.AuthMissing
	}
	if reason == metrics.AuthMissing {
		if a.OnFailure != nil {
			a.OnFailure(reason, false)
		}
		return 0
	}
	now := a.now()
	key := sourceKey(ip)
	wait, started := a.failures.take(key, now)
	if a.OnFailure != nil {
		a.OnFailure(reason, wait > 0)
	}
	if started {
		if ok, suppressed := a.throttleLogs.allow(now); ok {
			attrs := []any{"source", key, "failures", FailureBurst, "retry_after_seconds", RetryAfter(wait)}
			if suppressed > 0 {
				attrs = append(attrs, "suppressed", suppressed)
			}
			a.log.WarnContext(ctx, "authentication failures throttled: answering 429 to this source's failures until it fails less", attrs...)
		}
	}
	if ok, suppressed := a.logs.allow(now); ok {
		attrs := []any{"source", ip, "reason", reason}
		if username != "" {
			attrs = append(attrs, "username", clip(username, 64))
		}
		if wait > 0 {
			attrs = append(attrs, "throttled", true)
		}
		if suppressed > 0 {
			attrs = append(attrs, "suppressed", suppressed)
		}
		a.log.WarnContext(ctx, "authentication failed", attrs...)
	}
	return wait
}

// RetryAfter is wait in whole seconds, at least 1, for a Retry-After header.
func RetryAfter(wait time.Duration) int {
	return max(1, int(math.Ceil(wait.Seconds())))
}

// WriteThrottled answers a client whose address failed authentication too
// often: 429 with Retry-After.
func WriteThrottled(w http.ResponseWriter, wait time.Duration) {
	s := RetryAfter(wait)
	w.Header().Set("Retry-After", strconv.Itoa(s))
	WriteError(w, http.StatusTooManyRequests, ThrottledMessage(wait))
}

// ThrottledMessage says why a client is slowed down and for how long.
func ThrottledMessage(wait time.Duration) string {
	return fmt.Sprintf("too many failed authentications from your address: try again in %d s", RetryAfter(wait))
}

// clip cuts s to at most n bytes of valid UTF-8.
func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}
