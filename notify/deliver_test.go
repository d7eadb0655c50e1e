package notify_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/notify"
	"github.com/auditgraph/auditgraph/notify/notifytest"
	"github.com/auditgraph/auditgraph/notify/slack"
	"github.com/auditgraph/auditgraph/notify/webhook"
)

// answer is one scripted reply of a receiver.
type answer struct {
	status     int
	retryAfter string
}

// scripted is a receiver that replies with its script, then 200.
type scripted struct {
	mu        sync.Mutex
	script    []answer
	requests  int
	delivered int
	onRequest func(n int)
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	a := answer{status: 200}
	if s.requests <= len(s.script) {
		a = s.script[s.requests-1]
	}
	if a.status == 200 {
		s.delivered++
	}
	n, hook := s.requests, s.onRequest
	s.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	w.WriteHeader(a.status)
}

func (s *scripted) counts() (requests, delivered int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, s.delivered
}

// plugins makes a notifier of each kind for a receiver URL.
var plugins = []struct {
	name string
	new  func(url string) notify.Notifier
}{
	{"slack", func(url string) notify.Notifier { return slack.New(notify.NewSecret(url)) }},
	{"webhook", func(url string) notify.Notifier {
		return webhook.New(notify.NewSecret(url), notify.NewSecret("whsec_TOPSECRET"))
	}},
}

var alert = notify.Alert{Event: audit.Event{Action: audit.UserCreateAPIKey}, Organization: "acme", Rule: "keys", IdempotencyKey: "k"}

// deliver runs a Retrier with steady backoff and a fake clock against a
// receiver answering script.
func deliver(t *testing.T, newNotifier func(string) notify.Notifier, script ...answer) (*scripted, *notifytest.Clock, int, error) {
	t.Helper()
	rc := &scripted{script: script}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	clock := notifytest.NewClock(start)
	r := &notify.Retrier{Backoff: steady, Clock: clock}
	attempts, err := r.Deliver(t.Context(), newNotifier(srv.URL+"/hook"), alert)
	return rc, clock, attempts, err
}

func TestDeliverToPlugins(t *testing.T) {
	date := func() string { return time.Now().Add(4 * time.Second).UTC().Format(http.TimeFormat) }
	for _, p := range plugins {
		for _, tc := range []struct {
			name     string
			script   []answer
			attempts int
			waits    func(w []time.Duration) bool
			want     string
		}{
			{"429 Retry-After 2", []answer{{429, "2"}}, 2,
				func(w []time.Duration) bool { return slices.Equal(w, []time.Duration{2 * time.Second}) }, "[2s]"},
			{"429 Retry-After date", []answer{{429, date()}}, 2,
				func(w []time.Duration) bool { return len(w) == 1 && w[0] > 2*time.Second && w[0] <= 4*time.Second }, "[3s to 4s]"},
			{"429 without Retry-After", []answer{{429, ""}, {429, ""}}, 3,
				func(w []time.Duration) bool { return slices.Equal(w, []time.Duration{time.Second, 2 * time.Second}) }, "[1s 2s]"},
			{"429 garbage Retry-After", []answer{{429, "in a while"}, {429, "-3"}}, 3,
				func(w []time.Duration) bool { return slices.Equal(w, []time.Duration{time.Second, 2 * time.Second}) }, "[1s 2s]"},
			{"500s", []answer{{500, ""}, {502, ""}, {503, ""}, {500, ""}}, 5,
				func(w []time.Duration) bool {
					return slices.Equal(w, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second})
				}, "[1s 2s 4s 8s]"},
		} {
			t.Run(p.name+"/"+tc.name, func(t *testing.T) {
				rc, clock, attempts, err := deliver(t, p.new, tc.script...)
				requests, delivered := rc.counts()
				if err != nil || attempts != tc.attempts || requests != tc.attempts || delivered != 1 {
					t.Errorf("Deliver = %d, %v with %d requests, %d delivered; want %d, nil, delivered once",
						attempts, err, requests, delivered, tc.attempts)
				}
				if !tc.waits(clock.Waits()) {
					t.Errorf("waits = %v, want %s", clock.Waits(), tc.want)
				}
			})
		}
	}
}

func TestDeliverStopsAtRevoked(t *testing.T) {
	for _, p := range plugins {
		t.Run(p.name, func(t *testing.T) {
			for _, code := range []int{403, 404, 410} {
				rc, clock, attempts, err := deliver(t, p.new, answer{status: code})
				requests, _ := rc.counts()
				if attempts != 1 || requests != 1 || len(clock.Waits()) != 0 ||
					!errors.Is(err, notify.ErrRevoked) || !errors.Is(err, notify.ErrGaveUp) {
					t.Errorf("%s, %d: Deliver = %d, %v after %d requests, waits %v; want 1 attempt, ErrRevoked, no wait",
						p.name, code, attempts, err, requests, clock.Waits())
				}
			}
			rc, _, attempts, err := deliver(t, p.new, answer{status: 400})
			if requests, _ := rc.counts(); attempts != 1 || requests != 1 || !errors.Is(err, notify.ErrGaveUp) || errors.Is(err, notify.ErrRevoked) {
				t.Errorf("%s, 400: Deliver = %d, %v, want 1 attempt, ErrGaveUp, not revoked", p.name, attempts, err)
			}
		})
	}
}

func TestDeliverStopsWhenContextEnds(t *testing.T) {
	for _, p := range plugins {
		t.Run(p.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			rc := &scripted{script: slices.Repeat([]answer{{503, ""}}, 100)}
			rc.onRequest = func(n int) {
				if n == 3 {
					cancel()
				}
			}
			srv := httptest.NewServer(rc)
			r := &notify.Retrier{Backoff: steady, Clock: notifytest.NewClock(start)}
			attempts, err := r.Deliver(ctx, p.new(srv.URL), alert)
			srv.Close()
			if requests, _ := rc.counts(); attempts != 3 || requests != 3 || !errors.Is(err, context.Canceled) {
				t.Errorf("%s: Deliver = %d, %v after %d requests, want 3, context.Canceled", p.name, attempts, err, requests)
			}
		})
	}
}

// TestDeliverWaitsRetryAfterInRealTime is the one test on the real clock:
// a 429 with Retry-After: 2 holds the alert at least 2 s, then delivers it
// once.
func TestDeliverWaitsRetryAfterInRealTime(t *testing.T) {
	for _, p := range plugins {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			rc := &scripted{script: []answer{{429, "2"}}}
			srv := httptest.NewServer(rc)
			defer srv.Close()
			r := &notify.Retrier{Backoff: notify.DefaultBackoff}
			began := time.Now()
			attempts, err := r.Deliver(t.Context(), p.new(srv.URL), alert)
			took := time.Since(began)
			requests, delivered := rc.counts()
			if err != nil || attempts != 2 || requests != 2 || delivered != 1 {
				t.Errorf("Deliver = %d, %v with %d requests, %d delivered; want 2, nil, delivered once",
					attempts, err, requests, delivered)
			}
			if took < 2*time.Second || took > 10*time.Second {
				t.Errorf("Deliver took %v, want 2 s and a little", took)
			}
		})
	}
}
