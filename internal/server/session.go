package server

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/identity/session"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
)

// signInFailed is the one answer to every refused sign-in: an unknown
// username, a wrong key, another user's key and a deactivated user look
// alike.
const signInFailed = "sign-in failed: unknown username or wrong API key"

// maxSignInBody bounds a sign-in request's body, in bytes.
const maxSignInBody = 4 << 10

// serviceAccountSignIn is the answer to a service account's sign-in.
const serviceAccountSignIn = "sign-in refused: service accounts cannot sign in to the dashboard; send their API key with each request (Basic or Bearer) instead"

// signin serves /api/session: signing in with a username and an API key,
// who the session is, and signing out.
type signin struct {
	authn    *auth.Authenticator
	sessions *session.Service
	mode     deployment.Mode
	// secure marks the cookie Secure: --public-url is https.
	secure bool
	log    *slog.Logger
	// seen, when set, counts a signed-in user as active.
	seen func(userID int64)
}

// sessionInfo is what POST and GET /api/session answer.
type sessionInfo struct {
	Username      string     `json:"username"`
	Name          string     `json:"name"`
	InstanceAdmin bool       `json:"instanceAdmin"`
	ExpiresAt     *time.Time `json:"expiresAt"`
	Deployment    string     `json:"deployment,omitempty"`
}

func infoOf(p *auth.Principal) sessionInfo {
	in := sessionInfo{Username: p.User.Username, Name: p.User.Name, InstanceAdmin: p.User.InstanceAdmin}
	if p.Session != nil {
		t := p.Session.ExpiresAt.UTC().Truncate(time.Second)
		in.ExpiresAt = &t
	}
	return in
}

// create signs in: POST /api/session with {"username": …, "apiKey": …}.
func (s *signin) create(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		auth.WriteError(w, http.StatusUnsupportedMediaType, "send the sign-in as application/json: {\"username\": \"…\", \"apiKey\": \"…\"}")
		return
	}
	var in struct {
		Username string `json:"username"`
		APIKey   string `json:"apiKey"`
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSignInBody))
	if err != nil {
		auth.WriteError(w, http.StatusRequestEntityTooLarge, "the sign-in request is larger than 4 KiB")
		return
	}
	if err := json.Unmarshal(body, &in); err != nil {
		auth.WriteError(w, http.StatusBadRequest, "the sign-in request is not a JSON object {\"username\": \"…\", \"apiKey\": \"…\"}")
		return
	}
	ip := auth.ClientIP(r)
	p, err := s.authn.SignIn(r.Context(), in.Username, in.APIKey, ip)
	if err != nil {
		if !auth.IsAuthError(err) {
			s.log.ErrorContext(r.Context(), "sign-in failed", "err", err)
			auth.WriteUnavailable(w, "sign-in is unavailable, try again")
			return
		}
		if wait := s.authn.Failed(r.Context(), ip, err); wait > 0 {
			auth.WriteThrottled(w, wait)
			return
		}
		auth.WriteError(w, http.StatusUnauthorized, signInFailed)
		return
	}
	// A service account is a script's identity: it authenticates each
	// request with its key and has no use for a browser session. Its key
	// is proven, so saying why is no leak.
	if p.User.IsServiceAccount() {
		auth.WriteError(w, http.StatusForbidden, serviceAccountSignIn)
		return
	}
	// A browser holds one session: the one it had (another user's, say)
	// ends, as if signed out, so that it does not linger until it times out.
	if c, err := r.Cookie(auth.CookieName); err == nil && c.Value != "" {
		if _, err := s.sessions.End(r.Context(), c.Value, ip); err != nil {
			s.log.WarnContext(r.Context(), "ending the browser's previous session failed", "err", err)
		}
	}
	token, sp, err := s.sessions.Open(r.Context(), p)
	if err != nil {
		s.log.ErrorContext(r.Context(), "opening a session failed", "err", err)
		auth.WriteUnavailable(w, "sign-in is unavailable, try again")
		return
	}
	if s.seen != nil {
		s.seen(p.User.ID)
	}
	http.SetCookie(w, auth.SessionCookie(token, s.secure))
	writeJSON(w, http.StatusOK, infoOf(sp))
}

// show says who the caller is: GET /api/session, with the session cookie
// (or Basic or Bearer credentials).
func (s *signin) show(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	in := infoOf(auth.FromContext(r.Context()))
	in.Deployment = string(s.mode)
	writeJSON(w, http.StatusOK, in)
}

// end signs out: DELETE /api/session deletes the session the cookie names
// (recording user:logout) and tells the browser to forget the cookie. It
// answers 204 whether or not the session was still live.
func (s *signin) end(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	if c, err := r.Cookie(auth.CookieName); err == nil && c.Value != "" {
		if _, err := s.sessions.End(r.Context(), c.Value, auth.ClientIP(r)); err != nil {
			s.log.ErrorContext(r.Context(), "signing out failed", "err", err)
			auth.WriteUnavailable(w, "sign-out is unavailable, try again")
			return
		}
	}
	auth.ClearCookie(w, s.secure)
	w.WriteHeader(http.StatusNoContent)
}

// home is the page a signed-in user's browser goes to from /.
func (s *signin) home() string {
	if s.mode.MultiTenant() {
		return "/account-settings/"
	}
	return "/org/dashboard"
}

// signedIn returns whether r carries a live session cookie. An ended
// session's cookie is cleared and counted as a failed authentication.
func (s *signin) signedIn(w http.ResponseWriter, r *http.Request) bool {
	c, err := r.Cookie(auth.CookieName)
	if err != nil || c.Value == "" {
		return false
	}
	_, err = s.authn.SessionToken(r.Context(), c.Value, auth.ClientIP(r))
	if err == nil {
		return true
	}
	if auth.IsAuthError(err) {
		s.authn.Failed(r.Context(), auth.ClientIP(r), err)
		auth.ClearCookie(w, s.secure)
	} else {
		s.log.ErrorContext(r.Context(), "looking up a session failed", "err", err)
	}
	return false
}

// noStore keeps answers about sessions out of caches.
func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
}

// crossSiteUpgrade reports whether a WebSocket upgrade request comes from
// another site's page: Sec-Fetch-Site says cross-site or same-site, or
// Origin names another origin than the request's host (or the trusted
// --public-url). A request with neither header (not a browser) passes.
// Browsers send a site's cookies with WebSocket upgrades whatever page
// opened them, so this is what keeps another site from using a signed-in
// user's session over a WebSocket.
func crossSiteUpgrade(r *http.Request, trusted string) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		return true
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	if trusted != "" && strings.EqualFold(origin, trusted) {
		return false
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return true
	}
	return !strings.EqualFold(u.Host, r.Host)
}

// publicOrigin returns the origin (scheme://host) of publicURL, empty when
// it has none.
func publicOrigin(publicURL string) string {
	u, err := url.Parse(publicURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// secureURL reports whether publicURL is https, so cookies must be Secure.
func secureURL(publicURL string) bool {
	u, err := url.Parse(publicURL)
	return err == nil && strings.EqualFold(u.Scheme, "https")
}

var errCrossSiteUpgrade = errors.New("cross-origin WebSocket refused: a browser opened this WebSocket from another site's page (Sec-Fetch-Site or Origin)")
