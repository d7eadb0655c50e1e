package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"time"
)

// The ways Retrier.Deliver fails, for errors.Is. Each wraps the last
// attempt's error too, so errors.Is(err, ErrRevoked) and
// errors.As(err, &RetryAfterError) see through them.
var (
	// ErrGaveUp: the notifier said retrying cannot help (a 4xx answer, a
	// bad configuration). Mark the integration failing; ErrRevoked, when it
	// matches too, says to stop sending to it.
	ErrGaveUp = errors.New("gave up")
	// ErrExhausted: every attempt failed in a way retrying could help, but
	// the attempts or the time allowed ran out. The alert can be tried again
	// later (after the RetryAfterError's wait, if the chain holds one).
	ErrExhausted = errors.New("retries exhausted")
)

// Backoff says how Retrier.Deliver spaces its attempts: the n-th wait is
// Initial * Multiplier^(n-1), at most Max, spread by ±Jitter (a fraction).
// A receiver's Retry-After replaces the computed wait, even beyond Max.
// Attempts stop after MaxAttempts or when the next wait would end more than
// MaxElapsed after the first attempt began; zero disables either limit, but
// not both.
type Backoff struct {
	Initial     time.Duration
	Max         time.Duration
	Multiplier  float64
	Jitter      float64
	MaxAttempts int
	MaxElapsed  time.Duration
}

// DefaultBackoff waits about 1 s, 2 s, 4 s … up to a minute, for at most
// 8 attempts within 5 minutes.
var DefaultBackoff = Backoff{
	Initial:     time.Second,
	Max:         time.Minute,
	Multiplier:  2,
	Jitter:      0.2,
	MaxAttempts: 8,
	MaxElapsed:  5 * time.Minute,
}

// Validate checks b when the configuration is loaded.
func (b Backoff) Validate() error {
	switch {
	case b.Initial <= 0:
		return fmt.Errorf("backoff: initial wait %s is not positive", b.Initial)
	case b.Max < b.Initial:
		return fmt.Errorf("backoff: max wait %s is less than initial wait %s", b.Max, b.Initial)
	case !(b.Multiplier >= 1):
		return fmt.Errorf("backoff: multiplier %g is less than 1", b.Multiplier)
	case !(b.Jitter >= 0 && b.Jitter <= 1):
		return fmt.Errorf("backoff: jitter %g is not between 0 and 1", b.Jitter)
	case b.MaxAttempts < 0:
		return fmt.Errorf("backoff: max attempts %d is negative", b.MaxAttempts)
	case b.MaxElapsed < 0:
		return fmt.Errorf("backoff: max elapsed %s is negative", b.MaxElapsed)
	case b.MaxAttempts == 0 && b.MaxElapsed == 0:
		return errors.New("backoff: neither max attempts nor max elapsed is set")
	}
	return nil
}

// wait returns the wait after the given number of failed attempts; r in
// [0, 1) places it within the jitter.
func (b Backoff) wait(failed int, r float64) time.Duration {
	d := float64(b.Initial) * math.Pow(b.Multiplier, float64(failed-1))
	d = min(d, float64(b.Max))
	d *= 1 + b.Jitter*(2*r-1)
	return time.Duration(min(d, float64(b.Max)))
}

// Wait returns how long to wait after the given number of failed
// attempts, the last of which failed with err: the receiver's Retry-After
// when err carries a positive one (even beyond Max), else the backoff,
// placed within the jitter by r in [0, 1). Retrier.Deliver and the durable
// outbox both schedule their next attempt with it.
func (b Backoff) Wait(failed int, err error, r float64) time.Duration {
	if ra, ok := errors.AsType[RetryAfterError](err); ok && ra.RetryAfter() > 0 {
		return ra.RetryAfter()
	}
	return b.wait(failed, r)
}

// Exhausted reports whether b allows no attempt after the given number,
// the first made elapsed ago, when the next would follow wait from now.
func (b Backoff) Exhausted(attempts int, elapsed, wait time.Duration) bool {
	return b.MaxAttempts > 0 && attempts >= b.MaxAttempts || b.MaxElapsed > 0 && elapsed+wait > b.MaxElapsed
}

// Clock is the time Retrier.Deliver reads and waits on; tests pass a fake
// (notifytest.Clock).
type Clock interface {
	Now() time.Time
	// Sleep waits d, or returns ctx.Err() as soon as ctx is done.
	Sleep(ctx context.Context, d time.Duration) error
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Retrier is the retry stage: the only place that waits and tries a
// Notifier again.
type Retrier struct {
	Backoff Backoff        // validated by the caller, with Validate
	Clock   Clock          // nil: the system clock
	Rand    func() float64 // jitter source in [0, 1); nil: math/rand/v2
	// Logger receives one Warn line per failed attempt that will be
	// retried; nil logs nothing. The final result is the caller's to log.
	Logger *slog.Logger
}

// Deliver calls n.Notify until it succeeds, says retrying cannot help
// (ErrGaveUp), the Backoff's limits or ctx's deadline would be passed by the
// next wait (ErrExhausted), or ctx is done (ctx.Err()). A wait asked for by a
// RetryAfterError replaces the backoff. attempts counts the calls made.
func (r *Retrier) Deliver(ctx context.Context, n Notifier, alerts ...Alert) (attempts int, err error) {
	clock := r.Clock
	if clock == nil {
		clock = systemClock{}
	}
	random := r.Rand
	if random == nil {
		random = rand.Float64
	}
	start := clock.Now()
	deadline, hasDeadline := ctx.Deadline()
	if r.Backoff.MaxElapsed > 0 && (!hasDeadline || start.Add(r.Backoff.MaxElapsed).Before(deadline)) {
		deadline, hasDeadline = start.Add(r.Backoff.MaxElapsed), true
	}
	for attempts = 1; ; attempts++ {
		retry, err := n.Notify(ctx, alerts...)
		if err == nil {
			return attempts, nil
		}
		if !retry {
			return attempts, fmt.Errorf("notify: %w after %s: %w", ErrGaveUp, count(attempts), err)
		}
		if ctx.Err() != nil {
			return attempts, fmt.Errorf("notify: %w after %s: %w", ctx.Err(), count(attempts), err)
		}
		if r.Backoff.MaxAttempts > 0 && attempts >= r.Backoff.MaxAttempts {
			return attempts, fmt.Errorf("notify: %w after %s: %w", ErrExhausted, count(attempts), err)
		}
		wait := r.Backoff.Wait(attempts, err, random())
		if hasDeadline && clock.Now().Add(wait).After(deadline) {
			return attempts, fmt.Errorf("notify: %w after %s (the next wait, %s, ends past the deadline): %w",
				ErrExhausted, count(attempts), wait, err)
		}
		if r.Logger != nil {
			r.Logger.LogAttrs(ctx, slog.LevelWarn, "notify: attempt failed",
				slog.Int("attempt", attempts), slog.String("retry_in", wait.String()), slog.Any("error", err))
		}
		if err2 := clock.Sleep(ctx, wait); err2 != nil {
			return attempts, fmt.Errorf("notify: %w after %s: %w", err2, count(attempts), err)
		}
	}
}

func count(attempts int) string {
	if attempts == 1 {
		return "1 attempt"
	}
	return fmt.Sprintf("%d attempts", attempts)
}
