// Package dashboard serves the organization dashboard: the sign-in page, the
// Users and Activity tabs (/org/dashboard, self-managed and dedicated) and the
// Members page (/account-settings/<org>/members, multi-tenant).
//
// Every page route serves the same HTML shell; the script (built from
// web/src by web/build.sh and embedded) reads the address and draws the page
// from the public GraphQL API, with the caller's session cookie (or the
// Basic/Bearer credentials the browser holds). The shell and its assets hold
// no data, so they load without credentials; an API answer 401 sends the
// browser to /signin.
package dashboard

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/platform/webasset"
)

// AssetPrefix is where the embedded assets are served.
const AssetPrefix = "/ui/"

// ContentSecurityPolicy is sent with the shell and its assets: scripts,
// styles and API calls only from this origin, no inline code.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; " +
	"frame-ancestors 'none'; form-action 'self'"

// Routes are the page routes Handler serves (and AssetPrefix). Mount the
// handler on each:
//
//	for _, p := range dashboard.Routes { mux.Handle(p, h) }
var Routes = []string{"/signin", "/org/dashboard", "/org/dashboard/", "/account-settings/", AssetPrefix}

// The bundle is ES modules: app.js imports chunks that esbuild names by
// their content hash (chunk-<hash>.js, activity-<hash>.js), by those names.
//
//go:embed assets/*.js assets/app.css assets/licenses.txt
var assetFS embed.FS

// asset is one embedded file as it is served.
type asset struct {
	*webasset.Asset
	// name is what the asset is served as: app.<hash>.js (app.js, app.css,
	// boot.js, which the shell names), a chunk's own hashed name, or
	// licenses.txt (not hashed: it is linked from the bundle's banner).
	name      string
	immutable bool
}

// URL is where the asset is served.
func (a *asset) URL() string { return AssetPrefix + a.name }

var assets, assetsByFile = loadAssets()

// loadAssets reads the embedded files and names the JS and CSS by their
// content hash, so that a new build gets new URLs and browsers may cache
// each one forever.
func loadAssets() (byName, byFile map[string]*asset) {
	byName, byFile = map[string]*asset{}, map[string]*asset{}
	for file, wa := range webasset.Load(assetFS, "assets") {
		a := &asset{Asset: wa, name: file, immutable: true}
		switch file {
		case "licenses.txt":
			a.immutable = false
		case "app.js", "app.css", "boot.js":
			a.name = wa.HashedName()
		}
		byName[a.name] = a
		byFile[file] = a
	}
	return byName, byFile
}

// staticImports are the chunks a module imports at its start, in esbuild's
// minified output: import{…}from"./chunk-X.js" or import"./chunk-X.js".
var staticImports = regexp.MustCompile(`import(?:\{[^}]*\}from|\*as [\w$]+ from)?"\./([\w-]+\.js)"`)

// preloads are the chunks app.js imports at its start, so that the shell
// names them (modulepreload) and the browser fetches them beside app.js,
// not after it.
func preloads() []string {
	var urls []string
	for _, m := range staticImports.FindAllSubmatch(assetsByFile["app.js"].Body, -1) {
		a := assets[string(m[1])]
		if a == nil {
			panic(fmt.Sprintf("dashboard: app.js imports %s, which is not embedded", m[1]))
		}
		urls = append(urls, a.URL())
	}
	return urls
}

// shell is every page's HTML. boot.js (a few KB, run at once, before the
// stylesheet so that it waits for nothing) sends the page's first GraphQL
// requests while the browser fetches and parses app.js (a module: deferred)
// and its chunks, which takes their answers: the requests no longer wait
// for the bundle.
var shell = template.Must(template.New("shell").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="auditgraph-deployment" content="{{.Mode}}">
<title>auditgraph</title>
<link rel="icon" href="data:,">
<script src="{{.Boot}}"></script>
<link rel="stylesheet" href="{{.CSS}}">
<script type="module" src="{{.JS}}"></script>
{{range .Preload}}<link rel="modulepreload" href="{{.}}">
{{end}}
</head>
<body>
<div id="app"><noscript>The auditgraph dashboard needs JavaScript. The same data is in the GraphQL API (/graphiql) and /admin/users.csv.</noscript></div>
</body>
</html>
`))

// Handler serves the page routes for a server running in deployment mode
// mode ("self-managed", "dedicated" or "multi-tenant") and the assets under
// /ui/. In multi-tenant mode /org/dashboard redirects to /account-settings/;
// in the other modes /account-settings/... redirects to /org/dashboard.
func Handler(mode string) http.Handler {
	switch mode {
	case "self-managed", "dedicated", "multi-tenant":
	default:
		panic(fmt.Sprintf("dashboard: unknown deployment mode %q", mode))
	}
	var buf bytes.Buffer
	if err := shell.Execute(&buf, map[string]any{
		"Mode":    mode,
		"CSS":     assetsByFile["app.css"].URL(),
		"JS":      assetsByFile["app.js"].URL(),
		"Boot":    assetsByFile["boot.js"].URL(),
		"Preload": preloads(),
	}); err != nil {
		panic(err)
	}
	return &handler{multiTenant: mode == "multi-tenant", shell: buf.Bytes()}
}

type handler struct {
	multiTenant bool
	shell       []byte
}

// orgPages are the pages under /account-settings/<org>/ (multi-tenant), each
// with the /org/dashboard tab that shows the same in the other modes.
var orgPages = map[string]string{
	"members":   "",
	"audit-log": "audit-log",
	"alerts":    "alerts",
	"integrity": "integrity",
}

// orgName is what an organization name may be (as the @name directive checks).
var orgName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		auth.WriteError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s", r.Method, r.URL.Path))
		return
	}
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, AssetPrefix):
		a := assets[strings.TrimPrefix(p, AssetPrefix)]
		if a == nil {
			notFound(w, r)
			return
		}
		serveAsset(w, r, a)
	case p == "/signin":
		h.serveShell(w, r)
	case p == "/org/dashboard" || p == "/org/dashboard/":
		if h.multiTenant {
			target := "/account-settings/"
			if org := r.URL.Query().Get("org"); orgName.MatchString(org) {
				page := "members"
				for p, tab := range orgPages {
					if tab != "" && tab == r.URL.Query().Get("tab") {
						page = p
					}
				}
				target += org + "/" + page
			}
			redirect(w, r, target)
			return
		}
		h.serveShell(w, r)
	case p == "/account-settings/":
		if !h.multiTenant {
			redirect(w, r, "/org/dashboard")
			return
		}
		h.serveShell(w, r)
	case strings.HasPrefix(p, "/account-settings/"):
		org, page, ok := strings.Cut(strings.TrimPrefix(p, "/account-settings/"), "/")
		tab, known := orgPages[page]
		if !ok || !known || !orgName.MatchString(org) {
			notFound(w, r)
			return
		}
		if !h.multiTenant {
			target := "/org/dashboard?org=" + url.QueryEscape(org)
			if tab != "" {
				target += "&tab=" + tab
			}
			redirect(w, r, target)
			return
		}
		h.serveShell(w, r)
	default:
		notFound(w, r)
	}
}

// redirect sends the browser to target with 302: where a page lives depends
// on the server's mode, which an operator may change.
func redirect(w http.ResponseWriter, r *http.Request, target string) {
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusFound)
}

func securityHeaders(hd http.Header) {
	hd.Set("Content-Security-Policy", ContentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
}

func (h *handler) serveShell(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	securityHeaders(hd)
	hd.Set("Content-Type", "text/html; charset=utf-8")
	// The shell names the current assets' hashed URLs: never reuse a copy.
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Length", strconv.Itoa(len(h.shell)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(h.shell)
	}
}

func serveAsset(w http.ResponseWriter, r *http.Request, a *asset) {
	securityHeaders(w.Header())
	// An immutable URL always names these bytes.
	webasset.Serve(w, r, a.Asset, a.immutable)
}

func notFound(w http.ResponseWriter, r *http.Request) {
	auth.WriteError(w, http.StatusNotFound, fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path))
}
