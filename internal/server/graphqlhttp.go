package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// DefaultGraphQLMaxBody is the largest POST /graphql body read when
// Config.GraphQLMaxBody is 0. The largest query the parser's token limit
// lets through is far smaller.
const DefaultGraphQLMaxBody = 1 << 20

// The response media types of GraphQL over HTTP.
const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

// httpTransport serves GraphQL over plain HTTP, GET and POST with a JSON
// body, with the status codes of the GraphQL-over-HTTP draft: a request that
// is not a GraphQL request at all (a body that is not JSON, no query, a
// query that is not a string) is 400; one that is but fails to parse,
// validate or coerce its variables is 200 in application/json and 400 in
// application/graphql-response+json, and in both has no data entry. It
// reads at most maxBody bytes of a body (413 beyond) and never repeats any
// of it in an error: a body can be large, and is the caller's to keep.
type httpTransport struct{ maxBody int64 }

var _ graphql.Transport = httpTransport{}

func (httpTransport) Supports(r *http.Request) bool {
	return r.Header.Get("Upgrade") == "" && (r.Method == http.MethodGet || r.Method == http.MethodPost)
}

// badRequest is a request that is not a well-formed GraphQL-over-HTTP
// request; status is what it is answered with whatever the media type.
type badRequest struct {
	status int
	code   string
	msg    string
}

func malformed(format string, args ...any) *badRequest {
	return &badRequest{http.StatusBadRequest, "BAD_REQUEST", fmt.Sprintf(format, args...)}
}

func (t httpTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	media := responseMedia(r.Header.Get("Accept"))
	w.Header().Set("Content-Type", media+"; charset=utf-8")
	start := graphql.Now()
	params, bad := t.params(w, r)
	if bad != nil {
		err := &gqlerror.Error{Message: bad.msg, Extensions: map[string]any{"code": bad.code}}
		writeGraphQL(w, bad.status, exec.DispatchError(ctx, gqlerror.List{err}), false)
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}

	oc, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		status := http.StatusOK
		if media == mediaGraphQLResponse {
			status = http.StatusBadRequest
		}
		writeGraphQL(w, status, exec.DispatchError(graphql.WithOperationContext(ctx, oc), errs), false)
		return
	}
	if r.Method == http.MethodGet && oc.Operation.Operation != ast.Query {
		// A GET changes nothing, so that a link or an image tag cannot make
		// a signed-in browser act.
		w.Header().Set("Allow", http.MethodPost)
		err := gqlerror.Errorf("GET runs queries only: send a %s with POST", oc.Operation.Operation)
		err.Extensions = map[string]any{"code": "METHOD_NOT_ALLOWED"}
		writeGraphQL(w, http.StatusMethodNotAllowed, exec.DispatchError(graphql.WithOperationContext(ctx, oc), gqlerror.List{err}), false)
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, oc)
	if resp := responses(ctx); resp != nil {
		writeGraphQL(w, http.StatusOK, resp, true)
	}
}

// params reads the request's query, operationName, variables and
// extensions: from the query string of a GET, from the JSON body of a POST.
func (t httpTransport) params(w http.ResponseWriter, r *http.Request) (*graphql.RawParams, *badRequest) {
	fields := map[string]json.RawMessage{}
	if r.Method == http.MethodGet {
		values, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return nil, malformed("the query string is not a valid URL query (each parameter name=value, joined by '&', percent-encoded)")
		}
		for _, name := range []string{"query", "operationName"} {
			if v, ok := values[name]; ok {
				fields[name], _ = json.Marshal(v[0])
			}
		}
		for _, name := range []string{"variables", "extensions"} {
			if v, ok := values[name]; ok && v[0] != "" {
				fields[name] = json.RawMessage(v[0])
			}
		}
	} else {
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != mediaJSON {
			return nil, &badRequest{http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", "send the request as Content-Type: application/json"}
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, t.maxBody))
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return nil, &badRequest{http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE",
				fmt.Sprintf("the request body is larger than %d bytes", t.maxBody)}
		case err != nil:
			return nil, malformed("the request body could not be read")
		}
		if err := json.Unmarshal(body, &fields); err != nil {
			var syn *json.SyntaxError
			if errors.As(err, &syn) || len(bytes.TrimSpace(body)) == 0 {
				return nil, malformed("the request body is not JSON")
			}
			return nil, malformed("the request body is not a JSON object")
		}
	}
	p := &graphql.RawParams{}
	for _, f := range []struct {
		name, kind string
		dst        any
	}{
		{"query", "string", &p.Query},
		{"operationName", "string", &p.OperationName},
		{"variables", "object", &p.Variables},
		{"extensions", "object", &p.Extensions},
	} {
		raw, ok := fields[f.name]
		if !ok || string(raw) == "null" {
			continue
		}
		if !json.Valid(raw) {
			return nil, malformed("%s: not JSON", f.name)
		}
		if got := jsonKind(raw); got != f.kind {
			return nil, malformed("%s: want a JSON %s, got a %s", f.name, f.kind, got)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(f.dst); err != nil {
			return nil, malformed("%s: want a JSON %s", f.name, f.kind)
		}
	}
	// A persisted query (extensions.persistedQuery) may leave the text out.
	if _, persisted := p.Extensions["persistedQuery"]; p.Query == "" && !persisted {
		return nil, malformed("the request has no query")
	}
	return p, nil
}

// jsonKind names the kind of a JSON value from its first byte, without
// repeating any of it.
func jsonKind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// responseMedia picks the response media type the Accept header prefers:
// application/graphql-response+json when asked for by name, otherwise
// application/json, also when nothing supported is listed.
func responseMedia(accept string) string {
	best, bestQ := mediaJSON, -1.0
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(v, 64); err != nil {
				continue
			}
		}
		var media string
		switch mt {
		case mediaGraphQLResponse:
			media = mediaGraphQLResponse
		case mediaJSON, "application/*", "*/*":
			media = mediaJSON
		default:
			continue
		}
		if q > 0 && q > bestQ {
			best, bestQ = media, q
		}
	}
	return best
}

// writeGraphQL writes a GraphQL response. A request refused before
// execution has no data entry, as the GraphQL spec says of request errors.
func writeGraphQL(w http.ResponseWriter, status int, resp *graphql.Response, executed bool) {
	if executed && len(resp.Errors) == 0 && resp.Extensions == nil && resp.Label == "" && resp.Path == nil && resp.HasNext == nil && len(resp.Data) > 0 {
		// Only data, which gqlgen wrote compact: the bytes json.Marshal
		// would write, without its second pass over them to compact and
		// validate (5% of the server's CPU on the members page).
		b := make([]byte, 0, len(resp.Data)+len(`{"data":}`)+16)
		buf := bytes.NewBuffer(append(b, `{"data":`...))
		json.HTMLEscape(buf, resp.Data)
		buf.WriteByte('}')
		w.WriteHeader(status)
		w.Write(buf.Bytes())
		return
	}
	var v any = resp
	if !executed {
		v = struct {
			Errors     gqlerror.List  `json:"errors"`
			Extensions map[string]any `json:"extensions,omitempty"`
		}{resp.Errors, resp.Extensions}
	}
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"errors":[{"message":"internal server error: the response could not be encoded"}]}`)
	}
	w.WriteHeader(status)
	w.Write(b)
}
