package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/app"
	"github.com/auditgraph/auditgraph/internal/identity"
	"github.com/auditgraph/auditgraph/internal/identity/access"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/log/ledger"
	"github.com/auditgraph/auditgraph/internal/log/live"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/internal/server"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

const liveAdminKey = "abcdefabcdefabcdefabcdefabcdefabcdefabcd"

// liveEnv is two server processes, A and B, on one database: each with its
// own store (connection pool) and its own live.Hub. The database holds the
// instance admin "admin" and the organization "acme" with its admin alice
// and its member bob.
type liveEnv struct {
	t      *testing.T
	a, b   string // base URLs
	hubA   *live.Hub
	storeB *storage.Store
	acme   int64
	keys   map[string]string
}

func newLiveEnv(t *testing.T, buffer int) *liveEnv {
	t.Helper()
	ctx := context.Background()
	dbURL := storagetest.URL(t)
	log := slog.New(slog.DiscardHandler)
	process := func() (string, *live.Hub, *storage.Store, *identity.Service) {
		st, err := storage.Open(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		hub := live.New(live.Config{URL: dbURL, Store: st, Log: log, Buffer: buffer})
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { hub.Run(runCtx); close(done) }()
		t.Cleanup(func() { stop(); <-done })
		select {
		case <-hub.Ready():
		case <-time.After(10 * time.Second):
			t.Fatal("hub not listening after 10s")
		}
		ids := identity.New(st, deployment.SelfManaged, log)
		srv := httptest.NewServer(server.New(server.Config{Services: app.New(st), Identity: ids, Mode: deployment.SelfManaged, Log: log, Live: hub}))
		t.Cleanup(srv.Close)
		return srv.URL, hub, st, ids
	}
	a, hubA, storeA, ids := process()
	b, _, storeB, _ := process()
	e := &liveEnv{t: t, a: a, b: b, hubA: hubA, storeB: storeB, keys: map[string]string{"admin": liveAdminKey}}

	if _, _, err := ids.Bootstrap(ctx, identity.Bootstrap{AdminUsername: "admin", AdminAPIKey: liveAdminKey, OrgName: "default"}); err != nil {
		t.Fatal(err)
	}
	admin, err := storeA.UserByUsername(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	org, err := ids.CreateOrganization(ctx, &auth.Principal{User: admin}, "acme", "enterprise")
	if err != nil {
		t.Fatal(err)
	}
	e.acme = org.ID
	for _, u := range []struct{ name, role string }{{"alice", access.RoleAdmin}, {"bob", access.RoleMember}} {
		if _, err := ids.CreateUser(ctx, &auth.Principal{User: admin}, identity.NewUser{Username: u.name, Email: u.name + "@x.io", Org: "acme", Role: u.role}); err != nil {
			t.Fatal(err)
		}
		if e.keys[u.name], _, err = ids.CreateAPIKey(ctx, &auth.Principal{User: admin}, u.name, "test"); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// ingest reports NDJSON events to acme through B's REST API.
func (e *liveEnv) ingest(ndjson string) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.b+"/api/v1/audit_events?org=acme", strings.NewReader(ndjson))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", basicAuth("admin", liveAdminKey))
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("POST /api/v1/audit_events on B = %d, want 200", resp.StatusCode)
	}
}

// graphql posts a GraphQL request to B and returns the decoded envelope.
func (e *liveEnv) graphql(authz, query string) gqlResult {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	req, err := http.NewRequest(http.MethodPost, e.b+"/graphql", strings.NewReader(string(body)))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", authz)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var res gqlResult
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		e.t.Fatalf("POST /graphql on B = %d, undecodable: %v", resp.StatusCode, err)
	}
	return res
}

// waitSubscribed waits until A's hub holds n subscriptions: the server
// registers one only after the subscribe message, and events stored before
// that are not part of it.
func (e *liveEnv) waitSubscribed(n int) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for e.hubA.Subscribers() != n {
		if time.Now().After(deadline) {
			e.t.Fatalf("A's hub has %d subscriptions after 10s, want %d", e.hubA.Subscribers(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wsMessage is a graphql-transport-ws message.
type wsMessage struct {
	Type    string          `json:"type"`
	ID      string          `json:"id,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// wsClient is a graphql-transport-ws client over a real WebSocket.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
	msgs chan wsMessage
	// err is why msgs was closed.
	err error
}

type dialOptions struct {
	header http.Header
	// readBuffer, when set, shrinks the socket's receive buffer, so that a
	// client that stops reading soon holds the server up.
	readBuffer int
}

// dialWS opens a WebSocket to base's /graphql with the graphql-transport-ws
// subprotocol.
func dialWS(t *testing.T, base string, o dialOptions) (*wsClient, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client := http.DefaultClient
	if o.readBuffer > 0 {
		client = &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err == nil {
				err = c.(*net.TCPConn).SetReadBuffer(o.readBuffer)
			}
			return c, err
		}}}
	}
	conn, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/graphql", &websocket.DialOptions{
		Subprotocols: []string{"graphql-transport-ws"},
		HTTPHeader:   o.header,
		HTTPClient:   client,
	})
	if err != nil {
		return nil, resp, err
	}
	conn.SetReadLimit(1 << 20)
	c := &wsClient{t: t, conn: conn, msgs: make(chan wsMessage, 1000)}
	t.Cleanup(func() { conn.CloseNow() })
	return c, resp, nil
}

func (c *wsClient) send(m wsMessage) {
	c.t.Helper()
	b, _ := json.Marshal(m)
	if err := c.conn.Write(context.Background(), websocket.MessageText, b); err != nil {
		c.t.Fatalf("websocket write %s: %v", m.Type, err)
	}
}

// read reads one message, answering pings.
func (c *wsClient) read(ctx context.Context) (wsMessage, error) {
	for {
		_, b, err := c.conn.Read(ctx)
		if err != nil {
			return wsMessage{}, err
		}
		var m wsMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return m, fmt.Errorf("message %s: %w", b, err)
		}
		if m.Type == "ping" {
			c.send(wsMessage{Type: "pong"})
			continue
		}
		return m, nil
	}
}

// init sends connection_init with payload and returns nil once the server
// acknowledges, or the error that closed the connection.
func (c *wsClient) init(payload map[string]any) error {
	c.t.Helper()
	p, _ := json.Marshal(payload)
	c.send(wsMessage{Type: "connection_init", Payload: p})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := c.read(ctx)
	if err != nil {
		return err
	}
	if m.Type != "connection_ack" {
		return fmt.Errorf("got %s %s, want connection_ack", m.Type, m.Payload)
	}
	return nil
}

// mustInit initializes the connection with an Authorization value.
func (c *wsClient) mustInit(authz string) *wsClient {
	c.t.Helper()
	if err := c.init(map[string]any{"Authorization": authz}); err != nil {
		c.t.Fatalf("connection_init: %v", err)
	}
	return c
}

const liveQuery = `subscription($filter: AuditEventFilter, $anonymize: Boolean) {
  auditEvents(organization: "acme", filter: $filter, anonymize: $anonymize) {
    sequence action actorEmail responseCode artifactQualifiedName json
  }
}`

func (c *wsClient) subscribe(id, query string, vars map[string]any) *wsClient {
	c.t.Helper()
	p, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	c.send(wsMessage{Type: "subscribe", ID: id, Payload: p})
	return c
}

// listen reads messages into c.msgs from now on.
func (c *wsClient) listen() *wsClient {
	go func() {
		defer close(c.msgs)
		for {
			m, err := c.read(context.Background())
			if err != nil {
				c.err = err
				return
			}
			c.msgs <- m
		}
	}()
	return c
}

func (c *wsClient) next() wsMessage {
	c.t.Helper()
	select {
	case m, ok := <-c.msgs:
		if !ok {
			c.t.Fatalf("connection ended: %v", c.err)
		}
		return m
	case <-time.After(10 * time.Second):
		c.t.Fatal("no message in 10s")
	}
	panic("unreachable")
}

type liveEvent struct {
	Sequence              int
	Action                string
	ActorEmail            *string
	ResponseCode          *int
	ArtifactQualifiedName *string
	JSON                  string
}

// events reads n "next" messages of subscription id and returns their events.
func (c *wsClient) events(id string, n int) []liveEvent {
	c.t.Helper()
	var out []liveEvent
	for len(out) < n {
		m := c.next()
		var p struct {
			Data   struct{ AuditEvents liveEvent }
			Errors []gqlError
		}
		if m.Type != "next" || m.ID != id || json.Unmarshal(m.Payload, &p) != nil || len(p.Errors) > 0 {
			c.t.Fatalf("got %s %s %s, want event %d of %d of subscription %s", m.Type, m.ID, m.Payload, len(out)+1, n, id)
		}
		out = append(out, p.Data.AuditEvents)
	}
	return out
}

func sequences(es []liveEvent) []int {
	out := make([]int, len(es))
	for i, e := range es {
		out[i] = e.Sequence
	}
	return out
}

// A subscriber on server A receives, in sequence order and filtered, the
// events that server B stores: ingested ones and B's own, from a mutation.
// Rolled-back ones never arrive.
func TestSubscriptionAcrossServers(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, 0)
	filtered := must(dialWS(t, e.a, dialOptions{})).mustInit(basicAuth("alice", e.keys["alice"])).listen()
	filtered.subscribe("logins", liveQuery, map[string]any{"filter": map[string]any{"actions": []string{"user:login", "team:create"}}})
	// The instance admin authenticates with the upgrade request's header
	// and a Bearer key, and sees everything, anonymized.
	all := must(dialWS(t, e.a, dialOptions{header: http.Header{"Authorization": {"Bearer " + liveAdminKey}}}))
	if err := all.init(nil); err != nil {
		t.Fatalf("connection_init after an upgrade with a Bearer header: %v", err)
	}
	all.listen().subscribe("all", liveQuery, map[string]any{"anonymize": true})
	e.waitSubscribed(2)
	start, err := e.storeB.LastSeq(context.Background(), e.acme)
	if err != nil {
		t.Fatal(err)
	}

	e.ingest(`{"action":"user:login","actor_email":"carol@x.io","response_code":200}
{"action":"artifact:create","actor_email":"carol@x.io","artifact_qualified_name":"acme/p/model:v1"}
{"action":"user:login","actor_email":"dave@x.io","response_code":401}
`)
	if res := e.graphql(basicAuth("alice", e.keys["alice"]), `mutation { createTeam(organization: "acme", name: "ml") { name } }`); len(res.Errors) > 0 {
		t.Fatalf("createTeam on B: %+v", res.Errors)
	}
	err = e.storeB.InTx(context.Background(), func(tx *storage.Tx) error {
		if err := ledger.Append(context.Background(), tx, e.acme, []audit.Event{{Action: audit.UserLogin, ActorEmail: "mallory@x.io"}}); err != nil {
			return err
		}
		return errors.New("roll back")
	})
	if err == nil {
		t.Fatal("rolled-back transaction returned nil")
	}
	e.ingest(`{"action":"user:login","actor_email":"erin@x.io"}` + "\n")

	got := filtered.events("logins", 4)
	var actions []string
	for _, ev := range got {
		actor := "-"
		if ev.ActorEmail != nil {
			actor = *ev.ActorEmail
		}
		actions = append(actions, ev.Action+" "+actor)
	}
	want := []string{"user:login carol@x.io", "user:login dave@x.io", "team:create alice@x.io", "user:login erin@x.io"}
	if !slices.Equal(actions, want) {
		t.Errorf("filtered subscriber got %q, want %q", actions, want)
	}
	s := int(start)
	if seq := sequences(got); !slices.Equal(seq, []int{s + 1, s + 3, s + 4, s + 5}) {
		t.Errorf("filtered subscriber got sequences %v, want %v", seq, []int{s + 1, s + 3, s + 4, s + 5})
	}

	everything := all.events("all", 5)
	if seq := sequences(everything); !slices.Equal(seq, []int{s + 1, s + 2, s + 3, s + 4, s + 5}) {
		t.Errorf("unfiltered subscriber got sequences %v, want %d..%d", seq, s+1, s+5)
	}
	for _, ev := range everything {
		if ev.ActorEmail != nil || ev.ArtifactQualifiedName != nil || strings.Contains(ev.JSON, "@x.io") {
			t.Errorf("anonymized event %d = %+v, want no personal keys", ev.Sequence, ev)
		}
	}
	if everything[1].Action != "artifact:create" || !strings.Contains(everything[1].JSON, `"action":"artifact:create"`) {
		t.Errorf("event %d = %+v, want artifact:create", everything[1].Sequence, everything[1])
	}
}

// Credentials come in connection_init or in the upgrade request; without
// valid ones the connection is refused, and only audit readers may subscribe.
func TestSubscriptionAuth(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, 0)

	for _, tc := range []struct {
		name    string
		payload map[string]any
		header  http.Header
	}{
		{"no credentials", nil, nil},
		{"wrong key", map[string]any{"Authorization": "Bearer 0000000000000000000000000000000000000000"}, nil},
		{"another user's key", map[string]any{"Authorization": basicAuth("alice", e.keys["bob"])}, nil},
		{"wrong key in the upgrade request", nil, http.Header{"Authorization": {basicAuth("admin", "nope")}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, resp, err := dialWS(t, e.a, dialOptions{header: tc.header})
			if err != nil {
				t.Fatalf("%s: upgrade refused (%v, %v); want it accepted and the connection refused at connection_init", tc.name, resp, err)
			}
			err = c.init(tc.payload)
			if got := websocket.CloseStatus(err); got != 4403 {
				t.Errorf("%s: connection_init = %v (close status %d), want the connection closed with 4403", tc.name, err, got)
			}
		})
	}

	// Bearer and lower-case authorization in the payload.
	bearer := must(dialWS(t, e.a, dialOptions{}))
	if err := bearer.init(map[string]any{"authorization": "Bearer " + e.keys["alice"]}); err != nil {
		t.Fatalf("connection_init with a Bearer key: %v", err)
	}
	bearer.listen().subscribe("1", liveQuery, nil)
	e.waitSubscribed(1)
	e.ingest(`{"action":"run:stop","actor_email":"carol@x.io"}` + "\n")
	if got := bearer.events("1", 1); got[0].Action != "run:stop" {
		t.Errorf("Bearer subscriber got %+v, want run:stop", got)
	}

	// A member may not read the log; time windows do not apply to a feed.
	member := must(dialWS(t, e.a, dialOptions{})).mustInit(basicAuth("bob", e.keys["bob"])).listen()
	for _, tc := range []struct {
		name, id string
		vars     map[string]any
		want     string
	}{
		{"member", "m", nil, "FORBIDDEN"},
		{"time window", "w", map[string]any{"filter": map[string]any{"numDays": 3}}, "startDate and numDays"},
		{"after a sequence", "s", map[string]any{"filter": map[string]any{"afterSequence": 3}}, "afterSequence"},
		{"bad action", "a", map[string]any{"filter": map[string]any{"actions": []string{"user:dance"}}}, "user:dance"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := member
			if tc.id != "m" {
				c = bearer
			}
			c.subscribe(tc.id, liveQuery, tc.vars)
			m := c.next()
			var p struct{ Errors []gqlError }
			json.Unmarshal(m.Payload, &p)
			if m.Type != "next" || len(p.Errors) != 1 || (p.Errors[0].Extensions["code"] != tc.want && !strings.Contains(p.Errors[0].Message, tc.want)) {
				t.Errorf("%s: got %s %s, want one error with %s", tc.name, m.Type, m.Payload, tc.want)
			}
			if m := c.next(); m.Type != "complete" || m.ID != tc.id {
				t.Errorf("%s: then got %s %s, want complete %s", tc.name, m.Type, m.ID, tc.id)
			}
		})
	}

	// Plain HTTP stays behind authentication, and does not serve
	// subscriptions.
	if res := e.graphql(basicAuth("alice", e.keys["alice"]), liveQuery); len(res.Errors) != 1 || res.Errors[0].Extensions["code"] != "BAD_REQUEST" {
		t.Errorf("subscription over POST: errors %+v, want one with code BAD_REQUEST", res.Errors)
	}
	for _, h := range []http.Header{
		{},
		{"Upgrade": {"websocket"}},
		{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}, "Sec-Websocket-Version": {"13"}, "Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}, "Origin": {"https://evil.example"}},
	} {
		req, _ := http.NewRequest(http.MethodGet, e.a+"/graphql?query=%7Bviewer%7Busername%7D%7D", nil)
		req.Header = h
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 4 {
			t.Errorf("GET /graphql without credentials, headers %v = %d, want refused (4xx)", h, resp.StatusCode)
		}
	}
}

// A subscriber that stops reading is dropped with an error once its buffer
// fills, after what it had been sent; the other subscribers keep receiving.
func TestSubscriptionDropsSlowSubscriber(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, 4)
	fast := must(dialWS(t, e.a, dialOptions{})).mustInit(basicAuth("alice", e.keys["alice"])).listen()
	fast.subscribe("fast", liveQuery, nil)
	slow := must(dialWS(t, e.a, dialOptions{readBuffer: 1 << 16})).mustInit(basicAuth("admin", liveAdminKey))
	slow.subscribe("slow", liveQuery, nil)
	e.waitSubscribed(2)

	// Large events, two per batch: the fast subscriber takes each batch
	// before the next, while the slow one's socket and buffer fill up.
	big := strings.Repeat("x", 4000)
	line := fmt.Sprintf(`{"action":"artifact:read","artifact_qualified_name":%q,"artifact_asset":%q,"artifact_digest":%q,"entity_name":%q,"project_name":%q,"report_name":%q,"cli_version":%q}`, big, big, big, big, big, big, big)
	sent := 0
	for e.hubA.Subscribers() == 2 {
		if sent >= 2000 {
			t.Fatalf("slow subscriber still subscribed after %d events", sent)
		}
		e.ingest(line + "\n" + line + "\n")
		sent += 2
		fast.events("fast", 2)
	}
	e.ingest(`{"action":"user:logout","actor_email":"alice@x.io"}` + "\n")
	if got := fast.events("fast", 1); got[0].Action != "user:logout" {
		t.Errorf("fast subscriber got %+v after the slow one was dropped, want user:logout", got)
	}

	slow.listen()
	var seqs []int
	for {
		m := slow.next()
		if m.Type == "next" {
			var p struct {
				Data struct{ AuditEvents liveEvent }
			}
			json.Unmarshal(m.Payload, &p)
			seqs = append(seqs, p.Data.AuditEvents.Sequence)
			continue
		}
		var errs []gqlError
		if m.Type != "error" || m.ID != "slow" || json.Unmarshal(m.Payload, &errs) != nil || len(errs) != 1 ||
			errs[0].Message != "subscriber too slow, resubscribe" || errs[0].Extensions["code"] != "SUBSCRIBER_TOO_SLOW" {
			t.Fatalf("slow subscriber got %s %s %s, want error \"subscriber too slow, resubscribe\" with code SUBSCRIBER_TOO_SLOW", m.Type, m.ID, m.Payload)
		}
		break
	}
	if len(seqs) == 0 || len(seqs) >= sent {
		t.Errorf("slow subscriber got %d of %d events before the error, want some but not all", len(seqs), sent)
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Errorf("slow subscriber got sequences %v, want them consecutive: a gap would be a silent loss", seqs)
			break
		}
	}
}

func must(c *wsClient, resp *http.Response, err error) *wsClient {
	if err != nil {
		panic(fmt.Sprintf("websocket dial: %v (%v)", err, resp))
	}
	return c
}
