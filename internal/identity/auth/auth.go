package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/platform/fault"
	"github.com/auditgraph/auditgraph/internal/platform/metrics"
)

// Principal is who a request acts as.
type Principal struct {
	User  entity.User
	KeyID int64
	// IP is the client address, recorded as actor_ip on the events it causes.
	IP string
	// Session is the sign-in session whose cookie the request came with;
	// nil for requests with an API key (Basic or Bearer). KeyID is then
	// the key the session was opened with.
	Session *Session
}

// Session is the sign-in session a principal came with.
type Session struct {
	ID int64
	// ExpiresAt is when the session ends unless it is used before: the
	// earlier of its idle deadline and its absolute end.
	ExpiresAt time.Time
}

type ctxKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the request's principal, or nil when unauthenticated.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(ctxKey{}).(*Principal)
	return p
}

// Realm is sent in WWW-Authenticate challenges.
const Realm = "auditgraph"

// Errors Authenticate returns; their text is safe to show to the client.
var (
	ErrNoCredentials  = errors.New("authentication required: send HTTP Basic username:API-KEY or a Bearer API key")
	ErrBadCredentials = errors.New("invalid username or API key")
	ErrMalformed      = errors.New("malformed Authorization header")
	ErrDeactivated    = errors.New("user is deactivated")
	// ErrSessionEnded refuses a session cookie that names no live session
	// (signed out, expired, or ended by a deactivation or a deleted key).
	ErrSessionEnded = errors.New("your session has ended: sign in again")
)

// Keys looks users up by key hash; *storage.Store implements it.
type Keys interface {
	Authenticate(ctx context.Context, hash []byte) (entity.User, int64, error)
}

// Sessions looks sign-in sessions up by the token of their cookie;
// internal/identity/session implements it. Lookup returns the principal, or
// an error for which IsAuthError holds (ErrSessionEnded) when the token
// names no live session, or another error when it could not tell.
type Sessions interface {
	Lookup(ctx context.Context, token, ip string) (*Principal, error)
}

// Authenticator checks the credentials of HTTP requests.
type Authenticator struct {
	keys Keys
	// Sessions, when set, lets AuthenticateSession accept session cookies.
	Sessions Sessions
	// SecureCookies marks the cookies it sets (clearing an ended session's)
	// Secure: the server is reached over https.
	SecureCookies bool
	log           *slog.Logger
	// OnFailure, when set, is told of each refusal of credentials: its
	// reason (one of metrics' Auth reasons) and whether it was answered 429.
	OnFailure func(reason string, throttled bool)

	// keys is the Cache's table of API keys (by hash); nil without one.
	keyCache *Table[[32]byte, cachedPrincipal]

	now      func() time.Time
	failures *limiter
	// logs and throttleLogs hold back failure lines and throttling lines
	// beyond a few a minute.
	logs, throttleLogs logGate
}

// cachedPrincipal is what an API key authenticates as.
type cachedPrincipal struct {
	user  entity.User
	keyID int64
}

// UseCache makes the authenticator answer API keys from c (see Cache)
// for a short time.
func (a *Authenticator) UseCache(c *Cache) {
	a.keyCache = NewTable[[32]byte, cachedPrincipal](c)
}

// New returns an Authenticator over keys.
func New(keys Keys, log *slog.Logger) *Authenticator {
	return &Authenticator{keys: keys, log: log, now: time.Now, failures: newLimiter(FailureRate, FailureBurst, maxSources)}
}

// Authenticate returns the principal named by r's Authorization header:
// "Basic base64(username:API-KEY)" or "Bearer API-KEY".
func (a *Authenticator) Authenticate(r *http.Request) (*Principal, error) {
	return a.AuthenticateHeader(r.Context(), r.Header.Get("Authorization"), ClientIP(r))
}

// AuthenticateHeader returns the principal named by an Authorization header
// value h, as Authenticate does, for credentials that arrive another way
// (a WebSocket's connection_init payload); ip is the client's address.
func (a *Authenticator) AuthenticateHeader(ctx context.Context, h, ip string) (*Principal, error) {
	if h == "" {
		return nil, ErrNoCredentials
	}
	scheme, cred, ok := strings.Cut(h, " ")
	if !ok {
		return nil, refuse(ErrMalformed, metrics.AuthMalformed, "")
	}
	cred = strings.TrimSpace(cred)
	var username, key string
	switch strings.ToLower(scheme) {
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(cred)
		if err != nil {
			return nil, refuse(ErrMalformed, metrics.AuthMalformed, "")
		}
		username, key, ok = strings.Cut(string(raw), ":")
		if !ok {
			return nil, refuse(ErrMalformed, metrics.AuthMalformed, "")
		}
	case "bearer":
		key = cred
	default:
		return nil, refuse(ErrMalformed, metrics.AuthMalformed, "")
	}
	return a.credentials(ctx, username, key, ip)
}

// SignIn checks a username and an API key typed into the sign-in page, as
// Basic credentials are checked; the username is required.
func (a *Authenticator) SignIn(ctx context.Context, username, key, ip string) (*Principal, error) {
	if username == "" {
		return nil, refuse(ErrBadCredentials, metrics.AuthMalformed, "")
	}
	return a.credentials(ctx, username, key, ip)
}

// credentials returns the principal of key, which must be username's when
// username is not empty.
func (a *Authenticator) credentials(ctx context.Context, username, key, ip string) (*Principal, error) {
	if key == "" {
		return nil, refuse(ErrBadCredentials, metrics.AuthUnknownKey, username)
	}
	hash := sha256.Sum256([]byte(key))
	c, ok := a.keyCache.Get(hash)
	if !ok {
		tk := a.keyCache.Ticket()
		u, keyID, err := a.keys.Authenticate(ctx, hash[:])
		if errors.Is(err, fault.ErrNotFound) {
			return nil, refuse(ErrBadCredentials, metrics.AuthUnknownKey, username)
		}
		if err != nil {
			return nil, err
		}
		c = cachedPrincipal{user: u, keyID: keyID}
		a.keyCache.Put(tk, hash, u.ID, c)
	}
	u, keyID := c.user, c.keyID
	// Basic auth names the user; a key presented under another name is refused
	// rather than silently accepted for its owner.
	if username != "" && username != u.Username {
		return nil, refuse(ErrBadCredentials, metrics.AuthWrongUser, username)
	}
	if u.Deactivated() {
		return nil, refuse(ErrDeactivated, metrics.AuthDeactivated, u.Username)
	}
	return &Principal{User: u, KeyID: keyID, IP: ip}, nil
}

// CookieName is the sign-in session's cookie.
const CookieName = "auditgraph_session"

// AuthenticateSession is Authenticate for the routes a browser's session
// cookie is good for: the Authorization header when there is one (it wins),
// else the session named by the request's CookieName cookie.
func (a *Authenticator) AuthenticateSession(r *http.Request) (*Principal, error) {
	if r.Header.Get("Authorization") != "" || a.Sessions == nil {
		return a.Authenticate(r)
	}
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" {
		return nil, ErrNoCredentials
	}
	return a.SessionToken(r.Context(), c.Value, ClientIP(r))
}

// SessionToken returns the principal of the session whose cookie holds
// token (from a WebSocket upgrade request, for instance).
func (a *Authenticator) SessionToken(ctx context.Context, token, ip string) (*Principal, error) {
	if a.Sessions == nil {
		return nil, ErrNoCredentials
	}
	p, err := a.Sessions.Lookup(ctx, token, ip)
	if errors.Is(err, ErrSessionEnded) {
		return nil, refuse(err, metrics.AuthSession, "")
	}
	return p, err
}

// Require wraps next so that it only runs for authenticated requests, with
// the principal in the request context. Others get 401 with a challenge, or
// 429 when their address failed too often (see Failed).
func (a *Authenticator) Require(next http.Handler) http.Handler {
	return a.require(a.Authenticate, next)
}

// RequireSession is Require for the routes that take a session cookie
// too (AuthenticateSession).
func (a *Authenticator) RequireSession(next http.Handler) http.Handler {
	return a.require(a.AuthenticateSession, next)
}

func (a *Authenticator) require(authenticate func(*http.Request) (*Principal, error), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := authenticate(r)
		if err != nil {
			if !IsAuthError(err) {
				a.log.ErrorContext(r.Context(), "authentication failed", "err", err)
				WriteUnavailable(w, "authentication is unavailable, try again")
				return
			}
			if wait := a.Failed(r.Context(), ClientIP(r), err); wait > 0 {
				WriteThrottled(w, wait)
				return
			}
			if errors.Is(err, ErrSessionEnded) {
				// The browser forgets the cookie, so it is refused once.
				ClearCookie(w, a.SecureCookies)
			}
			if Challenge(r) {
				w.Header().Set("WWW-Authenticate", `Basic realm="`+Realm+`"`)
			}
			WriteError(w, http.StatusUnauthorized, err.Error())
			return
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}

// IsAuthError reports whether err refuses the credentials, rather than
// saying that they could not be checked.
func IsAuthError(err error) bool {
	return errors.Is(err, ErrNoCredentials) || errors.Is(err, ErrBadCredentials) ||
		errors.Is(err, ErrMalformed) || errors.Is(err, ErrDeactivated) || errors.Is(err, ErrSessionEnded)
}

// Challenge reports whether a 401 to r should carry the Basic challenge
// (WWW-Authenticate). It does, except to a browser's script (fetch, an
// XMLHttpRequest: Sec-Fetch-Mode other than navigate) and to a request that
// came with a session cookie: the browser would answer the challenge with
// its own password prompt over the dashboard, which sends the user to its
// sign-in page instead.
func Challenge(r *http.Request) bool {
	if _, err := r.Cookie(CookieName); err == nil && r.Header.Get("Authorization") == "" {
		return false
	}
	mode := r.Header.Get("Sec-Fetch-Mode")
	return mode == "" || mode == "navigate"
}

// WriteError answers with the JSON error body every auditgraph API uses.
func WriteError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(struct {
		Error string `json:"error"`
	}{msg})
}

// unavailableRetry is the Retry-After of a 503 for a database that went
// away, in seconds: about what a PostgreSQL restart takes.
const unavailableRetry = "2"

// WriteUnavailable answers 503 with Retry-After for a request that failed
// because the database could not be reached or went away: trying again
// shortly can succeed.
func WriteUnavailable(w http.ResponseWriter, msg string) {
	w.Header().Set("Retry-After", unavailableRetry)
	WriteError(w, http.StatusServiceUnavailable, msg)
}

// ClientIP returns the address r came from.
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
