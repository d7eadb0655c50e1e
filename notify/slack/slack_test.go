package slack_test

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/notify"
	"github.com/auditgraph/auditgraph/notify/slack"
)

// hook is a fake incoming webhook: it answers every post with status and
// headers and keeps the bodies.
type hook struct {
	mu     sync.Mutex
	bodies [][]byte
	status int
	header http.Header
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.bodies = append(h.bodies, body)
	h.mu.Unlock()
	for k, v := range h.header {
		w.Header()[k] = v
	}
	w.WriteHeader(h.status)
	if h.status == 200 {
		io.WriteString(w, "ok")
	}
}

func serve(t *testing.T, status int, header http.Header) (*hook, *slack.Notifier) {
	t.Helper()
	h := &hook{status: status, header: header}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, slack.New(notify.NewSecret(srv.URL + "/services/T000/B000/SUPERSECRETTOKEN"))
}

var when = time.Date(2025, 3, 1, 11, 59, 0, 0, time.UTC)

func deactivation() notify.Alert {
	return notify.Alert{
		Event: audit.Event{
			Action:       audit.UserDeactivate,
			ActorEmail:   "admin@example.com",
			ActorUserID:  "u_1",
			ActorIP:      "10.0.0.1",
			UserEmail:    "bob@example.com",
			UserAsset:    "VXNlcjoy",
			ResponseCode: 200,
			Timestamp:    when,
		},
		Organization:   "acme",
		Rule:           "Deactivations",
		IdempotencyKey: "alert-7",
		EventURL:       "https://auditgraph.example/orgs/acme/events/7",
	}
}

func TestNotifyClassifiesAnswers(t *testing.T) {
	for _, tc := range []struct {
		status                 int
		retry, failed, revoked bool
	}{
		{status: 200},
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
			h, n := serve(t, tc.status, http.Header{"Location": {"http://elsewhere.example/"}})
			retry, err := n.Notify(t.Context(), deactivation())
			if retry != tc.retry || (err != nil) != tc.failed || errors.Is(err, notify.ErrRevoked) != tc.revoked {
				t.Errorf("answer %d: Notify = %v, %v, want retry %v, failed %v, revoked %v",
					tc.status, retry, err, tc.retry, tc.failed, tc.revoked)
			}
			if len(h.bodies) != 1 {
				t.Errorf("answer %d: %d posts, want 1 (plugins never retry or follow redirects)", tc.status, len(h.bodies))
			}
		})
	}
}

func TestNotifyReadsRetryAfter(t *testing.T) {
	date := time.Now().Add(5 * time.Second).UTC().Format(http.TimeFormat)
	for _, tc := range []struct {
		retryAfter string
		min, max   time.Duration
	}{
		{"2", 2 * time.Second, 2 * time.Second}, // slack-go's *RateLimitedError
		{date, 3 * time.Second, 5 * time.Second},
		{"later", 0, 0}, // slack-go fails to parse it: the backoff decides
		{"", 0, 0},
	} {
		t.Run(cmp.Or(tc.retryAfter, "none"), func(t *testing.T) {
			h := http.Header{}
			if tc.retryAfter != "" {
				h.Set("Retry-After", tc.retryAfter)
			}
			_, n := serve(t, 429, h)
			retry, err := n.Notify(t.Context(), deactivation())
			se, ok := errors.AsType[*notify.StatusError](err)
			if !retry || !ok || se.Code != 429 || se.RetryAfter() < tc.min || se.RetryAfter() > tc.max {
				t.Errorf("429 with Retry-After %q: Notify = %v, %v, want retry waiting %v to %v",
					tc.retryAfter, retry, err, tc.min, tc.max)
			}
		})
	}
}

// posted is the part of a webhook message the tests read.
type posted struct {
	Text   string           `json:"text"`
	Blocks []map[string]any `json:"blocks"`
}

func post(t *testing.T, alerts ...notify.Alert) (posted, string) {
	t.Helper()
	h, n := serve(t, 200, nil)
	if _, err := n.Notify(t.Context(), alerts...); err != nil {
		t.Fatal(err)
	}
	var p posted
	if err := json.Unmarshal(h.bodies[0], &p); err != nil {
		t.Fatalf("posted %s: %v", h.bodies[0], err)
	}
	return p, string(h.bodies[0])
}

// text returns the text of a block, or of its first element.
func text(b map[string]any) string {
	if t, ok := b["text"].(map[string]any); ok {
		return t["text"].(string)
	}
	els, _ := b["elements"].([]any)
	if len(els) == 0 {
		return ""
	}
	if t, ok := els[0].(map[string]any)["text"].(string); ok {
		return t
	}
	return ""
}

func types(p posted) string {
	var ts []string
	for _, b := range p.Blocks {
		ts = append(ts, b["type"].(string))
	}
	return strings.Join(ts, " ")
}

func TestMessage(t *testing.T) {
	p, raw := post(t, deactivation())
	if got, want := types(p), "header section context actions"; got != want {
		t.Fatalf("blocks %s, want %s in %s", got, want, raw)
	}
	if got := text(p.Blocks[0]); got != "user:deactivate" {
		t.Errorf("header = %q, want the action", got)
	}
	wantSection := "*Who:* admin@example.com (id `u_1`, IP `10.0.0.1`)\n" +
		"*User:* bob@example.com (`VXNlcjoy`)\n" +
		fmt.Sprintf("*When:* <!date^%d^{date_short_pretty} {time_secs}|2025-03-01T11:59:00Z>\n", when.Unix()) +
		"*Response code:* 200"
	if got := text(p.Blocks[1]); got != wantSection {
		t.Errorf("section =\n%s\nwant\n%s", got, wantSection)
	}
	if got, want := text(p.Blocks[2]), "Rule *Deactivations* in organization *acme*"; got != want {
		t.Errorf("context = %q, want %q", got, want)
	}
	button := p.Blocks[3]["elements"].([]any)[0].(map[string]any)
	if button["url"] != "https://auditgraph.example/orgs/acme/events/7" || text(map[string]any{"text": button["text"]}) != "View event" {
		t.Errorf("button = %v, want a View event link to the event", button)
	}
	if want := "user:deactivate by admin@example.com in acme (rule Deactivations)"; p.Text != want {
		t.Errorf("text = %q, want %q", p.Text, want)
	}
}

func TestMessageLeavesOutMissingFields(t *testing.T) {
	p, raw := post(t, notify.Alert{Event: audit.Event{Action: audit.TeamDelete}, Organization: "acme", Rule: "r"})
	if got, want := types(p), "header context"; got != want {
		t.Errorf("blocks %s, want %s in %s", got, want, raw)
	}
	for _, absent := range []string{"Who", "User", "When", "Response code", "View event", "by "} {
		if strings.Contains(raw, absent) {
			t.Errorf("message has %q for an event without it: %s", absent, raw)
		}
	}

	a := deactivation()
	a.Event = audit.Event{
		Action:                audit.ArtifactDelete,
		ActorUserID:           "u_9",
		ProjectName:           "vision",
		ArtifactQualifiedName: "acme/vision/model:v3",
		ArtifactDigest:        "abc123",
		ResponseCode:          403,
	}
	p, _ = post(t, a)
	want := "*Who:* u_9\n*Project:* vision\n*Artifact:* acme/vision/model:v3 (digest `abc123`)\n*Response code:* 403"
	if got := text(p.Blocks[1]); got != want {
		t.Errorf("section =\n%s\nwant\n%s", got, want)
	}
}

func TestMessageEscapesEventValues(t *testing.T) {
	a := deactivation()
	a.Event.ActorEmail = "<!channel> <https://evil.example|click> & co"
	a.Rule = "<@U123>"
	p, raw := post(t, a)
	for _, bad := range []string{"<!channel>", "<https://evil", "<@U123>"} {
		if strings.Contains(raw, bad) {
			t.Errorf("message keeps %q active: %s", bad, raw)
		}
	}
	if !strings.Contains(text(p.Blocks[1]), "&lt;!channel&gt; &lt;https://evil.example|click&gt; &amp; co") {
		t.Errorf("section = %q, want the actor escaped", text(p.Blocks[1]))
	}
}

func TestMessageOfManyAlerts(t *testing.T) {
	alerts := make([]notify.Alert, 12)
	for i := range alerts {
		alerts[i] = deactivation()
	}
	p, _ := post(t, alerts...)
	if len(p.Blocks) > 50 {
		t.Errorf("%d blocks, Slack takes 50", len(p.Blocks))
	}
	if got := text(p.Blocks[len(p.Blocks)-1]); got != "and 3 more alerts" {
		t.Errorf("last block %q, want the count of alerts left out", got)
	}
	if !strings.HasSuffix(p.Text, " and 11 more") {
		t.Errorf("text = %q, want the count of the other alerts", p.Text)
	}
}

func TestMessageClipsLongValues(t *testing.T) {
	a := deactivation()
	a.Event = audit.Event{Action: audit.UserUpdate, ActorEmail: strings.Repeat("é", 5000), UserAsset: "VXNlcjoz"}
	p, _ := post(t, a)
	want := "*Who:* " + strings.Repeat("é", 199) + "…\n*User:* `VXNlcjoz`"
	if got := text(p.Blocks[1]); got != want {
		t.Errorf("section = %q, want the actor cut to 200 characters and the user by asset alone", got)
	}
}
