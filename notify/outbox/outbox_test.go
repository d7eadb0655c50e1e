package outbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/alerting"
	"github.com/auditgraph/auditgraph/internal/alerting/secretbox"
	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/identity"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/log/ledger"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/internal/platform/logtest"
	"github.com/auditgraph/auditgraph/internal/platform/metrics"
	"github.com/auditgraph/auditgraph/internal/platform/metrics/metricstest"
	"github.com/auditgraph/auditgraph/notify"
	"github.com/auditgraph/auditgraph/notify/integration"
	"github.com/auditgraph/auditgraph/notify/outbox"
	"github.com/auditgraph/auditgraph/notify/webhook"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// The secrets of every test integration: none may show in a log line or a
// stored error.
const (
	urlToken      = "T0KEN-in-the-path-9f8e7d"
	signingSecret = "whsec-SIGNING-5ecret-1a2b3c"
)

// env is a fresh database with the organization "acme", its admin, a
// secret box and a log that every test checks for secrets at the end.
type env struct {
	t     *testing.T
	ctx   context.Context
	url   string
	store *storage.Store
	ids   *identity.Service
	admin *auth.Principal
	org   entity.Organization
	box   *secretbox.Box
	logs  *logtest.Buffer
	log   *slog.Logger
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	url := storagetest.URL(t)
	st, err := storage.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logs := &logtest.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ids := identity.New(st, deployment.SelfManaged, log)
	if _, _, err := ids.Bootstrap(ctx, identity.Bootstrap{AdminUsername: "admin", AdminAPIKey: strings.Repeat("ab", 20), OrgName: "acme"}); err != nil {
		t.Fatal(err)
	}
	admin, err := st.UserByUsername(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	org, err := st.OrganizationByName(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	box, err := secretbox.New(bytes.Repeat([]byte{7}, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, url: url, store: st, ids: ids, admin: &auth.Principal{User: admin}, org: org, box: box, logs: logs, log: log}
	t.Cleanup(func() {
		for _, s := range []string{urlToken, signingSecret} {
			if strings.Contains(logs.String(), s) {
				t.Errorf("a secret is in the log:\n%s", logs.String())
			}
		}
	})
	return e
}

// webhook connects a signed webhook posting to r.
func (e *env) webhook(name string, r *receiver) int64 {
	e.t.Helper()
	u, s := integration.Seal(e.box, integration.Config{Name: name, Kind: integration.Webhook,
		URL: notify.NewSecret(r.srv.URL + "/hooks/" + urlToken), SigningSecret: notify.NewSecret(signingSecret)})
	var in entity.Integration
	err := e.store.InTx(e.ctx, func(tx *storage.Tx) error {
		var err error
		in, err = tx.CreateIntegration(e.ctx, entity.Integration{OrgID: e.org.ID, Name: name, Kind: "webhook", URLSealed: u, SigningSecretSealed: s})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return in.ID
}

// rule creates an enabled rule of acme.
func (e *env) rule(r alerting.Rule) int64 {
	e.t.Helper()
	r.OrgID, r.Enabled = e.org.ID, true
	if err := r.Validate(); err != nil {
		e.t.Fatal(err)
	}
	var out entity.AlertRule
	err := e.store.InTx(e.ctx, func(tx *storage.Tx) error {
		var err error
		out, err = tx.CreateAlertRule(e.ctx, entity.Rule(r), nil)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out.ID
}

// ingest reports events to acme through the bulk path.
func (e *env) ingest(events ...audit.Event) {
	e.t.Helper()
	in := make([]ledger.IngestEvent, len(events))
	for i, ev := range events {
		in[i] = ledger.IngestEvent{Event: ev}
	}
	if _, err := ledger.Ingest(e.ctx, e.store, e.org.ID, in, time.Time{}); err != nil {
		e.t.Fatal(err)
	}
}

// deliveries returns an integration's outbox rows, oldest first.
func (e *env) deliveries(integrationID int64) []entity.OutboxAlert {
	e.t.Helper()
	rows, err := e.store.IntegrationDeliveries(e.ctx, integrationID, 0, 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
		rows[i], rows[j] = rows[j], rows[i]
	}
	return rows
}

// fast is a backoff that keeps tests short.
var fast = notify.Backoff{Initial: 200 * time.Millisecond, Max: time.Second, Multiplier: 2, MaxAttempts: 6}

// worker runs a delivery worker on its own pool until the test ends or
// stop is called; stop waits for it to return.
func (e *env) worker(cfg outbox.Config) (stop func()) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(e.ctx)
	wait := e.workerIn(ctx, cfg)
	return func() { cancel(); wait() }
}

// workerIn runs a delivery worker on its own pool until ctx is done; wait
// waits for it to return.
func (e *env) workerIn(ctx context.Context, cfg outbox.Config) (wait func()) {
	e.t.Helper()
	st, err := storage.Open(e.ctx, e.url)
	if err != nil {
		e.t.Fatal(err)
	}
	cfg.Store, cfg.Secrets, cfg.Log, cfg.DatabaseURL = st, e.box, e.log, e.url
	if cfg.Backoff == (notify.Backoff{}) {
		cfg.Backoff = fast
	}
	if cfg.Poll == 0 {
		cfg.Poll = 100 * time.Millisecond
	}
	w, err := outbox.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	var once sync.Once
	wait = func() { once.Do(func() { <-done; st.Close() }) }
	e.t.Cleanup(func() { cancel(); wait() })
	return wait
}

// hit is one request a receiver got.
type hit struct {
	at      time.Time
	key     string
	verify  error
	payload struct {
		Alerts []struct {
			IdempotencyKey string          `json:"idempotency_key"`
			Organization   string          `json:"organization"`
			Rule           string          `json:"rule"`
			EventURL       string          `json:"event_url"`
			Event          json.RawMessage `json:"event"`
		} `json:"alerts"`
	}
}

// receiver is a webhook receiver on loopback that checks each request's
// signature with webhook.Verify and answers with the next of its codes
// (200 once they run out).
type receiver struct {
	srv   *httptest.Server
	mu    sync.Mutex
	hits  []hit
	codes []int
	onHit func(n int)
}

func newReceiver(t *testing.T, codes ...int) *receiver {
	r := &receiver{codes: codes}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		h := hit{at: time.Now(), key: req.Header.Get(webhook.HeaderIdempotencyKey)}
		h.verify = webhook.Verify(notify.NewSecret(signingSecret), req.Header.Get(webhook.HeaderTimestamp), body,
			req.Header.Get(webhook.HeaderSignature), time.Now(), time.Minute)
		if req.URL.Path != "/hooks/"+urlToken {
			h.verify = fmt.Errorf("path %q", req.URL.Path)
		}
		json.Unmarshal(body, &h.payload)
		r.mu.Lock()
		r.hits = append(r.hits, h)
		n := len(r.hits)
		code := http.StatusOK
		if len(r.codes) > 0 {
			code, r.codes = r.codes[0], r.codes[1:]
		}
		onHit := r.onHit
		r.mu.Unlock()
		if code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "2")
		}
		w.WriteHeader(code)
		if onHit != nil {
			onHit(n)
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) got() []hit {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hit(nil), r.hits...)
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func login(actor string, code int, at time.Time) audit.Event {
	return audit.Event{Action: audit.UserLogin, ActorEmail: actor, ResponseCode: code, Timestamp: at}
}

func TestRulesAtIngest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := newReceiver(t)
	hook := e.webhook("siem", r)
	rules := map[int64]string{}
	for _, rule := range []alerting.Rule{
		{Name: "exact", Actions: []string{"user:create_api_key"}},
		{Name: "prefix", Actions: []string{"team:*"}},
		{Name: "actor", Actions: []string{"run:*"}, Actor: "Eve@x.io"},
		{Name: "target", Actions: []string{"user:update"}, Target: "bob@x.io"},
		{Name: "codes", Actions: []string{"artifact:read"}, CodeMin: 400, CodeMax: 499},
	} {
		rule.Integrations = []int64{hook}
		rules[e.rule(rule)] = rule.Name
	}
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	e.ingest(
		audit.Event{Action: audit.UserCreateAPIKey, Timestamp: t0},                              // exact
		audit.Event{Action: audit.UserDeleteAPIKey, Timestamp: t0},                              // nothing
		audit.Event{Action: audit.TeamDelete, Timestamp: t0},                                    // prefix
		audit.Event{Action: audit.RunStop, ActorEmail: "eve@X.io", Timestamp: t0},               // actor
		audit.Event{Action: audit.RunStop, ActorEmail: "bob@x.io", Timestamp: t0},               // nothing
		audit.Event{Action: audit.UserUpdate, UserEmail: "Bob@x.io", Timestamp: t0},             // target
		audit.Event{Action: audit.UserUpdate, UserEmail: "eve@x.io", Timestamp: t0},             // nothing
		audit.Event{Action: audit.ArtifactRead, ResponseCode: 403, Timestamp: t0},               // codes
		audit.Event{Action: audit.ArtifactRead, ResponseCode: 200, Timestamp: t0},               // nothing
		audit.Event{Action: audit.ArtifactRead, Timestamp: t0},                                  // nothing: no code
		audit.Event{Action: audit.UserCreateAPIKey, ActorEmail: "x@x.io", Timestamp: t0.Add(1)}, // exact again
	)
	var got []string
	for _, d := range e.deliveries(hook) {
		got = append(got, fmt.Sprintf("%s@%d", d.RuleName, *d.EventSeq))
	}
	// The bootstrap wrote acme's first events (team:create and more); the
	// batch follows them.
	last, err := e.store.LastSeq(e.ctx, e.org.ID)
	if err != nil {
		t.Fatal(err)
	}
	first := last - 10
	want := []string{
		fmt.Sprintf("exact@%d", first), fmt.Sprintf("prefix@%d", first+2), fmt.Sprintf("actor@%d", first+3),
		fmt.Sprintf("target@%d", first+5), fmt.Sprintf("codes@%d", first+7), fmt.Sprintf("exact@%d", first+10),
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("outbox = %v, want %v", got, want)
	}
}

func TestThresholdAtIngest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	hook := e.webhook("siem", newReceiver(t))
	rule, err := alerting.Suggested("FAILED_LOGINS", e.org.ID, []int64{hook})
	if err != nil {
		t.Fatal(err)
	}
	e.rule(rule)
	t0 := time.Now().UTC().Add(-time.Hour)
	for i := range 4 {
		e.ingest(login("eve@x.io", 401, t0.Add(time.Duration(i)*time.Minute)), login("bob@x.io", 200, t0))
	}
	if n := len(e.deliveries(hook)); n != 0 {
		t.Fatalf("after 4 failures: %d alerts, want 0", n)
	}
	e.ingest(login("eve@x.io", 403, t0.Add(4*time.Minute)))
	if n := len(e.deliveries(hook)); n != 1 {
		t.Fatalf("after 5 failures: %d alerts, want 1", n)
	}
	e.ingest(login("eve@x.io", 401, t0.Add(5*time.Minute)))
	if n := len(e.deliveries(hook)); n != 1 {
		t.Fatalf("after 6 failures: %d alerts, want still 1", n)
	}
	// Long after: the count fell below 5, so a new crossing alerts again.
	for i := range 5 {
		e.ingest(login("eve@x.io", 401, t0.Add(time.Duration(30+i)*time.Minute)))
	}
	if n := len(e.deliveries(hook)); n != 2 {
		t.Fatalf("after a second crossing: %d alerts, want 2", n)
	}
}

func TestServerEventsAlert(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := newReceiver(t)
	hook := e.webhook("siem", r)
	rule, err := alerting.Suggested("USER_DEACTIVATED", e.org.ID, []int64{hook})
	if err != nil {
		t.Fatal(err)
	}
	e.rule(rule)
	e.worker(outbox.Config{PublicURL: "https://ag.example"})
	if _, err := e.ids.CreateUser(e.ctx, e.admin, identity.NewUser{Username: "mia", Email: "mia@x.io", Org: "acme", Role: "member"}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := e.ids.DeactivateUser(e.ctx, e.admin, "mia"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the alert", func() bool { return len(r.got()) == 1 })
	t.Logf("delivered %s after the deactivation committed", time.Since(start))
	h := r.got()[0]
	if h.verify != nil {
		t.Errorf("webhook.Verify = %v", h.verify)
	}
	a := h.payload.Alerts
	if len(a) != 1 || a[0].Rule != "User deactivated" || a[0].Organization != "acme" || a[0].IdempotencyKey != h.key ||
		!strings.Contains(string(a[0].Event), `"action":"user:deactivate"`) || !strings.Contains(string(a[0].Event), `"user_email":"mia@x.io"`) ||
		!strings.HasPrefix(a[0].EventURL, "https://ag.example/admin/audit_logs?endDate=") {
		t.Errorf("payload = %+v", h.payload)
	}
	waitFor(t, 2*time.Second, "delivered status", func() bool {
		d := e.deliveries(hook)
		return len(d) == 1 && d[0].Status == entity.AlertDelivered
	})
}

// manyAlerts enqueues n alerts for a fresh integration posting to r.
func (e *env) manyAlerts(r *receiver, n int) int64 {
	e.t.Helper()
	hook := e.webhook("siem", r)
	e.rule(alerting.Rule{Name: "keys", Actions: []string{"user:create_api_key"}, Integrations: []int64{hook}})
	evs := make([]audit.Event, n)
	for i := range evs {
		evs[i] = audit.Event{Action: audit.UserCreateAPIKey, ActorEmail: fmt.Sprintf("u%d@x.io", i)}
	}
	e.ingest(evs...)
	return hook
}

// onceEach checks that every alert reached r exactly once.
func onceEach(t *testing.T, r *receiver, n int) {
	t.Helper()
	seen := map[string]int{}
	for _, h := range r.got() {
		seen[h.key]++
		if h.verify != nil {
			t.Errorf("webhook.Verify = %v", h.verify)
		}
	}
	if len(seen) != n {
		t.Errorf("%d distinct alerts received, want %d", len(seen), n)
	}
	for k, c := range seen {
		if c != 1 {
			t.Errorf("alert %s received %d times", k, c)
		}
	}
}

func TestRestartLosesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := newReceiver(t)
	hook := e.manyAlerts(r, 5)
	// The first worker is told to stop (as on SIGTERM) while sending its
	// first alert.
	ctx, cancel := context.WithCancel(e.ctx)
	r.onHit = func(n int) {
		if n == 1 {
			cancel()
		}
	}
	e.workerIn(ctx, outbox.Config{Batch: 1})()
	if n := len(r.got()); n != 1 {
		t.Fatalf("first worker sent %d alerts, want 1", n)
	}
	e.worker(outbox.Config{})
	waitFor(t, 5*time.Second, "5 alerts", func() bool { return len(r.got()) >= 5 })
	time.Sleep(300 * time.Millisecond)
	onceEach(t, r, 5)
	for _, d := range e.deliveries(hook) {
		if d.Status != entity.AlertDelivered || d.Attempts != 1 {
			t.Errorf("alert %d: status %s after %d attempts, want delivered after 1", d.ID, d.Status, d.Attempts)
		}
	}
}

func TestTwoWorkersNeverDoubleSend(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := newReceiver(t)
	e.manyAlerts(r, 50)
	e.worker(outbox.Config{Batch: 3})
	e.worker(outbox.Config{Batch: 3})
	waitFor(t, 20*time.Second, "50 alerts", func() bool { return len(r.got()) >= 50 })
	time.Sleep(300 * time.Millisecond)
	onceEach(t, r, 50)
}

func TestCrashAfterClaimResendsAfterLease(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := newReceiver(t)
	hook := e.manyAlerts(r, 1)
	// A worker claims the alert and dies before sending it.
	claims, err := e.store.ClaimAlerts(e.ctx, 1500*time.Millisecond, 10)
	if err != nil || len(claims) != 1 {
		t.Fatalf("ClaimAlerts = %d claims, %v", len(claims), err)
	}
	claimed := time.Now()
	e.worker(outbox.Config{})
	waitFor(t, 5*time.Second, "the alert", func() bool { return len(r.got()) == 1 })
	if d := r.got()[0].at.Sub(claimed); d < 1400*time.Millisecond {
		t.Errorf("sent %s after the crashed claim, want after its 1.5 s lease", d)
	}
	if r.got()[0].key != claims[0].IdempotencyKey {
		t.Errorf("idempotency key %q, want the claimed alert's %q", r.got()[0].key, claims[0].IdempotencyKey)
	}
	// The dead worker's late outcome is refused: its claim is gone.
	if err := e.store.AlertDelivered(e.ctx, claims[0]); err == nil {
		t.Error("AlertDelivered with an expired claim succeeded")
	}
	time.Sleep(300 * time.Millisecond)
	onceEach(t, r, 1)
	if d := e.deliveries(hook); d[0].Attempts != 2 || d[0].Status != entity.AlertDelivered {
		t.Errorf("alert: %s after %d attempts, want delivered after 2", d[0].Status, d[0].Attempts)
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := newReceiver(t, http.StatusTooManyRequests)
	hook := e.manyAlerts(r, 1)
	reg := metrics.New(e.store.DB().DB)
	e.worker(outbox.Config{Metrics: reg})
	waitFor(t, 6*time.Second, "two attempts", func() bool { return len(r.got()) == 2 })
	hits := r.got()
	if d := hits[1].at.Sub(hits[0].at); d < 2*time.Second {
		t.Errorf("second attempt %s after the 429, want at least Retry-After's 2 s", d)
	}
	waitFor(t, 2*time.Second, "delivered", func() bool { return e.deliveries(hook)[0].Status == entity.AlertDelivered })
	time.Sleep(300 * time.Millisecond)
	if n := len(r.got()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
	s := scrape(t, reg)
	if s.Get("auditgraph_notifier_deliveries_total", "plugin", "webhook", "result", "retry") != 1 ||
		s.Get("auditgraph_notifier_deliveries_total", "plugin", "webhook", "result", "delivered") != 1 {
		t.Errorf("delivery metrics = %v", s.Series("auditgraph_notifier_deliveries_total"))
	}
	if !s.Has("auditgraph_alert_outbox_pending") {
		t.Error("no auditgraph_alert_outbox_pending gauge")
	}
}

func scrape(t *testing.T, reg *metrics.Metrics) metricstest.Samples {
	t.Helper()
	rec := httptest.NewRecorder()
	reg.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return metricstest.Parse(t, rec.Body.Bytes())
}

func TestServerErrorsBackOffAndRecover(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := newReceiver(t, 500, 502, 503)
	hook := e.manyAlerts(r, 1)
	e.worker(outbox.Config{})
	waitFor(t, 8*time.Second, "four attempts", func() bool { return len(r.got()) == 4 })
	hits := r.got()
	// fast waits 200 ms, 400 ms, 800 ms (no jitter).
	for i, min := range []time.Duration{200, 400, 800} {
		if d := hits[i+1].at.Sub(hits[i].at); d < min*time.Millisecond {
			t.Errorf("attempt %d came %s after the one before, want at least %d ms", i+2, d, min)
		}
	}
	waitFor(t, 2*time.Second, "delivered", func() bool { return e.deliveries(hook)[0].Status == entity.AlertDelivered })
	stats, err := e.store.IntegrationDelivery(e.ctx, hook)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Delivered != 1 || stats.Attempts != 4 || stats.Pending != 0 || stats.LastSuccessAt == nil {
		t.Errorf("delivery stats = %+v", stats)
	}
}

func TestGoneRevokesAndStops(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := newReceiver(t, http.StatusGone)
	hook := e.manyAlerts(r, 3)
	e.worker(outbox.Config{Batch: 1})
	waitFor(t, 5*time.Second, "the integration revoked", func() bool {
		in, err := e.store.Integration(e.ctx, hook)
		return err == nil && in.Status == entity.IntegrationRevoked
	})
	in, _ := e.store.Integration(e.ctx, hook)
	if !strings.Contains(in.StatusReason, "410") {
		t.Errorf("status reason %q, want the 410", in.StatusReason)
	}
	// New events raise nothing for a revoked integration.
	e.ingest(audit.Event{Action: audit.UserCreateAPIKey})
	time.Sleep(500 * time.Millisecond)
	if n := len(r.got()); n != 1 {
		t.Errorf("%d requests, want 1: nothing after the 410", n)
	}
	var statuses []string
	for _, d := range e.deliveries(hook) {
		statuses = append(statuses, d.Status)
		if strings.Contains(d.LastError, urlToken) || strings.Contains(d.LastError, signingSecret) {
			t.Errorf("stored error %q holds a secret", d.LastError)
		}
	}
	if fmt.Sprint(statuses) != "[failed dropped dropped]" {
		t.Errorf("statuses = %v, want [failed dropped dropped]", statuses)
	}
}

func TestClientErrorGivesUp(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := newReceiver(t, http.StatusBadRequest)
	hook := e.manyAlerts(r, 1)
	e.worker(outbox.Config{})
	waitFor(t, 5*time.Second, "the integration failing", func() bool {
		in, err := e.store.Integration(e.ctx, hook)
		return err == nil && in.Status == entity.IntegrationFailing
	})
	if d := e.deliveries(hook)[0]; d.Status != entity.AlertFailed || d.LastError != "webhook: status 400 Bad Request" {
		t.Errorf("alert: %s, %q", d.Status, d.LastError)
	}
	// A later success makes it ok again.
	e.ingest(audit.Event{Action: audit.UserCreateAPIKey})
	waitFor(t, 5*time.Second, "the integration ok", func() bool {
		in, err := e.store.Integration(e.ctx, hook)
		return err == nil && in.Status == entity.IntegrationOK
	})
}

func TestSlackTestAlert(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	bodies := make(chan []byte, 4)
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies <- b
		io.WriteString(w, "ok")
	}))
	defer slack.Close()
	u, _ := integration.Seal(e.box, integration.Config{Name: "#alerts", Kind: integration.Slack, URL: notify.NewSecret(slack.URL + "/services/" + urlToken)})
	var in entity.Integration
	var alert entity.OutboxAlert
	err := e.store.InTx(e.ctx, func(tx *storage.Tx) error {
		var err error
		if in, err = tx.CreateIntegration(e.ctx, entity.Integration{OrgID: e.org.ID, Name: "#alerts", Kind: "slack", URLSealed: u}); err != nil {
			return err
		}
		alert, err = tx.EnqueueTestAlert(e.ctx, e.org.ID, in.ID, alerting.TestRuleName)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	e.worker(outbox.Config{})
	var msg struct {
		Text   string
		Blocks []struct {
			Type string
			Text struct{ Text string }
		}
	}
	select {
	case b := <-bodies:
		if err := json.Unmarshal(b, &msg); err != nil {
			t.Fatalf("slack body %s: %v", b, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no message reached Slack")
	}
	if len(msg.Blocks) == 0 || msg.Blocks[0].Type != "header" || msg.Blocks[0].Text.Text != "Test alert" ||
		!strings.Contains(msg.Text, "Test alert in acme") {
		t.Errorf("slack message = %+v", msg)
	}
	waitFor(t, 2*time.Second, "delivered", func() bool {
		d := e.deliveries(in.ID)
		return len(d) == 1 && d[0].ID == alert.ID && d[0].Status == entity.AlertDelivered
	})
}

func TestSecretsThatDoNotOpen(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := newReceiver(t)
	hook := e.manyAlerts(r, 1)
	other, err := secretbox.New(bytes.Repeat([]byte{8}, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	e.box = other // the worker runs under another instance key
	e.worker(outbox.Config{})
	// The alert is given up first, then the integration marked.
	waitFor(t, 5*time.Second, "the integration failing", func() bool {
		in, err := e.store.Integration(e.ctx, hook)
		return err == nil && in.Status == entity.IntegrationFailing
	})
	if in, _ := e.store.Integration(e.ctx, hook); !strings.Contains(in.StatusReason, "cannot open sealed value") {
		t.Errorf("integration failing because %q, want because the secrets do not open", in.StatusReason)
	}
	if d := e.deliveries(hook)[0]; d.Status != entity.AlertFailed {
		t.Errorf("alert %s, want failed", d.Status)
	}
	if n := len(r.got()); n != 0 {
		t.Errorf("%d requests, want none", n)
	}
}

func TestAlertsCommitWithTheirEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	hook := e.webhook("siem", newReceiver(t))
	e.rule(alerting.Rule{Name: "keys", Actions: []string{"user:create_api_key"}, Integrations: []int64{hook}})
	rollback := fmt.Errorf("the change failed after its event was written")
	err := e.store.InTx(e.ctx, func(tx *storage.Tx) error {
		if err := ledger.Append(e.ctx, tx, e.org.ID, []audit.Event{{Action: audit.UserCreateAPIKey}}); err != nil {
			return err
		}
		if n := len(e.deliveriesIn(tx, hook)); n != 1 {
			t.Errorf("inside the transaction: %d alerts, want 1", n)
		}
		return rollback
	})
	if err != rollback {
		t.Fatal(err)
	}
	if n := len(e.deliveries(hook)); n != 0 {
		t.Errorf("after rollback: %d alerts, want 0", n)
	}
}

func (e *env) deliveriesIn(tx *storage.Tx, integrationID int64) []entity.OutboxAlert {
	e.t.Helper()
	rows, err := tx.IntegrationDeliveries(e.ctx, integrationID, 0, 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	return rows
}

func TestPruneKeepsPendingAndRecent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := newReceiver(t)
	hook := e.manyAlerts(r, 3)
	stop := e.worker(outbox.Config{})
	waitFor(t, 5*time.Second, "3 delivered", func() bool {
		st, err := e.store.IntegrationDelivery(e.ctx, hook)
		return err == nil && st.Delivered == 3
	})
	stop()
	e.ingest(audit.Event{Action: audit.UserCreateAPIKey}) // stays pending: no worker runs
	rows := e.deliveries(hook)
	// Two delivered alerts and the pending one are old.
	if _, err := e.store.DB().ExecContext(e.ctx, `UPDATE alert_outbox SET created_at = now() - interval '40 days' WHERE id = ANY($1)`,
		pq.Array([]int64{rows[0].ID, rows[1].ID, rows[3].ID})); err != nil {
		t.Fatal(err)
	}
	n, err := e.store.PruneOutbox(e.ctx, time.Now().Add(-30*24*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("PruneOutbox = %d, %v; want 2", n, err)
	}
	var left []int64
	for _, d := range e.deliveries(hook) {
		left = append(left, d.ID)
	}
	if want := []int64{rows[2].ID, rows[3].ID}; fmt.Sprint(left) != fmt.Sprint(want) {
		t.Errorf("left %v, want the recent and the pending alert %v", left, want)
	}
}
