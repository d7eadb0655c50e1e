package auth

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/platform/fault"
	"github.com/auditgraph/auditgraph/internal/platform/logtest"
	"github.com/auditgraph/auditgraph/internal/platform/metrics"
)

const goodKey = "0123456789abcdef0123456789abcdef01234567"

// fakeKeys knows goodKey, alice's, and goneKey, the deactivated gone's.
type fakeKeys struct{ calls int }

const goneKey = "1111111111111111111111111111111111111111"

func (f *fakeKeys) Authenticate(_ context.Context, hash []byte) (entity.User, int64, error) {
	f.calls++
	switch string(hash) {
	case string(Hash(goodKey)):
		return entity.User{ID: 1, Username: "alice"}, 7, nil
	case string(Hash(goneKey)):
		now := time.Now()
		return entity.User{ID: 2, Username: "gone", DeactivatedAt: &now}, 8, nil
	}
	return entity.User{}, 0, fault.ErrNotFound
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type failureCount struct {
	mu        sync.Mutex
	reasons   map[string]int
	throttled int
}

func (f *failureCount) record(reason string, throttled bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reasons[reason]++
	if throttled {
		f.throttled++
	}
}

func newTestAuthenticator() (*Authenticator, *clock, *logtest.Buffer, *failureCount) {
	logs := &logtest.Buffer{}
	a := New(&fakeKeys{}, slog.New(slog.NewTextHandler(logs, nil)))
	c := &clock{t: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)}
	a.now = c.now
	fc := &failureCount{reasons: map[string]int{}}
	a.OnFailure = fc.record
	return a, c, logs, fc
}

// call sends a request from addr with the Authorization authz through
// Require and returns the response.
func call(a *Authenticator, addr, authz string) *httptest.ResponseRecorder {
	h := a.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, FromContext(r.Context()).User.Username)
	}))
	r := httptest.NewRequest(http.MethodGet, "/graphql", nil)
	r.RemoteAddr = addr
	if authz != "" {
		r.Header.Set("Authorization", authz)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func basic(user, key string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+key))
}

// A source that keeps failing is slowed down with 429 and Retry-After; a
// valid key passes from it all the same, and other sources are not
// affected. Tokens come back with time.
func TestRepeatedFailuresAreThrottled(t *testing.T) {
	a, clk, _, fc := newTestAuthenticator()
	const attacker, other = "203.0.113.9:5000", "198.51.100.1:6000"
	bad := "Bearer ffffffffffffffffffffffffffffffffffffffff"
	for i := 1; i <= FailureBurst; i++ {
		if w := call(a, attacker, bad); w.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d = %d, want 401", i, w.Code)
		}
	}
	w := call(a, attacker, bad)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "1" || !strings.Contains(w.Body.String(), "too many failed authentications") {
		t.Fatalf("failure %d = %d Retry-After %q %s, want 429 with Retry-After 1", FailureBurst+1, w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	for _, tc := range []struct {
		name, addr, authz string
		code              int
	}{
		{"valid key from the throttled source", attacker, basic("alice", goodKey), http.StatusOK},
		{"valid bearer key from the throttled source", attacker, "Bearer " + goodKey, http.StatusOK},
		{"bad key from the throttled source", attacker, bad, http.StatusTooManyRequests},
		{"wrong username from the throttled source", attacker, basic("bob", goodKey), http.StatusTooManyRequests},
		{"bad key from another source", other, bad, http.StatusUnauthorized},
		{"valid key from another source", other, basic("alice", goodKey), http.StatusOK},
		{"no credentials from the throttled source (a browser's first try)", attacker, "", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if w := call(a, tc.addr, tc.authz); w.Code != tc.code {
				t.Errorf("= %d %s, want %d", w.Code, w.Body, tc.code)
			}
		})
	}
	clk.add(1500 * time.Millisecond) // one token back, at FailureRate 1/s
	if w := call(a, attacker, bad); w.Code != http.StatusUnauthorized {
		t.Errorf("after 1.5 s = %d, want 401", w.Code)
	}
	if w := call(a, attacker, bad); w.Code != http.StatusTooManyRequests {
		t.Errorf("then = %d, want 429 again", w.Code)
	}
	clk.add(time.Minute)
	for i := 1; i <= FailureBurst; i++ {
		if w := call(a, attacker, bad); w.Code != http.StatusUnauthorized {
			t.Fatalf("a minute later, failure %d = %d, want 401", i, w.Code)
		}
	}
	want := map[string]int{metrics.AuthUnknownKey: 2*FailureBurst + 5, metrics.AuthWrongUser: 1, metrics.AuthMissing: 1}
	if fmt.Sprint(fc.reasons) != fmt.Sprint(want) || fc.throttled != 4 {
		t.Errorf("failures counted %v, %d throttled; want %v, 4 throttled", fc.reasons, fc.throttled, want)
	}
}

// IPv6 clients usually hold a whole /64: its addresses share one bucket.
func TestThrottleSourceKey(t *testing.T) {
	for _, tc := range []struct{ ip, want string }{
		{"203.0.113.9", "203.0.113.9"},
		{"::ffff:203.0.113.9", "203.0.113.9"},
		{"2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "2001:db8:1:3::/64"},
		{"not an address", "not an address"},
	} {
		t.Run(tc.ip, func(t *testing.T) {
			if got := sourceKey(tc.ip); got != tc.want {
				t.Errorf("sourceKey(%q) = %q, want %q", tc.ip, got, tc.want)
			}
		})
	}
}

// The limiter remembers at most its maximum of sources, forgetting the
// least recently failing first.
func TestThrottleMemoryIsBounded(t *testing.T) {
	l := newLimiter(1, 2, 100)
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	l.take("keep", now)
	l.take("keep", now)
	if _, started := l.take("keep", now); !started {
		t.Error("the first failure over the burst did not start throttling")
	}
	if _, started := l.take("keep", now); started {
		t.Error("the second failure over the burst started throttling again")
	}
	for i := range 10_000 {
		l.take(fmt.Sprintf("10.0.%d.%d", i/256, i%256), now)
		if i%50 == 0 {
			l.take("keep", now) // failing all along: stays remembered, and empty
		}
	}
	if n := l.len(); n != 100 {
		t.Errorf("sources remembered = %d, want 100", n)
	}
	if wait, _ := l.take("keep", now); wait == 0 {
		t.Error("a source failing all along was forgotten")
	}
	if wait, _ := l.take("10.0.0.0", now); wait != 0 {
		t.Error("the oldest source was not forgotten")
	}
}

// Failures are logged with the source, the username given and the reason,
// never the key; a flood is logged as a few lines saying how many were left
// out.
func TestFailuresAreLoggedWithoutKeysAndRateLimited(t *testing.T) {
	a, clk, logs, _ := newTestAuthenticator()
	keys := []string{}
	for i := range 1000 {
		key := fmt.Sprintf("%040x", i+1)
		keys = append(keys, key)
		call(a, "203.0.113.9:5000", basic("mallory", key))
	}
	call(a, "198.51.100.1:6000", "Bearer "+goneKey)
	clk.add(logEvery)
	call(a, "198.51.100.1:6000", "Token x")
	call(a, "198.51.100.1:6000", "")
	out := logs.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != logBurst+2 {
		t.Fatalf("logged %d lines for 1003 failures, want %d:\n%s", len(lines), logBurst+2, out)
	}
	first, last := lines[0], lines[len(lines)-1]
	for _, want := range []string{"authentication failed", "source=203.0.113.9", "username=mallory", "reason=unknown_key"} {
		if !strings.Contains(first, want) {
			t.Errorf("first line %q does not say %q", first, want)
		}
	}
	if n := strings.Count(out, "authentication failures throttled"); n != 1 || !strings.Contains(out, "source=203.0.113.9 failures=20 retry_after_seconds=1") {
		t.Errorf("%d lines say the source was throttled, want 1 naming it:\n%s", n, out)
	}
	for _, want := range []string{"source=198.51.100.1", "reason=malformed", fmt.Sprintf("suppressed=%d", 1000-logBurst+1)} {
		if !strings.Contains(last, want) {
			t.Errorf("last line %q does not say %q", last, want)
		}
	}
	for _, k := range append(keys, goneKey) {
		if strings.Contains(out, k) {
			t.Fatalf("a key is in the log:\n%s", out)
		}
	}
}

// A source being slowed down is reported once, not again with each token
// that trickles back; only after its bucket filled up again.
func TestThrottleStartsOncePerEpisode(t *testing.T) {
	l := newLimiter(1, 3, 10)
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	var starts []int
	fail := func(i int) {
		if _, started := l.take("src", now); started {
			starts = append(starts, i)
		}
	}
	for i := range 5 {
		fail(i) // 3 allowed, then throttled: starts at 3
	}
	for i := 5; i < 10; i++ {
		now = now.Add(time.Second) // a token back each time: allowed, throttled, …
		fail(i)
		fail(i)
	}
	now = now.Add(10 * time.Second) // full again
	for i := 10; i < 15; i++ {
		fail(i)
	}
	if fmt.Sprint(starts) != "[3 13]" {
		t.Errorf("throttling started at failures %v, want [3 13]", starts)
	}
}
