package notify_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/notify"
	"github.com/auditgraph/auditgraph/notify/notifytest"
)

var start = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// steady has no jitter, so tests can assert exact waits.
var steady = notify.Backoff{Initial: time.Second, Max: 10 * time.Second, Multiplier: 2, MaxAttempts: 10}

func TestBackoffValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*notify.Backoff)
		want   string
	}{
		{"default", func(*notify.Backoff) {}, ""},
		{"no max elapsed", func(b *notify.Backoff) { b.MaxElapsed = 0 }, ""},
		{"no max attempts", func(b *notify.Backoff) { b.MaxAttempts = 0 }, ""},
		{"zero initial", func(b *notify.Backoff) { b.Initial = 0 }, "backoff: initial wait 0s is not positive"},
		{"max below initial", func(b *notify.Backoff) { b.Max = time.Millisecond }, "backoff: max wait 1ms is less than initial wait 1s"},
		{"multiplier below 1", func(b *notify.Backoff) { b.Multiplier = 0.5 }, "backoff: multiplier 0.5 is less than 1"},
		{"jitter above 1", func(b *notify.Backoff) { b.Jitter = 1.5 }, "backoff: jitter 1.5 is not between 0 and 1"},
		{"negative jitter", func(b *notify.Backoff) { b.Jitter = -0.1 }, "backoff: jitter -0.1 is not between 0 and 1"},
		{"negative max attempts", func(b *notify.Backoff) { b.MaxAttempts = -1 }, "backoff: max attempts -1 is negative"},
		{"negative max elapsed", func(b *notify.Backoff) { b.MaxElapsed = -time.Second }, "backoff: max elapsed -1s is negative"},
		{"no limit", func(b *notify.Backoff) { b.MaxAttempts, b.MaxElapsed = 0, 0 }, "backoff: neither max attempts nor max elapsed is set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := notify.DefaultBackoff
			tc.change(&b)
			got := ""
			if err := b.Validate(); err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("%+v.Validate() = %q, want %q", b, got, tc.want)
			}
		})
	}
}

// failing answers every call with retry and err until calls run out.
func failing(n int, retry bool, err error) *notifytest.Notifier {
	script := make([]notifytest.Result, n)
	for i := range script {
		script[i] = notifytest.Result{Retry: retry, Err: err}
	}
	return notifytest.NewNotifier(script...)
}

func TestDeliverBacksOffExponentially(t *testing.T) {
	clock := notifytest.NewClock(start)
	r := &notify.Retrier{Backoff: steady, Clock: clock}
	n := failing(5, true, &notify.StatusError{Code: 500})
	attempts, err := r.Deliver(t.Context(), n, notify.Alert{IdempotencyKey: "k"})
	if err != nil || attempts != 6 {
		t.Fatalf("Deliver = %d, %v, want 6, nil", attempts, err)
	}
	want := []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second}
	if got := clock.Waits(); !slices.Equal(got, want) {
		t.Errorf("waits = %v, want %v", got, want)
	}
	if calls := n.Calls(); len(calls) != 6 || calls[5][0].IdempotencyKey != "k" {
		t.Errorf("calls = %v, want 6 with the alert", calls)
	}
}

func TestDeliverJitter(t *testing.T) {
	b := steady
	b.Jitter = 0.5
	for _, tc := range []struct {
		r    float64
		want []time.Duration
	}{
		{0, []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second}},
		{0.5, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}},
		{0.99, []time.Duration{1490 * time.Millisecond, 2980 * time.Millisecond, 5960 * time.Millisecond}},
	} {
		t.Run(fmt.Sprintf("rand %v", tc.r), func(t *testing.T) {
			clock := notifytest.NewClock(start)
			r := &notify.Retrier{Backoff: b, Clock: clock, Rand: func() float64 { return tc.r }}
			if _, err := r.Deliver(t.Context(), failing(3, true, errors.New("down"))); err != nil {
				t.Fatal(err)
			}
			if got := clock.Waits(); !slices.Equal(got, tc.want) {
				t.Errorf("rand %v: waits = %v, want %v", tc.r, got, tc.want)
			}
		})
	}
	// Jitter never lifts a wait above Max.
	clock := notifytest.NewClock(start)
	r := &notify.Retrier{Backoff: b, Clock: clock, Rand: func() float64 { return 0.99 }}
	if _, err := r.Deliver(t.Context(), failing(6, true, errors.New("down"))); err != nil {
		t.Fatal(err)
	}
	if got := clock.Waits(); slices.Max(got) != b.Max {
		t.Errorf("waits = %v, want none above %v", got, b.Max)
	}
}

func TestDeliverHonoursRetryAfter(t *testing.T) {
	clock := notifytest.NewClock(start)
	r := &notify.Retrier{Backoff: steady, Clock: clock}
	n := notifytest.NewNotifier(
		notifytest.Result{Retry: true, Err: &notify.StatusError{Code: 429, Wait: 30 * time.Second}}, // beyond Max
		notifytest.Result{Retry: true, Err: &notify.StatusError{Code: 429}},                         // none: backoff
		notifytest.Result{Retry: true, Err: &notify.StatusError{Code: 503, Wait: 3 * time.Second}},
	)
	if attempts, err := r.Deliver(t.Context(), n); err != nil || attempts != 4 {
		t.Fatalf("Deliver = %d, %v, want 4, nil", attempts, err)
	}
	want := []time.Duration{30 * time.Second, 2 * time.Second, 3 * time.Second}
	if got := clock.Waits(); !slices.Equal(got, want) {
		t.Errorf("waits = %v, want %v", got, want)
	}
}

func TestDeliverGivesUp(t *testing.T) {
	for _, tc := range []struct {
		err     error
		revoked bool
	}{
		{&notify.StatusError{Code: 400}, false},
		{&notify.StatusError{Code: 410}, true},
	} {
		t.Run(tc.err.Error(), func(t *testing.T) {
			clock := notifytest.NewClock(start)
			r := &notify.Retrier{Backoff: steady, Clock: clock}
			attempts, err := r.Deliver(t.Context(), failing(5, false, tc.err))
			if attempts != 1 || !errors.Is(err, notify.ErrGaveUp) || errors.Is(err, notify.ErrRevoked) != tc.revoked ||
				errors.Is(err, notify.ErrExhausted) || len(clock.Waits()) != 0 {
				t.Errorf("Deliver(%v) = %d, %v after waits %v, want 1 attempt, ErrGaveUp, revoked %v, no wait",
					tc.err, attempts, err, clock.Waits(), tc.revoked)
			}
		})
	}
	r := &notify.Retrier{Backoff: steady, Clock: notifytest.NewClock(start)}
	_, err := r.Deliver(t.Context(), failing(1, false, &notify.StatusError{Code: 410}))
	if want := "notify: gave up after 1 attempt: status 410 Gone"; err.Error() != want {
		t.Errorf("Deliver error = %q, want %q", err, want)
	}
}

func TestDeliverExhausted(t *testing.T) {
	clock := notifytest.NewClock(start)
	b := steady
	b.MaxAttempts = 3
	r := &notify.Retrier{Backoff: b, Clock: clock}
	attempts, err := r.Deliver(t.Context(), failing(10, true, &notify.StatusError{Code: 502}))
	want := "notify: retries exhausted after 3 attempts: status 502 Bad Gateway"
	if attempts != 3 || !errors.Is(err, notify.ErrExhausted) || errors.Is(err, notify.ErrGaveUp) || err.Error() != want {
		t.Errorf("Deliver = %d, %v, want 3, %q", attempts, err, want)
	}
	if got := clock.Waits(); !slices.Equal(got, []time.Duration{time.Second, 2 * time.Second}) {
		t.Errorf("waits = %v, want [1s 2s]", got)
	}
}

func TestDeliverStopsBeforeTheDeadline(t *testing.T) {
	b := steady
	b.MaxAttempts, b.MaxElapsed = 0, 10*time.Second
	clock := notifytest.NewClock(start)
	r := &notify.Retrier{Backoff: b, Clock: clock}
	// 1 + 2 + 4 = 7 s of waits; the next, 8 s, would end at 15 s.
	attempts, err := r.Deliver(t.Context(), failing(10, true, &notify.StatusError{Code: 500}))
	if attempts != 4 || !errors.Is(err, notify.ErrExhausted) {
		t.Errorf("Deliver = %d, %v, want 4 attempts, ErrExhausted", attempts, err)
	}
	// A Retry-After past the deadline ends it at once, and the outbox can
	// read the wait to schedule the next try.
	clock = notifytest.NewClock(start)
	r = &notify.Retrier{Backoff: b, Clock: clock}
	attempts, err = r.Deliver(t.Context(), failing(10, true, &notify.StatusError{Code: 429, Wait: time.Minute}))
	ra, ok := errors.AsType[notify.RetryAfterError](err)
	if attempts != 1 || !errors.Is(err, notify.ErrExhausted) || !ok || ra.RetryAfter() != time.Minute || len(clock.Waits()) != 0 {
		t.Errorf("Deliver = %d, %v, want 1 attempt, ErrExhausted with Retry-After 1m and no wait", attempts, err)
	}
	// ctx's deadline counts the same way.
	ctx, cancel := context.WithDeadline(t.Context(), time.Now().Add(time.Hour))
	defer cancel()
	clock = notifytest.NewClock(time.Now())
	r = &notify.Retrier{Backoff: steady, Clock: clock}
	attempts, err = r.Deliver(ctx, failing(10, true, &notify.StatusError{Code: 429, Wait: 2 * time.Hour}))
	if attempts != 1 || !errors.Is(err, notify.ErrExhausted) {
		t.Errorf("Deliver with ctx deadline = %d, %v, want 1 attempt, ErrExhausted", attempts, err)
	}
}

type notifierFunc func(ctx context.Context, alerts ...notify.Alert) (bool, error)

func (f notifierFunc) Notify(ctx context.Context, alerts ...notify.Alert) (bool, error) {
	return f(ctx, alerts...)
}

func TestDeliverStopsWhenCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	calls := 0
	n := notifierFunc(func(context.Context, ...notify.Alert) (bool, error) {
		calls++
		if calls == 2 {
			cancel()
		}
		return true, &notify.StatusError{Code: 503}
	})
	clock := notifytest.NewClock(start)
	r := &notify.Retrier{Backoff: steady, Clock: clock}
	attempts, err := r.Deliver(ctx, n)
	if attempts != 2 || !errors.Is(err, context.Canceled) || errors.Is(err, notify.ErrGaveUp) || len(clock.Waits()) != 1 {
		t.Errorf("Deliver = %d, %v after waits %v, want 2 attempts, context.Canceled, 1 wait", attempts, err, clock.Waits())
	}

	// Canceled while waiting, on the real clock.
	ctx, cancel = context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	r = &notify.Retrier{Backoff: notify.Backoff{Initial: time.Hour, Max: time.Hour, Multiplier: 1, MaxAttempts: 2}}
	began := time.Now()
	attempts, err = r.Deliver(ctx, failing(2, true, &notify.StatusError{Code: 500}))
	if attempts != 1 || !errors.Is(err, context.Canceled) || time.Since(began) > 10*time.Second {
		t.Errorf("Deliver = %d, %v after %v, want 1 attempt, context.Canceled, at once", attempts, err, time.Since(began))
	}
}

func TestDeliverLogsFailedAttempts(t *testing.T) {
	var buf bytes.Buffer
	r := &notify.Retrier{Backoff: steady, Clock: notifytest.NewClock(start),
		Logger: slog.New(slog.NewJSONHandler(&buf, nil))}
	if _, err := r.Deliver(t.Context(), failing(2, true, &notify.StatusError{Code: 500})); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], `"attempt":2`) || !strings.Contains(lines[1], `"error":"status 500 Internal Server Error"`) {
		t.Errorf("log =\n%s\nwant 2 lines, the second for attempt 2 with its error", buf.String())
	}
}
