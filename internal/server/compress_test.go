package server_test

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestGraphQLAnswersGzipped: a GraphQL answer comes gzipped to a client that
// accepts gzip (the dashboard's browser), plain to one that does not, and a
// WebSocket upgrade that offers gzip still upgrades.
func TestGraphQLAnswersGzipped(t *testing.T) {
	base := httpServer(t, 0)
	const introspection = `{"query":"{ __schema { types { name description fields { name description } } } }"}`
	post := func(accept string) (*http.Response, []byte) {
		req, _ := http.NewRequest("POST", base+"/graphql", strings.NewReader(introspection))
		req.Header.Set("Authorization", "Bearer "+limitsAdminKey)
		req.Header.Set("Content-Type", "application/json")
		// Set by hand, so the client hands over the bytes as they came.
		req.Header.Set("Accept-Encoding", accept)
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
	plainResp, plain := post("identity")
	if plainResp.StatusCode != 200 || plainResp.Header.Get("Content-Encoding") != "" {
		t.Fatalf("without gzip: status %d, Content-Encoding %q", plainResp.StatusCode, plainResp.Header.Get("Content-Encoding"))
	}
	resp, zipped := post("gzip")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("with gzip: status %d, Content-Encoding %q", resp.StatusCode, resp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(strings.NewReader(string(zipped)))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		Data struct {
			Schema struct{ Types []json.RawMessage } `json:"__schema"`
		}
	}
	if err := json.Unmarshal(unzipped, &env); err != nil || len(env.Data.Schema.Types) == 0 {
		t.Fatalf("gzipped answer does not decode to the schema: %v", err)
	}
	if len(unzipped) != len(plain) || len(zipped)*3 > len(plain) {
		t.Errorf("plain %d bytes, gzipped %d (unzipped %d)", len(plain), len(zipped), len(unzipped))
	}
	t.Logf("introspection: %d bytes plain, %d gzipped", len(plain), len(zipped))

	c, _, err := dialWS(t, base, dialOptions{header: http.Header{"Accept-Encoding": {"gzip"}}})
	if err != nil {
		t.Fatalf("WebSocket with Accept-Encoding: gzip: %v", err)
	}
	c.mustInit("Bearer " + limitsAdminKey)
}
