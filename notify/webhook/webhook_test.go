package webhook_test

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/notify"
	"github.com/auditgraph/auditgraph/notify/webhook"
)

var (
	secret = notify.NewSecret("whsec_TOPSECRET")
	sentAt = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
)

func testAlert(key string) notify.Alert {
	return notify.Alert{
		Event: audit.Event{
			Action:       audit.UserLogin,
			ActorEmail:   "mallory@example.com",
			ResponseCode: 401,
			Timestamp:    time.Date(2025, 3, 1, 11, 59, 0, 0, time.UTC),
		},
		Organization:   "acme",
		Rule:           "Failed logins",
		IdempotencyKey: key,
		EventURL:       "https://auditgraph.example/orgs/acme/events/42",
	}
}

// request is what a receiver got.
type request struct {
	header http.Header
	body   []byte
}

// receiver answers every request with status and headers, keeping what it got.
type receiver struct {
	mu       sync.Mutex
	requests []request
	status   int
	header   http.Header
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.requests = append(rc.requests, request{r.Header.Clone(), body})
	rc.mu.Unlock()
	for k, v := range rc.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rc.status)
}

func serve(t *testing.T, status int, header http.Header) (*receiver, *webhook.Notifier) {
	t.Helper()
	rc := &receiver{status: status, header: header}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return rc, webhook.New(notify.NewSecret(srv.URL+"/hooks/T0KEN"), secret,
		webhook.WithClock(func() time.Time { return sentAt }))
}

func TestNotifyClassifiesAnswers(t *testing.T) {
	for _, tc := range []struct {
		status                 int
		retry, failed, revoked bool
	}{
		{status: 200},
		{status: 202},
		{status: 204},
		{status: 429, retry: true, failed: true},
		{status: 500, retry: true, failed: true},
		{status: 502, retry: true, failed: true},
		{status: 503, retry: true, failed: true},
		{status: 302, failed: true},
		{status: 400, failed: true},
		{status: 401, failed: true},
		{status: 403, failed: true, revoked: true},
		{status: 404, failed: true, revoked: true},
		{status: 410, failed: true, revoked: true},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			rc, n := serve(t, tc.status, http.Header{"Location": {"http://elsewhere.example/"}})
			retry, err := n.Notify(t.Context(), testAlert("k"))
			if retry != tc.retry || (err != nil) != tc.failed || errors.Is(err, notify.ErrRevoked) != tc.revoked {
				t.Errorf("answer %d: Notify = %v, %v, want retry %v, failed %v, revoked %v",
					tc.status, retry, err, tc.retry, tc.failed, tc.revoked)
			}
			if len(rc.requests) != 1 {
				t.Errorf("answer %d: %d requests, want 1 (plugins never retry or follow redirects)", tc.status, len(rc.requests))
			}
		})
	}
}

func TestNotifyReadsRetryAfter(t *testing.T) {
	date := time.Now().Add(5 * time.Second).UTC().Format(http.TimeFormat)
	for _, tc := range []struct {
		status     int
		retryAfter string
		min, max   time.Duration
	}{
		{429, "2", 2 * time.Second, 2 * time.Second},
		{503, date, 3 * time.Second, 5 * time.Second},
		{429, "", 0, 0},
		{429, "later", 0, 0},
	} {
		t.Run(fmt.Sprintf("%d %s", tc.status, cmp.Or(tc.retryAfter, "none")), func(t *testing.T) {
			h := http.Header{}
			if tc.retryAfter != "" {
				h.Set("Retry-After", tc.retryAfter)
			}
			_, n := serve(t, tc.status, h)
			retry, err := n.Notify(t.Context(), testAlert("k"))
			ra, ok := errors.AsType[notify.RetryAfterError](err)
			if !retry || !ok || ra.RetryAfter() < tc.min || ra.RetryAfter() > tc.max {
				t.Errorf("%d with Retry-After %q: Notify = %v, %v, want retry waiting %v to %v",
					tc.status, tc.retryAfter, retry, err, tc.min, tc.max)
			}
		})
	}
}

func TestNotifyRequest(t *testing.T) {
	rc, n := serve(t, 200, nil)
	if _, err := n.Notify(t.Context(), testAlert("alert-1")); err != nil {
		t.Fatal(err)
	}
	got := rc.requests[0]
	for k, want := range map[string]string{
		"Content-Type":               "application/json",
		webhook.HeaderTimestamp:      strconv.FormatInt(sentAt.Unix(), 10),
		webhook.HeaderIdempotencyKey: "alert-1",
	} {
		if v := got.header.Get(k); v != want {
			t.Errorf("header %s = %q, want %q", k, v, want)
		}
	}
	want := `{"alerts":[{"idempotency_key":"alert-1","organization":"acme","rule":"Failed logins",` +
		`"event_url":"https://auditgraph.example/orgs/acme/events/42","event":{"action":"user:login",` +
		`"actor_email":"mallory@example.com","response_code":401,"timestamp":"2025-03-01T11:59:00Z"}}]}`
	if string(got.body) != want {
		t.Errorf("body =\n%s\nwant\n%s", got.body, want)
	}
	wantSig := webhook.Sign(secret, got.header.Get(webhook.HeaderTimestamp), got.body)
	if sig := got.header.Get(webhook.HeaderSignature); sig != wantSig || len(sig) != len("v1=")+64 {
		t.Errorf("signature = %q, want %q", sig, wantSig)
	}
}

func TestIdempotencyKeyOfSeveralAlerts(t *testing.T) {
	rc, n := serve(t, 200, nil)
	for range 2 {
		if _, err := n.Notify(t.Context(), testAlert("a"), testAlert("b")); err != nil {
			t.Fatal(err)
		}
	}
	sum := sha256.Sum256([]byte("a\nb"))
	want := hex.EncodeToString(sum[:])
	for i, r := range rc.requests {
		if got := r.header.Get(webhook.HeaderIdempotencyKey); got != want {
			t.Errorf("request %d: Idempotency-Key = %q, want %q", i, got, want)
		}
	}
}

func TestNotifyWithoutAlertsSendsNothing(t *testing.T) {
	rc, n := serve(t, 200, nil)
	if retry, err := n.Notify(t.Context()); retry || err != nil || len(rc.requests) != 0 {
		t.Errorf("Notify() = %v, %v with %d requests, want false, nil, none", retry, err, len(rc.requests))
	}
}

// verifying is a receiver as a user would write one: it answers 401 unless
// Verify accepts the request.
func verifying(key notify.Secret, now time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		err := webhook.Verify(key, r.Header.Get(webhook.HeaderTimestamp), body,
			r.Header.Get(webhook.HeaderSignature), now, 5*time.Minute)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
		}
	})
}

func TestReceiverVerifies(t *testing.T) {
	srv := httptest.NewServer(verifying(secret, sentAt.Add(time.Minute)))
	defer srv.Close()
	n := webhook.New(notify.NewSecret(srv.URL), secret, webhook.WithClock(func() time.Time { return sentAt }))
	if _, err := n.Notify(t.Context(), testAlert("k")); err != nil {
		t.Fatalf("receiver refused a real request: %v", err)
	}
	wrong := webhook.New(notify.NewSecret(srv.URL), notify.NewSecret("whsec_OTHER"), webhook.WithClock(func() time.Time { return sentAt }))
	if _, err := wrong.Notify(t.Context(), testAlert("k")); !isStatus(err, 401) {
		t.Errorf("receiver accepted a request signed with another secret: %v", err)
	}
	old := webhook.New(notify.NewSecret(srv.URL), secret, webhook.WithClock(func() time.Time { return sentAt.Add(-time.Hour) }))
	if _, err := old.Notify(t.Context(), testAlert("k")); !isStatus(err, 401) {
		t.Errorf("receiver accepted an hour-old request: %v", err)
	}

	// A real request with its body changed on the way.
	rc, n := serve(t, 200, nil)
	if _, err := n.Notify(t.Context(), testAlert("k")); err != nil {
		t.Fatal(err)
	}
	got := rc.requests[0]
	tampered := bytes.Replace(got.body, []byte(`"response_code":401`), []byte(`"response_code":200`), 1)
	req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(tampered))
	req.Header = got.header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("receiver answered %d to a tampered body, want 401", resp.StatusCode)
	}
}

func isStatus(err error, code int) bool {
	se, ok := errors.AsType[*notify.StatusError](err)
	return ok && se.Code == code
}

func TestVerify(t *testing.T) {
	body := []byte(`{"alerts":[]}`)
	ts := strconv.FormatInt(sentAt.Unix(), 10)
	good := webhook.Sign(secret, ts, body)
	tol := 5 * time.Minute
	for _, tc := range []struct {
		name      string
		key       notify.Secret
		ts        string
		body      []byte
		signature string
		now       time.Time
		want      error
		text      string
	}{
		{"good", secret, ts, body, good, sentAt, nil, ""},
		{"at the tolerance", secret, ts, body, good, sentAt.Add(tol), nil, ""},
		{"clock behind", secret, ts, body, good, sentAt.Add(-time.Minute), nil, ""},
		{"rotated secrets", secret, ts, body, "v1=00ff, " + good, sentAt, nil, ""},
		{"tampered body", secret, ts, []byte(`{"alerts":[{}]}`), good, sentAt, webhook.ErrSignature, "webhook: no signature matches"},
		{"wrong secret", notify.NewSecret("whsec_OTHER"), ts, body, good, sentAt, webhook.ErrSignature, ""},
		{"other timestamp", secret, strconv.FormatInt(sentAt.Unix()+1, 10), body, good, sentAt, webhook.ErrSignature, ""},
		{"no scheme", secret, ts, body, good[len("v1="):], sentAt, webhook.ErrSignature, ""},
		{"not hex", secret, ts, body, "v1=zz", sentAt, webhook.ErrSignature, ""},
		{"no signature", secret, ts, body, "", sentAt, webhook.ErrSignature, ""},
		{"old", secret, ts, body, good, sentAt.Add(10 * time.Minute), webhook.ErrTimestamp,
			"webhook: bad timestamp: 10m0s off, tolerance 5m0s"},
		{"from the future", secret, ts, body, good, sentAt.Add(-10 * time.Minute), webhook.ErrTimestamp, ""},
		{"not a number", secret, "yesterday", body, good, sentAt, webhook.ErrTimestamp,
			`webhook: bad timestamp: "yesterday" is not Unix seconds`},
		{"missing", secret, "", body, good, sentAt, webhook.ErrTimestamp, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := webhook.Verify(tc.key, tc.ts, tc.body, tc.signature, tc.now, tol)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("%s: Verify = %v, want %v", tc.name, err, tc.want)
			}
			if tc.text != "" && (err == nil || err.Error() != tc.text) {
				t.Errorf("%s: Verify = %v, want %q", tc.name, err, tc.text)
			}
		})
	}
}
