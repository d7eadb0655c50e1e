package server_test

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
	"testing"

	"github.com/auditgraph/auditgraph/internal/app"
	"github.com/auditgraph/auditgraph/internal/identity"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/internal/server"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

const limitsAdminKey = "11m175a11m175a11m175a11m175a11m175a11m17"

// limitsServer starts a self-managed server whose instance admin belongs to
// the organization "default", and returns a function that posts a query as
// that admin.
func limitsServer(t *testing.T) func(query string) limitsResponse {
	t.Helper()
	ctx := context.Background()
	st := storagetest.New(t)
	log := slog.New(slog.DiscardHandler)
	ids := identity.New(st, deployment.SelfManaged, log)
	if _, _, err := ids.Bootstrap(ctx, identity.Bootstrap{AdminUsername: "admin", AdminAPIKey: limitsAdminKey, OrgName: "default"}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.New(server.Config{Services: app.New(st), Identity: ids, Mode: deployment.SelfManaged, Log: log}))
	t.Cleanup(srv.Close)
	return func(query string) limitsResponse {
		t.Helper()
		body, _ := json.Marshal(map[string]string{"query": query})
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/graphql", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+limitsAdminKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		var r limitsResponse
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("POST /graphql = %d %.300s: not a GraphQL response: %v", resp.StatusCode, b, err)
		}
		r.status = resp.StatusCode
		return r
	}
}

type limitsResponse struct {
	status int
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

// refused checks that r is one error with the code, mentioning each of
// words, and that nothing was executed.
func (r limitsResponse) refused(t *testing.T, what, code string, words ...string) {
	t.Helper()
	if len(r.Errors) != 1 {
		t.Errorf("%s: status %d, errors %+v; want one error", what, r.status, r.Errors)
		return
	}
	err := r.Errors[0]
	if code != "" && err.Extensions["code"] != code {
		t.Errorf("%s: error %q with extensions %v, want code %s", what, err.Message, err.Extensions, code)
	}
	for _, w := range words {
		if !strings.Contains(err.Message, w) {
			t.Errorf("%s: error %q, want it to mention %q", what, err.Message, w)
		}
	}
	if len(r.Data) > 0 && string(r.Data) != "null" {
		t.Errorf("%s: data %s, want none", what, r.Data)
	}
}

func (r limitsResponse) ok(t *testing.T, what string) {
	t.Helper()
	if r.status != http.StatusOK || len(r.Errors) > 0 || len(r.Data) == 0 || string(r.Data) == "null" {
		t.Errorf("%s: status %d, errors %+v, data %.200s; want data without errors", what, r.status, r.Errors, r.Data)
	}
}

// twelveDeep is a selection twelve fields deep below the operation; leaf
// replaces its innermost field.
func twelveDeep(leaf string) string {
	return `memberships { organization { users(first: 1) { nodes { organization { users(first: 1) { nodes { organization { users(first: 1) { nodes { ` + leaf + ` } } } } } } } } } }`
}

func TestGraphQLDepthLimit(t *testing.T) {
	t.Parallel()
	post := limitsServer(t)

	post(`{ viewer { `+twelveDeep("username")+` } }`).ok(t, "a query 12 deep")
	for _, tc := range []struct{ name, query string }{
		{"fields", `{ viewer { ` + twelveDeep("user { username }") + ` } }`},
		{"fragment spread", `{ viewer { ...deep } } fragment deep on User { ` + twelveDeep("user { username }") + ` }`},
		{"inline fragment", `{ viewer { ... on User { ` + twelveDeep("user { username }") + ` } } }`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			post(tc.query).refused(t, "13 deep through "+tc.name, "DEPTH_LIMIT_EXCEEDED", "13", "12")
		})
	}
}

func TestGraphQLComplexityLimit(t *testing.T) {
	t.Parallel()
	post := limitsServer(t)

	// 700 aliases, each a page of 100 with a few fields: far over the limit,
	// in fewer tokens than the parser allows.
	var b strings.Builder
	b.WriteString(`{ organization(name: "default") {`)
	for i := range 700 {
		fmt.Fprintf(&b, ` a%d: users(first: 100) { nodes { user { username } } }`, i)
	}
	b.WriteString(` } }`)
	post(b.String()).refused(t, "700 aliased users(first: 100)", "COMPLEXITY_LIMIT_EXCEEDED", "10000")
}

// A page of 100 members, each with a page of 100 members of their
// organization, each with 100 more, is a million members in one query: the
// estimated cost must grow with the page sizes asked for.
func TestGraphQLComplexityCountsPageSizes(t *testing.T) {
	t.Parallel()
	post := limitsServer(t)
	q := `{ organization(name: "default") { users(first: 100) { nodes { organization { users(first: 100) { nodes {
		organization { users(first: 100) { nodes { username } } } } } } } } } }`
	post(q).refused(t, "users(first: 100) nested three times", "COMPLEXITY_LIMIT_EXCEEDED", "10000")
}

func TestGraphQLIntrospectionWithinLimits(t *testing.T) {
	t.Parallel()
	post := limitsServer(t)
	r := post(graphiQLIntrospection)
	r.ok(t, "the GraphiQL introspection query")
	var data struct {
		Schema struct {
			QueryType struct{ Name string }
			Types     []struct{ Name string }
		} `json:"__schema"`
	}
	if err := json.Unmarshal(r.Data, &data); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ty := range data.Schema.Types {
		names = append(names, ty.Name)
	}
	for _, want := range []string{"Member", "AuditEvent", "ActivityStats"} {
		if !strings.Contains(" "+strings.Join(names, " ")+" ", " "+want+" ") {
			t.Errorf("introspection types = %v, want %s among them", names, want)
		}
	}
	if data.Schema.QueryType.Name != "Query" {
		t.Errorf("introspection queryType = %q, want Query", data.Schema.QueryType.Name)
	}
}

func TestGraphQLParserTokenLimit(t *testing.T) {
	t.Parallel()
	post := limitsServer(t)
	// A long list literal: many tokens, few fields.
	query := func(roles int) string {
		return `{ organization(name: "default") { users(first: 1, filter: {role: [` + strings.Repeat("ADMIN ", roles) + `]}) { totalCount } } }`
	}
	post(query(14_000)).ok(t, "a query of about 14,000 tokens")
	post(query(16_000)).refused(t, "a query of about 16,000 tokens", "", "token limit")
}

// graphiQLIntrospection is the query GraphiQL sends to load the schema
// (graphql-js getIntrospectionQuery with its defaults).
const graphiQLIntrospection = `
    query IntrospectionQuery {
      __schema {
        queryType { name }
        mutationType { name }
        subscriptionType { name }
        types {
          ...FullType
        }
        directives {
          name
          description
          locations
          args {
            ...InputValue
          }
        }
      }
    }

    fragment FullType on __Type {
      kind
      name
      description
      fields(includeDeprecated: true) {
        name
        description
        args {
          ...InputValue
        }
        type {
          ...TypeRef
        }
        isDeprecated
        deprecationReason
      }
      inputFields {
        ...InputValue
      }
      interfaces {
        ...TypeRef
      }
      enumValues(includeDeprecated: true) {
        name
        description
        isDeprecated
        deprecationReason
      }
      possibleTypes {
        ...TypeRef
      }
    }

    fragment InputValue on __InputValue {
      name
      description
      type { ...TypeRef }
      defaultValue
    }

    fragment TypeRef on __Type {
      kind
      name
      ofType {
        kind
        name
        ofType {
          kind
          name
          ofType {
            kind
            name
            ofType {
              kind
              name
              ofType {
                kind
                name
                ofType {
                  kind
                  name
                  ofType {
                    kind
                    name
                    ofType {
                      kind
                      name
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
`
