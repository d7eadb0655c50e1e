// Package playground serves GraphiQL, an in-browser GraphQL IDE, at /graphiql.
//
// Its JavaScript and CSS are built from pinned npm packages by web/build.sh
// and embedded in the binary, so the page loads nothing from another origin
// and works with no internet access.
//
// The page and its assets are public on purpose: they hold no data, only the
// IDE. Every API call the page makes carries the credentials the user enters
// (HTTP Basic username:API-KEY, kept in the browser tab's sessionStorage), and
// the GraphQL endpoint checks them as for any other client.
package playground

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/platform/webasset"
)

// Path is where the page is served; assets are under Path + "/assets/".
const Path = "/graphiql"

// ContentSecurityPolicy is sent with the page: scripts, styles and API calls
// only from this origin, plus WebSockets (ws:, wss:) for subscriptions.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"connect-src 'self' ws: wss:; img-src 'self' data:; font-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

//go:embed assets/graphiql.js assets/graphiql.css assets/licenses.txt
var assetFS embed.FS

var assets = webasset.Load(assetFS, "assets")

// assetURL is a's address with its content hash as the version, so a new
// build gets a new URL and browsers never use a stale cached copy.
func assetURL(a *webasset.Asset) string { return Path + "/assets/" + a.File + "?v=" + a.Hash }

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>auditgraph GraphQL playground</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{{.CSS}}">
<script defer src="{{.JS}}"></script>
</head>
<body>
<div id="playground" data-graphql-path="{{.GraphQLPath}}"><noscript>The GraphQL playground needs JavaScript.</noscript></div>
</body>
</html>
`))

// Handler serves GET /graphiql (the page) and GET /graphiql/assets/NAME (its
// embedded JavaScript, CSS and third-party licenses), and redirects
// /graphiql/ to /graphiql; any other path under /graphiql/ is 404. The page sends its queries to graphqlPath on the same
// origin, and subscriptions to ws(s)://HOST + graphqlPath. graphqlPath must be
// an absolute path such as "/graphql".
//
// Mount it for both the page and its folder:
//
//	mux.Handle("/graphiql", h)
//	mux.Handle("/graphiql/", h)
func Handler(graphqlPath string) http.Handler {
	if !strings.HasPrefix(graphqlPath, "/") || strings.HasPrefix(graphqlPath, "//") {
		panic(fmt.Sprintf("playground: graphqlPath %q is not an absolute path on this origin", graphqlPath))
	}
	var buf bytes.Buffer
	if err := page.Execute(&buf, map[string]string{
		"CSS":         assetURL(assets["graphiql.css"]),
		"JS":          assetURL(assets["graphiql.js"]),
		"GraphQLPath": graphqlPath,
	}); err != nil {
		panic(err)
	}
	return &handler{page: buf.Bytes()}
}

type handler struct {
	page []byte
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var a *webasset.Asset
	redirect := false
	switch {
	case r.URL.Path == Path:
	case r.URL.Path == Path+"/":
		// The address people type or paste with a slash, as for a folder.
		redirect = true
	case strings.HasPrefix(r.URL.Path, Path+"/assets/"):
		a = assets[strings.TrimPrefix(r.URL.Path, Path+"/assets/")]
		if a == nil {
			notFound(w, r)
			return
		}
	default:
		notFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		auth.WriteError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s", r.Method, r.URL.Path))
		return
	}
	switch {
	case redirect:
		target := Path
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, target, http.StatusMovedPermanently)
	case a == nil:
		h.servePage(w, r)
	default:
		serveAsset(w, r, a)
	}
}

func (h *handler) servePage(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Security-Policy", ContentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	// Revalidate the page each time: it names the current assets' versions.
	hd.Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(h.page))
}

func serveAsset(w http.ResponseWriter, r *http.Request, a *webasset.Asset) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	// With the current version, this URL always names these bytes.
	webasset.Serve(w, r, a, r.URL.Query().Get("v") == a.Hash)
}

func notFound(w http.ResponseWriter, r *http.Request) {
	auth.WriteError(w, http.StatusNotFound, fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path))
}
