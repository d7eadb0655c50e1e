package server

import (
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/99designs/gqlgen/graphql"
)

// TestWriteGraphQLDataOnly: an answer with data only is written without
// json.Marshal, and its bytes are those json.Marshal writes (HTML
// characters escaped) for the compact data gqlgen produces.
func TestWriteGraphQLDataOnly(t *testing.T) {
	for _, data := range []string{
		`{"organization":null}`,
		`{"organization":{"users":{"nodes":[{"username":"a<b>&c","email":"x@y.io","lastActiveAt":"2026-12-03T16:00:00Z"}]}}}`,
		`{"s":"\u2028 \u2029 é \\ \" \u003c"}`,
		`{"n":[1,2.5,-3e10,true,false,null],"o":{}}`,
	} {
		resp := &graphql.Response{Data: json.RawMessage(data)}
		want, err := json.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		writeGraphQL(rec, 200, resp, true)
		if got := rec.Body.String(); got != string(want) {
			t.Errorf("writeGraphQL(%s) = %s, want %s", data, got, want)
		}
	}
}
