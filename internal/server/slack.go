package server

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"

	"github.com/auditgraph/auditgraph/internal/alerting/connect"
	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/identity/access"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/internal/platform/fault"
)

func newConnect(cfg Config) *connect.Service {
	return cfg.Services.Connect(connect.Config{Secrets: cfg.Secrets, PublicURL: cfg.PublicURL,
		SlackAPIURL: cfg.SlackAPIURL, SlackAuthorizeURL: cfg.SlackAuthorizeURL, Now: cfg.Now, Log: cfg.Log})
}

// routeSlack adds the Slack install routes: the install link needs
// credentials (the dashboard's session cookie too: its Add to Slack sends
// the browser there); the callback is reached by the browser coming back
// from Slack without them, so the signed state authenticates it.
func routeSlack(mux *http.ServeMux, conn *connect.Service, api *rest, protectSession func(http.Handler) http.Handler) {
	mux.Handle("GET /slack/install", protectSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if crossSiteWithCookie(r) {
			auth.WriteError(w, http.StatusForbidden, slackInstallCrossSite)
			return
		}
		p := auth.FromContext(r.Context())
		org, err := api.orgParam(r, p, func(org entity.Organization) error { return conn.AuthorizeInstall(r.Context(), p.User, org) })
		if err != nil {
			api.respond(w, r, err)
			return
		}
		u, nonce, err := conn.InstallURL(r.Context(), p.User, org)
		switch {
		case errors.Is(err, connect.ErrNoKey):
			auth.WriteError(w, http.StatusServiceUnavailable, connect.ErrNoKey.Error())
		case errors.Is(err, connect.ErrNotConfigured):
			auth.WriteError(w, http.StatusConflict, connect.ErrNotConfigured.Error())
		case err != nil:
			api.respond(w, r, err)
		default:
			w.Header().Set("Cache-Control", "no-store")
			setSlackInstallCookie(w, conn.RedirectURL(), nonce)
			http.Redirect(w, r, u, http.StatusFound)
		}
	})))
	mux.HandleFunc("GET "+connect.CallbackPath, func(w http.ResponseWriter, r *http.Request) {
		in, err := conn.Callback(r.Context(), r.URL.Query(), slackInstallNonce(r))
		if installFinished(err) {
			clearSlackInstallCookie(w, conn.RedirectURL())
		}
		page := callbackPage{Org: in.Org.Name, Channel: in.Integration.SlackChannel, Team: in.Integration.SlackTeam,
			Back: alertsPage(api.mode, in.Org.Name)}
		code := http.StatusOK
		var se *connect.SlackError
		var ste *connect.StateError
		switch {
		case err == nil:
		case errors.As(err, &se):
			code, page.Error, page.Hint, page.Again = se.Status, se.Error(), se.Hint(conn.RedirectURL()), se.Status == http.StatusBadRequest
		case errors.As(err, &ste):
			// The state names an organization, but this browser has not
			// shown it may know which: the page names none.
			code, page.Error, page.Again, page.Refused = http.StatusBadRequest, "The install link's "+ste.Error()+".", true, true
			page.Back = alertsPage(api.mode, "")
		case errors.Is(err, connect.ErrInvalid):
			code, page.Error, page.Again = http.StatusBadRequest, fault.Message(err, connect.ErrInvalid), true
		case errors.Is(err, connect.ErrNotConfigured):
			code, page.Error = http.StatusBadRequest, connect.ErrNotConfigured.Error()
		case errors.Is(err, access.ErrForbidden):
			code, page.Error = http.StatusForbidden, fault.Message(err, access.ErrForbidden)
		case errors.Is(err, connect.ErrNoKey):
			code, page.Error = http.StatusServiceUnavailable, connect.ErrNoKey.Error()
		case errors.Is(err, fault.ErrConflict):
			code, page.Error = http.StatusConflict, "this channel was connected by another install at the same moment; nothing was changed"
		default:
			api.log.ErrorContext(r.Context(), "Slack install callback failed", "err", err)
			code, page.Error = http.StatusInternalServerError, "internal server error: nothing was connected"
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		w.WriteHeader(code)
		callbackTemplate.Execute(w, page)
	})
}

// slackInstallCrossSite refuses an install another site's link started
// with the session cookie.
const slackInstallCrossSite = "an install started from another site is refused: start it with Add to Slack " +
	"on the Alerts & integrations page of auditgraph"

// crossSiteWithCookie reports whether r is authenticated by the session
// cookie (no Authorization header) and the browser says another site sent
// it (Sec-Fetch-Site cross-site or same-site). SameSite=Lax sends the
// cookie with another site's link; an install must start from this
// server's own page (same-origin) or an address typed in (none).
func crossSiteWithCookie(r *http.Request) bool {
	if r.Header.Get("Authorization") != "" {
		return false
	}
	s := r.Header.Get("Sec-Fetch-Site")
	return s == "cross-site" || s == "same-site"
}

// callbackPage is what the callback shows: the connected channel, or why
// nothing was connected and how to start again, with a link back to the
// organization's Alerts & integrations page.
type callbackPage struct {
	Org, Channel, Team string
	Error, Hint        string
	// Refused: the state was refused before anything was sent to Slack.
	Refused bool
	// Again: starting the install again can succeed.
	Again bool
	// Back is the dashboard's Alerts & integrations page.
	Back string
}

// alertsPage is the path of org's Alerts & integrations page in the
// dashboard; with no org, the dashboard's page that leads to it.
func alertsPage(mode deployment.Mode, org string) string {
	if mode == deployment.MultiTenant {
		if org == "" {
			return "/account-settings/"
		}
		return "/account-settings/" + url.PathEscape(org) + "/alerts"
	}
	q := url.Values{"tab": {"alerts"}}
	if org != "" {
		q.Set("org", org)
	}
	return "/org/dashboard?" + q.Encode()
}

var callbackTemplate = template.Must(template.New("callback").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{if .Error}}Slack was not connected{{else}}Slack connected{{end}} · auditgraph</title>
<style>
:root{color-scheme:light dark;--bg:#f6f7f9;--surface:#fff;--text:#1b1f24;--muted:#57606a;--border:#d0d7de;--accent:#0b5cad;--danger:#b3261e;--ok:#116329}
@media (prefers-color-scheme:dark){:root{--bg:#0f1216;--surface:#171b21;--text:#e6edf3;--muted:#9aa5b1;--border:#38414c;--accent:#4c9bef;--danger:#ff8a80;--ok:#7ee2a8}}
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--text);margin:0;padding:2rem 1rem}
main{max-width:38em;margin:0 auto;background:var(--surface);border:1px solid var(--border);border-radius:8px;padding:1.5rem}
h1{font-size:1.4rem;margin:0 0 .75rem}h2{font-size:1.05rem;margin:1.25rem 0 .4rem}
.brand{color:var(--muted);font-weight:600;font-size:.9rem;margin:0 0 .25rem}
.why{border-left:4px solid var(--danger);padding:.2rem 0 .2rem .8rem}.done{border-left:4px solid var(--ok);padding:.2rem 0 .2rem .8rem}
a{color:var(--accent)}a.button{display:inline-block;margin-top:1rem;padding:.45rem .9rem;border:1px solid var(--accent);border-radius:6px;text-decoration:none;font-weight:600}
ol{padding-left:1.3rem}li{margin:.25rem 0}
</style></head>
<body><main>
<p class="brand">auditgraph</p>
{{if .Error}}<h1>Slack was not connected</h1>
<p class="why" id="reason">{{.Error}}</p>
{{if .Refused}}<p>Nothing was sent to Slack and nothing was connected. A Slack install can only be finished in the browser that started it, within 10 minutes, and once.</p>{{end}}
{{if .Hint}}<p id="hint">{{.Hint}}</p>{{end}}
{{if .Again}}<h2>How to start again</h2>
<ol id="start-again">
<li>Open <a href="{{.Back}}">Alerts &amp; integrations</a> in auditgraph, in this browser, signed in as an admin of the organization.</li>
<li>Select <strong>Add to Slack</strong>.</li>
<li>In Slack, pick the channel and allow the app, without switching browsers; Slack brings you back here.</li>
</ol>{{end}}
<a class="button" id="back" href="{{.Back}}">Go to Alerts &amp; integrations</a>
{{else}}<h1>Slack connected</h1>
<p class="done">Alerts of organization <strong>{{.Org}}</strong> can now go to <strong>{{.Channel}}</strong> in the <strong>{{.Team}}</strong> Slack workspace.</p>
<p>Add it to an alert rule, or send it a test alert, on the Alerts &amp; integrations page.</p>
<a class="button" id="back" href="{{.Back}}">Back to Alerts &amp; integrations of {{.Org}}</a>
{{end}}</main></body></html>
`))
