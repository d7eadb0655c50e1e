package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/auditgraph/auditgraph/internal/app"
	"github.com/auditgraph/auditgraph/internal/identity"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/internal/server"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

// httpServer starts a self-managed server with the instance admin's key
// limitsAdminKey, reading POST bodies of at most maxBody bytes (0: the
// default), and returns its URL.
func httpServer(t *testing.T, maxBody int64) string {
	t.Helper()
	st := storagetest.New(t)
	log := slog.New(slog.DiscardHandler)
	ids := identity.New(st, deployment.SelfManaged, log)
	if _, _, err := ids.Bootstrap(context.Background(), identity.Bootstrap{AdminUsername: "admin", AdminAPIKey: limitsAdminKey, OrgName: "default"}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.New(server.Config{Services: app.New(st), Identity: ids, Mode: deployment.SelfManaged, Log: log, GraphQLMaxBody: maxBody}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// rawGraphQL sends a request to /graphql as the instance admin: a POST of
// body with contentType when method is POST, a GET of the query string
// otherwise. accept is the Accept header, none when empty.
func rawGraphQL(t *testing.T, base, method, query, contentType, accept, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, base+"/graphql"+query, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if method == http.MethodGet {
		req.Body, req.ContentLength = nil, 0
	}
	req.Header.Set("Authorization", "Bearer "+limitsAdminKey)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// envelope is a GraphQL response's top-level entries.
func envelope(t *testing.T, b []byte) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("response %.300q is not a JSON object: %v", b, err)
	}
	return m
}

func errorCode(t *testing.T, b []byte) string {
	t.Helper()
	var r struct {
		Errors []struct {
			Extensions struct{ Code string } `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(b, &r); err != nil || len(r.Errors) == 0 {
		t.Fatalf("response %.300q: want a GraphQL error (%v)", b, err)
	}
	return r.Errors[0].Extensions.Code
}

// A POST body over the limit is refused with 413 after reading no more than
// the limit, and none of it comes back.
func TestGraphQLBodyLimit(t *testing.T) {
	t.Parallel()
	const marker = "BODY-MARKER-7f3a"
	pad := func(n int) string {
		head := `{"query":"{ viewer { username } }","padding":"`
		return head + strings.Repeat(marker, (n-len(head)-2)/len(marker)+1)[:n-len(head)-2] + `"}`
	}
	for _, tc := range []struct {
		name    string
		limit   int64 // Config.GraphQLMaxBody
		size    int
		wantErr bool
	}{
		{"default limit, 1 MiB", 0, 1 << 20, false},
		{"default limit, 1 MiB + 1", 0, 1<<20 + 1, true},
		{"default limit, 100 MB", 0, 100 << 20, true},
		{"4 KiB limit, 4 KiB", 4096, 4096, false},
		{"4 KiB limit, 4 KiB + 1", 4096, 4097, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := httpServer(t, tc.limit)
			body := pad(tc.size)
			if len(body) != tc.size {
				t.Fatalf("padded body is %d bytes, want %d", len(body), tc.size)
			}
			resp, b := rawGraphQL(t, base, http.MethodPost, "", "application/json", "", body)
			if !tc.wantErr {
				if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"username":"admin"`) {
					t.Errorf("POST /graphql of %d bytes = %d %.300s, want 200 with the viewer", tc.size, resp.StatusCode, b)
				}
				return
			}
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("POST /graphql of %d bytes = %d, want 413", tc.size, resp.StatusCode)
			}
			if code := errorCode(t, b); code != "PAYLOAD_TOO_LARGE" {
				t.Errorf("POST /graphql of %d bytes: error code %q, want PAYLOAD_TOO_LARGE", tc.size, code)
			}
			if strings.Contains(string(b), "MARKER") || len(b) > 1000 {
				t.Errorf("POST /graphql of %d bytes answered %.300q (%d bytes): it repeats the body", tc.size, b, len(b))
			}
		})
	}
}

// A body that is not a GraphQL request is refused without repeating any of
// it: the error names what is wrong, never the content.
func TestGraphQLErrorsNeverRepeatTheBody(t *testing.T) {
	t.Parallel()
	base := httpServer(t, 0)
	const m = "BODYMARKER"
	for _, tc := range []struct{ name, body string }{
		{"not JSON", `{"query": "{ viewer { username } }", ` + m},
		{"unterminated string", `{"query": "` + m},
		{"JSON of another shape", `["` + m + `"]`},
		{"a string", `"` + m + `"`},
		{"query a number", `{"query": 1` + strings.Repeat("7", 30) + `}`},
		{"query an object", `{"query": {"` + m + `": 1}}`},
		{"variables a string", `{"query": "{ viewer { username } }", "variables": "` + m + `"}`},
		{"extensions an array", `{"query": "{ viewer { username } }", "extensions": ["` + m + `"]}`},
		{"operationName a number", `{"query": "{ viewer { username } }", "operationName": 1e999}`},
		{"trailing data", `{"query": "{ viewer { username } }"} ` + m},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := rawGraphQL(t, base, http.MethodPost, "", "application/json", "application/json", tc.body)
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("POST %q = %d %s, want 400", tc.body, resp.StatusCode, b)
			}
			if strings.Contains(string(b), m) || strings.Contains(string(b), "777") || strings.Contains(string(b), "1e999") {
				t.Errorf("POST %q answered %s: it repeats the body", tc.body, b)
			}
			if code := errorCode(t, b); code != "BAD_REQUEST" {
				t.Errorf("POST %q: error code %q, want BAD_REQUEST", tc.body, code)
			}
		})
	}
}

// The status codes of the GraphQL-over-HTTP draft: with application/json a
// well-formed request is 200 whatever the GraphQL errors, a malformed one
// 400; with application/graphql-response+json every request error is 400.
// A request error never has a data entry; GET runs queries only.
func TestGraphQLOverHTTPStatusCodes(t *testing.T) {
	t.Parallel()
	base := httpServer(t, 0)
	get := func(q string) string { return "?query=" + url.QueryEscape(q) }
	const (
		appJSON = "application/json"
		gqlRJ   = "application/graphql-response+json"
	)
	for _, tc := range []struct {
		name, method, query, contentType, accept, body string
		status                                         int
		data                                           bool // a data entry
		wantMedia                                      string
	}{
		{"query, application/json", "POST", "", appJSON, appJSON, `{"query": "{ viewer { username } }"}`, 200, true, appJSON},
		{"query, graphql-response+json", "POST", "", appJSON, gqlRJ, `{"query": "{ viewer { username } }"}`, 200, true, gqlRJ},
		{"query, no Accept", "POST", "", appJSON, "", `{"query": "{ viewer { username } }"}`, 200, true, appJSON},
		{"query, Accept */*", "POST", "", appJSON, "*/*", `{"query": "{ viewer { username } }"}`, 200, true, appJSON},
		{"query, preferred by q", "POST", "", appJSON, appJSON + ";q=0.5, " + gqlRJ, `{"query": "{ viewer { username } }"}`, 200, true, gqlRJ},
		{"query, charset", "POST", "", appJSON + "; charset=utf-8", appJSON, `{"query": "{ viewer { username } }"}`, 200, true, appJSON},
		{"null parameters", "POST", "", appJSON, appJSON, `{"query": "{ viewer { username } }", "variables": null, "operationName": null, "extensions": null}`, 200, true, appJSON},
		{"GET query", "GET", get(`{ viewer { username } }`), "", appJSON, "", 200, true, appJSON},

		{"JSON parsing failure, application/json", "POST", "", appJSON, appJSON, `{"query":`, 400, false, appJSON},
		{"JSON parsing failure, graphql-response+json", "POST", "", appJSON, gqlRJ, `{"query":`, 400, false, gqlRJ},
		{"no query, application/json", "POST", "", appJSON, appJSON, `{"qeury": "{ viewer { username } }"}`, 400, false, appJSON},
		{"no query, graphql-response+json", "POST", "", appJSON, gqlRJ, `{"qeury": "{ viewer { username } }"}`, 400, false, gqlRJ},
		{"empty body", "POST", "", appJSON, appJSON, ``, 400, false, appJSON},
		{"variables an array", "POST", "", appJSON, appJSON, `{"query": "{ viewer { username } }", "variables": [7]}`, 400, false, appJSON},
		{"GET without query", "GET", "", "", appJSON, "", 400, false, appJSON},
		{"GET variables not JSON", "GET", get(`{ viewer { username } }`) + "&variables=nope", "", appJSON, "", 400, false, appJSON},

		{"parse failure, application/json", "POST", "", appJSON, appJSON, `{"query": "{"}`, 200, false, appJSON},
		{"parse failure, graphql-response+json", "POST", "", appJSON, gqlRJ, `{"query": "{"}`, 400, false, gqlRJ},
		{"validation failure, application/json", "POST", "", appJSON, appJSON, `{"query": "{ nosuchfield }"}`, 200, false, appJSON},
		{"validation failure, graphql-response+json", "POST", "", appJSON, gqlRJ, `{"query": "{ nosuchfield }"}`, 400, false, gqlRJ},
		{"unknown operation, application/json", "POST", "", appJSON, appJSON, `{"query": "query A { viewer { username } }", "operationName": "B"}`, 200, false, appJSON},
		{"unknown operation, graphql-response+json", "POST", "", appJSON, gqlRJ, `{"query": "query A { viewer { username } }", "operationName": "B"}`, 400, false, gqlRJ},
		{"variable coercion failure, application/json", "POST", "", appJSON, appJSON, `{"query": "query($n: String!) { organization(name: $n) { name } }", "variables": {"n": true}}`, 200, false, appJSON},
		{"variable coercion failure, graphql-response+json", "POST", "", appJSON, gqlRJ, `{"query": "query($n: String!) { organization(name: $n) { name } }", "variables": {"n": true}}`, 400, false, gqlRJ},
		{"depth limit, graphql-response+json", "POST", "", appJSON, gqlRJ, `{"query": "{ viewer { ` + strings.ReplaceAll(twelveDeep("user { username }"), `"`, `\"`) + ` } }"}`, 400, false, gqlRJ},

		{"mutation over GET", "GET", get(`mutation { createTeam(organization: "default", name: "viaget") { name } }`), "", gqlRJ, "", 405, false, gqlRJ},
		{"POST as text/plain", "POST", "", "text/plain", appJSON, `{"query": "{ viewer { username } }"}`, 415, false, appJSON},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := rawGraphQL(t, base, tc.method, tc.query, tc.contentType, tc.accept, tc.body)
			if resp.StatusCode != tc.status {
				t.Errorf("%s %s = %d %.300s, want %d", tc.method, tc.body+tc.query, resp.StatusCode, b, tc.status)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, tc.wantMedia+";") {
				t.Errorf("Content-Type = %q, want %s", ct, tc.wantMedia)
			}
			env := envelope(t, b)
			if _, has := env["data"]; has != tc.data {
				t.Errorf("%s %s answered %.300s: data entry %v, want %v", tc.method, tc.body+tc.query, b, has, tc.data)
			}
			if _, has := env["errors"]; has == tc.data {
				t.Errorf("%s %s answered %.300s: errors entry %v, want %v", tc.method, tc.body+tc.query, b, has, !tc.data)
			}
			if tc.status == http.StatusMethodNotAllowed && resp.Header.Get("Allow") != http.MethodPost {
				t.Errorf("Allow = %q, want POST", resp.Header.Get("Allow"))
			}
		})
	}
}

// Parse and validation errors quote names from the query: a long one is cut,
// so that no error repeats much of the request.
func TestGraphQLErrorMessagesAreShort(t *testing.T) {
	t.Parallel()
	base := httpServer(t, 0)
	long := strings.Repeat("D", 100_000)
	for _, tc := range []struct{ name, query string }{
		{"parse error", `{ viewer { username } } ` + long},
		{"validation error", `{ ` + long + ` }`},
		{"unknown argument", `{ viewer { username(` + long + `: 1) } }`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, _ := json.Marshal(map[string]string{"query": tc.query})
			resp, b := rawGraphQL(t, base, http.MethodPost, "", "application/json", "application/json", string(body))
			var r struct{ Errors []struct{ Message string } }
			if err := json.Unmarshal(b, &r); err != nil || len(r.Errors) == 0 {
				t.Fatalf("POST %s = %d %.300s, want GraphQL errors", tc.name, resp.StatusCode, b)
			}
			for _, e := range r.Errors {
				if len(e.Message) > 512 || !strings.HasSuffix(e.Message, "…") {
					t.Errorf("POST %s: error of %d bytes %.100q…, want it cut to at most 512 bytes", tc.name, len(e.Message), e.Message)
				}
			}
			if len(b) > 4096 {
				t.Errorf("POST %s: answer of %d bytes, want a short one", tc.name, len(b))
			}
		})
	}
}

// A WebSocket message is bounded by the same limit as a POST body, even
// before the connection is authenticated.
func TestGraphQLWebSocketMessageLimit(t *testing.T) {
	t.Parallel()
	base := httpServer(t, 4096)
	for _, tc := range []struct {
		name string
		pad  int
		ok   bool
	}{
		{"under the limit", 3000, true},
		{"over the limit", 5000, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := dialWS(t, base, dialOptions{})
			if err != nil {
				t.Fatal(err)
			}
			err = c.init(map[string]any{"Authorization": "Bearer " + limitsAdminKey, "padding": strings.Repeat("x", tc.pad)})
			if tc.ok && err != nil {
				t.Errorf("connection_init of %d bytes: %v, want connection_ack", tc.pad, err)
			}
			if !tc.ok && websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
				t.Errorf("connection_init of %d bytes: %v, want the connection closed with %v", tc.pad, err, websocket.StatusMessageTooBig)
			}
		})
	}
}
