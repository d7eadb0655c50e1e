package integration_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/notify"
	"github.com/auditgraph/auditgraph/notify/integration"
	"github.com/auditgraph/auditgraph/notify/notifytest"
	"github.com/auditgraph/auditgraph/notify/slack"
	"github.com/auditgraph/auditgraph/notify/webhook"
)

// webhookURL carries the token in its path and its query, as receivers'
// URLs often do.
const webhookURL = "https://siem.example/hooks/SUPERSECRETTOKEN?token=SUPERSECRETTOKEN"

// leaks are the strings no error or log line may hold.
var leaks = []string{slackURL, webhookURL, "SUPERSECRETTOKEN", "/services/T000/B000", signingSecret, "TOPSECRET"}

// dialing returns a client that connects to addr whatever the URL's host,
// so the real secret URLs reach the test servers.
func dialing(addr string, verifyTLS bool, timeout time.Duration) *http.Client {
	c := notify.NewHTTPClient(timeout)
	c.Transport = &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
		TLSClientConfig: &tls.Config{InsecureSkipVerify: !verifyTLS},
	}
	return c
}

// tlsServer starts h on loopback with a certificate no client trusts,
// quietly: the TLS error path makes it log failed handshakes.
func tlsServer(t *testing.T, h http.HandlerFunc) string {
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func answering(t *testing.T, status int, header http.Header, body string) string {
	return tlsServer(t, func(w http.ResponseWriter, r *http.Request) {
		for k, v := range header {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		// An echo of the path, as some frameworks write in their 404 page.
		fmt.Fprintf(w, body, r.URL.RequestURI())
	})
}

func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// failurePath is one way for a delivery to fail, run for both plugins.
type failurePath struct {
	name   string
	client func(t *testing.T) *http.Client
	host   string // replaces the URLs' host when set
	ctx    func(ctx context.Context) context.Context
	taken  func(error) bool // proves the path was taken
}

func says(text string) func(error) bool {
	return func(err error) bool { return strings.Contains(err.Error(), text) }
}

func failurePaths() []failurePath {
	status := func(code int, retryAfter string) failurePath {
		return failurePath{
			name: fmt.Sprintf("answer %d %s", code, retryAfter),
			client: func(t *testing.T) *http.Client {
				h := http.Header{}
				if retryAfter != "" {
					h.Set("Retry-After", retryAfter)
				}
				return dialing(answering(t, code, h, "Cannot POST %s"), false, 5*time.Second)
			},
			taken: says(fmt.Sprintf("status %d", code)),
		}
	}
	return []failurePath{
		status(400, ""), status(401, ""), status(403, ""), status(404, ""), status(410, ""),
		status(429, "2"), status(429, "garbage"), status(500, ""), status(502, ""), status(503, "1"),
		{
			name:   "connection refused",
			client: func(t *testing.T) *http.Client { return dialing(closedPort(t), false, 5*time.Second) },
			taken:  says("connection refused"),
		},
		{
			name:   "DNS failure",
			client: func(*testing.T) *http.Client { return notify.NewHTTPClient(5 * time.Second) },
			host:   "auditgraph-test.invalid",
			taken:  says("auditgraph-test.invalid"),
		},
		{
			name: "timeout",
			client: func(t *testing.T) *http.Client {
				addr := tlsServer(t, func(w http.ResponseWriter, r *http.Request) {
					io.Copy(io.Discard, r.Body) // lets the server see the client hang up
					select {
					case <-r.Context().Done():
					case <-time.After(5 * time.Second):
					}
					// Hang up without answering. Returning would send a
					// 200, and Go's client returns a response that arrives
					// after its timeout fired (about 1 run in 100 under
					// -race): the delivery then succeeds.
					panic(http.ErrAbortHandler)
				})
				return dialing(addr, false, 100*time.Millisecond)
			},
			taken: func(err error) bool {
				ne, ok := errors.AsType[net.Error](err)
				return ok && ne.Timeout()
			},
		},
		{
			name: "TLS error",
			client: func(t *testing.T) *http.Client {
				return dialing(answering(t, 200, nil, ""), true, 5*time.Second)
			},
			taken: says("certificate"),
		},
		{
			name:   "context canceled",
			client: func(t *testing.T) *http.Client { return dialing(answering(t, 200, nil, ""), false, 5*time.Second) },
			ctx: func(ctx context.Context) context.Context {
				ctx, cancel := context.WithCancel(ctx)
				cancel()
				return ctx
			},
			taken: says("context canceled"),
		},
	}
}

// printed is every form of err a log line or an API answer could show: each
// error in its tree by Error, %v, %+v and %#v.
func printed(err error) []string {
	var out []string
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		out = append(out, err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
		switch x := err.(type) {
		case interface{ Unwrap() error }:
			walk(x.Unwrap())
		case interface{ Unwrap() []error }:
			for _, e := range x.Unwrap() {
				walk(e)
			}
		}
	}
	walk(err)
	return out
}

func assertNoLeak(t *testing.T, what string, texts ...string) {
	t.Helper()
	for _, s := range texts {
		for _, l := range leaks {
			if strings.Contains(s, l) {
				t.Errorf("%s shows %q: %s", what, l, s)
			}
		}
	}
}

func withHost(raw, host string) string {
	if host == "" {
		return raw
	}
	_, rest, _ := strings.Cut(strings.TrimPrefix(raw, "https://"), "/")
	return "https://" + host + "/" + rest
}

func TestNoSecretInAnyFailure(t *testing.T) {
	alert := notify.Alert{
		Event:        audit.Event{Action: audit.UserLogin, ActorEmail: "a@example.com", ResponseCode: 401},
		Organization: "acme", Rule: "r", IdempotencyKey: "k",
	}
	for _, path := range failurePaths() {
		for _, kind := range []integration.Kind{integration.Slack, integration.Webhook} {
			t.Run(path.name+"/"+string(kind), func(t *testing.T) {
				cfg := integration.Config{Name: "target", Kind: kind, URL: notify.NewSecret(withHost(slackURL, path.host))}
				if kind == integration.Webhook {
					cfg.URL = notify.NewSecret(withHost(webhookURL, path.host))
					cfg.SigningSecret = notify.NewSecret(signingSecret)
				}
				ns, err := integration.Build([]integration.Config{cfg}, path.client(t))
				if err != nil {
					t.Fatal(err)
				}
				var logs bytes.Buffer
				r := &notify.Retrier{
					Backoff: notify.Backoff{Initial: time.Second, Max: time.Second, Multiplier: 1, MaxAttempts: 2},
					Clock:   notifytest.NewClock(time.Now()),
					Logger:  slog.New(slog.NewJSONHandler(&logs, nil)),
				}
				ctx := t.Context()
				if path.ctx != nil {
					ctx = path.ctx(ctx)
				}
				_, err = r.Deliver(ctx, ns["target"], alert)
				if err == nil || !path.taken(err) {
					t.Fatalf("Deliver = %v, want the error of %s", err, path.name)
				}
				logAll(&logs, err, cfg, ns)
				assertNoLeak(t, "error", printed(err)...)
				assertNoLeak(t, "log", logs.String())
			})
		}
	}
}

// logAll logs err and every value that holds the secrets, as careless
// callers might, with both standard handlers.
func logAll(buf *bytes.Buffer, err error, cfg integration.Config, ns map[string]notify.Notifier) {
	for _, l := range []*slog.Logger{
		slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{AddSource: true})),
		slog.New(slog.NewTextHandler(buf, nil)),
	} {
		l.Error("delivery failed", "error", err, "config", cfg, "configptr", &cfg, "notifiers", ns, "notifier", ns["target"])
		l.Info("printed", "config", fmt.Sprintf("%v %+v %#v", cfg, cfg, &cfg),
			"notifier", fmt.Sprintf("%v %+v %#v", ns["target"], ns["target"], ns["target"]),
			"notifiers", fmt.Sprintf("%v %+v %#v", ns, ns, ns))
	}
}

func TestNoSecretInBadConfiguration(t *testing.T) {
	bad := []string{
		"https://hooks.slack.com/services/T000/B000/SUPERSECRETTOKEN%zz",
		"hooks.slack.com/services/T000/B000/SUPERSECRETTOKEN",
		"https://hooks.slack.com/services/T000/B000/SUPERSECRETTOKEN\n",
		"https://hooks.slack.com:port/services/T000/B000/SUPERSECRETTOKEN",
		"ftp://hooks.slack.com/services/T000/B000/SUPERSECRETTOKEN",
		"https:///services/T000/B000/SUPERSECRETTOKEN",
		":SUPERSECRETTOKEN",
		"",
	}
	var logs bytes.Buffer
	for _, u := range bad {
		u := notify.NewSecret(u)
		for _, cfg := range []integration.Config{
			{Name: "a", Kind: integration.Slack, URL: u},
			{Name: "a", Kind: integration.Slack, URL: u, SigningSecret: notify.NewSecret(signingSecret)},
			{Name: "a", Kind: integration.Webhook, URL: u, SigningSecret: notify.NewSecret(signingSecret)},
			{Name: "a", Kind: "teams", URL: u, SigningSecret: notify.NewSecret(signingSecret)},
			{Kind: integration.Webhook, URL: u, SigningSecret: notify.NewSecret(signingSecret)},
		} {
			_, err := integration.Build([]integration.Config{cfg}, nil)
			if err == nil {
				t.Fatalf("Build(%+v) accepted a bad configuration", cfg)
			}
			logAll(&logs, err, cfg, nil)
			assertNoLeak(t, "configuration error", printed(err)...)
		}
		// The plugins check again, for a caller that skipped validation.
		for _, n := range []notify.Notifier{slack.New(u), webhook.New(u, notify.NewSecret(signingSecret))} {
			retry, err := n.Notify(t.Context(), notify.Alert{Event: audit.Event{Action: audit.UserLogin}})
			if err == nil || retry {
				t.Fatalf("%T.Notify with a bad URL = %v, %v, want an error without retry", n, retry, err)
			}
			logAll(&logs, err, integration.Config{}, map[string]notify.Notifier{"n": n})
			assertNoLeak(t, "notify error", printed(err)...)
		}
	}
	assertNoLeak(t, "log", logs.String())
}

func TestSecretsStayUsable(t *testing.T) {
	// The redaction must not reach the wire: the receiver still gets a
	// signature made with the real secret at the real path.
	var gotPath, gotSig, gotTS string
	var gotBody []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotSig, gotTS = r.URL.RequestURI(), r.Header.Get(webhook.HeaderSignature), r.Header.Get(webhook.HeaderTimestamp)
		gotBody, _ = io.ReadAll(r.Body)
	}))
	defer srv.Close()
	n := webhook.New(notify.NewSecret(srv.URL+"/hooks/SUPERSECRETTOKEN"), notify.NewSecret(signingSecret))
	if _, err := n.Notify(t.Context(), notify.Alert{Event: audit.Event{Action: audit.UserLogin}}); err != nil {
		t.Fatal(err)
	}
	if gotPath != "/hooks/SUPERSECRETTOKEN" {
		t.Errorf("receiver got path %q", gotPath)
	}
	if err := webhook.Verify(notify.NewSecret(signingSecret), gotTS, gotBody, gotSig, time.Now(), time.Minute); err != nil {
		t.Errorf("Verify with the real secret = %v", err)
	}
}
