package server

import (
	"errors"
	"html/template"
	"net/http"

	"github.com/auditgraph/auditgraph/internal/alerting/connect"
	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/identity/access"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/platform/fault"
)

func newConnect(cfg Config) *connect.Service {
	return cfg.Services.Connect(connect.Config{Secrets: cfg.Secrets, PublicURL: cfg.PublicURL,
		SlackAPIURL: cfg.SlackAPIURL, SlackAuthorizeURL: cfg.SlackAuthorizeURL, Now: cfg.Now, Log: cfg.Log})
}

// routeSlack adds the Slack install routes: the install link needs
// credentials; the callback is reached by the browser coming back from
// Slack without them, so the signed state authenticates it.
func routeSlack(mux *http.ServeMux, conn *connect.Service, api *rest, protect func(http.Handler) http.Handler) {
	mux.Handle("GET /slack/install", protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
		page := callbackPage{Org: in.Org.Name, Channel: in.Integration.SlackChannel, Team: in.Integration.SlackTeam}
		code := http.StatusOK
		var se *connect.SlackError
		var ste *connect.StateError
		switch {
		case err == nil:
		case errors.As(err, &se):
			code, page.Error, page.Hint = se.Status, se.Error(), se.Hint(conn.RedirectURL())
		case errors.As(err, &ste):
			code, page.Error = http.StatusBadRequest, ste.Error()
		case errors.Is(err, connect.ErrInvalid):
			code, page.Error = http.StatusBadRequest, fault.Message(err, connect.ErrInvalid)
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

// callbackPage is what the callback shows: the connected channel, or why
// nothing was connected.
type callbackPage struct {
	Org, Channel, Team string
	Error, Hint        string
}

var callbackTemplate = template.Must(template.New("callback").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>auditgraph · Slack</title>
<style>body{font:16px system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em}</style></head>
<body>
{{if .Error}}<h1>Slack was not connected</h1>
<p>{{.Error}}</p>{{if .Hint}}<p>{{.Hint}}</p>{{end}}
{{else}}<h1>Slack connected</h1>
<p>Alerts of organization <strong>{{.Org}}</strong> can now go to <strong>{{.Channel}}</strong> in the <strong>{{.Team}}</strong> Slack workspace.</p>
<p>You can close this page.</p>
{{end}}</body></html>
`))
