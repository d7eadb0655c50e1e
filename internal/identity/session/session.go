// Package session keeps the browser's sign-in sessions: a user signs in
// with their username and an API key (the only credential the server has)
// and gets a cookie holding a random 256-bit token, of which only the
// SHA-256 is stored. A session ends when it is not used for the idle
// timeout, at the end of its lifetime, on sign-out, when its user is
// deactivated or when the API key it was opened with is deleted (the last
// two in the database, at once: see migration 0011). Opening and ending one
// records user:login and user:logout through identity, in the same
// transaction.
package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/identity"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/platform/fault"
	"github.com/auditgraph/auditgraph/storage"
)

// Defaults of --session-idle-timeout and --session-lifetime.
const (
	DefaultIdleTimeout = 12 * time.Hour
	DefaultLifetime    = 7 * 24 * time.Hour
)

// touchEvery is how stale a session's last use may get before a request
// records it again: requests in a burst (a page's queries) write once.
const touchEvery = time.Minute

// MaxPerUser is how many sessions one user may hold: a sign-in beyond it
// ends the user's oldest sessions, so that a script signing in in a loop
// cannot grow the table without bound.
const MaxPerUser = 50

// tokenBytes is the randomness in a token: 256 bits, written as 43
// characters of unpadded base64url.
const tokenBytes = 32

// TokenLen is the length of a token as the cookie carries it.
var TokenLen = base64.RawURLEncoding.EncodedLen(tokenBytes)

// Config says how long sessions last and what the clock is.
type Config struct {
	// IdleTimeout ends a session not used for this long (0: DefaultIdleTimeout).
	IdleTimeout time.Duration
	// Lifetime ends a session this long after sign-in, used or not
	// (0: DefaultLifetime).
	Lifetime time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	Log *slog.Logger
	// Cache, when set, answers Lookup from memory for a short time (see
	// auth.Cache): a session's deletion, or its user's deactivation, is
	// announced to every server and forgotten at once.
	Cache *auth.Cache
}

// Service opens, looks up and ends sessions.
type Service struct {
	store          *storage.Store
	ids            *identity.Service
	idle, lifetime time.Duration
	now            func() time.Time
	log            *slog.Logger
	cache          *auth.Table[[32]byte, liveSession]
}

// liveSession is a session with its user, as Lookup keeps it.
type liveSession struct {
	sess storage.Session
	user entity.User
}

var _ auth.Sessions = (*Service)(nil)

// New returns a Service over store, recording its events through ids.
func New(store *storage.Store, ids *identity.Service, cfg Config) *Service {
	s := &Service{store: store, ids: ids, idle: cfg.IdleTimeout, lifetime: cfg.Lifetime, now: cfg.Now, log: cfg.Log,
		cache: auth.NewTable[[32]byte, liveSession](cfg.Cache)}
	if s.idle <= 0 {
		s.idle = DefaultIdleTimeout
	}
	if s.lifetime <= 0 {
		s.lifetime = DefaultLifetime
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// NewToken returns a new random token and its hash.
func NewToken() (token string, hash []byte) {
	b := make([]byte, tokenBytes)
	rand.Read(b) // never fails on Linux; panics rather than return weak bytes
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, Hash(token)
}

// Hash returns the stored form of token.
func Hash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// wellFormed reports whether token can be one NewToken made, so that
// anything else is refused without a query.
func wellFormed(token string) bool {
	if len(token) != TokenLen {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(token)
	return err == nil && len(b) == tokenBytes
}

// deadline is when sess ends unless it is used before.
func (s *Service) deadline(sess storage.Session) time.Time {
	idle := sess.LastSeenAt.Add(s.idle)
	if idle.Before(sess.ExpiresAt) {
		return idle
	}
	return sess.ExpiresAt
}

func (s *Service) principal(u entity.User, sess storage.Session, ip string) *auth.Principal {
	return &auth.Principal{User: u, KeyID: sess.APIKeyID, IP: ip,
		Session: &auth.Session{ID: sess.ID, ExpiresAt: s.deadline(sess).UTC()}}
}

// Open opens a session for p, who has just authenticated with their
// username and the API key p.KeyID, and records user:login. It returns the
// token for the cookie (shown this once; only its hash is kept) and the
// principal of the new session. Sessions past their end are deleted on the
// way, and the user's oldest beyond MaxPerUser.
func (s *Service) Open(ctx context.Context, p *auth.Principal) (string, *auth.Principal, error) {
	now := s.now().UTC()
	token, hash := NewToken()
	var sess storage.Session
	err := s.ids.SessionChange(ctx, p, audit.UserLogin, func(tx *storage.Tx) error {
		if _, err := tx.DeleteExpiredSessions(ctx, now, now.Add(-s.idle)); err != nil {
			return err
		}
		var err error
		if sess, err = tx.CreateSession(ctx, hash, p.User.ID, p.KeyID, now, now.Add(s.lifetime)); err != nil {
			return err
		}
		_, err = tx.TrimUserSessions(ctx, p.User.ID, MaxPerUser)
		return err
	})
	if err != nil {
		return "", nil, err
	}
	return token, s.principal(p.User, sess, p.IP), nil
}

// Lookup returns the principal of the live session whose cookie holds
// token, recording the use, or auth.ErrSessionEnded when there is none: no
// such session, past its idle timeout or lifetime (then deleted), or its
// user deactivated.
func (s *Service) Lookup(ctx context.Context, token, ip string) (*auth.Principal, error) {
	var key [32]byte
	if wellFormed(token) {
		key = sha256.Sum256([]byte(token))
		// Kept answers serve while the session needs no write: not ended
		// (by the clock), its last use recorded less than touchEvery ago.
		if c, ok := s.cache.Get(key); ok {
			if now := s.now().UTC(); now.Sub(c.sess.LastSeenAt) < touchEvery && now.Before(s.deadline(c.sess)) {
				return s.principal(c.user, c.sess, ip), nil
			}
		}
	}
	tk := s.cache.Ticket()
	sess, u, err := s.live(ctx, token)
	if err != nil {
		return nil, err
	}
	if now := s.now().UTC(); now.Sub(sess.LastSeenAt) >= touchEvery {
		if err := s.store.TouchSession(ctx, sess.ID, now); err != nil {
			return nil, err
		}
		sess.LastSeenAt = now
	}
	s.cache.Put(tk, key, u.ID, liveSession{sess: sess, user: u})
	return s.principal(u, sess, ip), nil
}

// live returns the live session of token and its user.
func (s *Service) live(ctx context.Context, token string) (storage.Session, entity.User, error) {
	if !wellFormed(token) {
		return storage.Session{}, entity.User{}, auth.ErrSessionEnded
	}
	sess, u, err := s.store.SessionByHash(ctx, Hash(token))
	if errors.Is(err, fault.ErrNotFound) {
		return sess, u, auth.ErrSessionEnded
	}
	if err != nil {
		return sess, u, err
	}
	if u.Deactivated() || !s.now().Before(s.deadline(sess)) {
		// Ended: gone for good, whatever happens to the user later.
		if err := s.store.DeleteSessionByID(ctx, sess.ID); err != nil {
			s.log.WarnContext(ctx, "deleting an ended session failed", "err", err)
		}
		return sess, u, auth.ErrSessionEnded
	}
	return sess, u, nil
}

// End ends the session whose cookie holds token (sign-out) and records
// user:logout, reporting whether there was a live session to end.
func (s *Service) End(ctx context.Context, token, ip string) (bool, error) {
	sess, u, err := s.live(ctx, token)
	if errors.Is(err, auth.ErrSessionEnded) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	p := s.principal(u, sess, ip)
	gone := false
	err = s.ids.SessionChange(ctx, p, audit.UserLogout, func(tx *storage.Tx) error {
		_, err := tx.DeleteSession(ctx, Hash(token))
		if errors.Is(err, fault.ErrNotFound) {
			gone = true // ended meanwhile (another sign-out): nothing to record
		}
		return err
	})
	if gone {
		return false, nil
	}
	return err == nil, err
}

// Revoked returns, of the sessions with ids, those that ended: gone, or
// past their lifetime. (A WebSocket does not touch its session, so an open
// one is not ended by the idle timeout.)
func (s *Service) Revoked(ctx context.Context, ids []int64) (map[int64]bool, error) {
	return s.store.RevokedSessions(ctx, ids, s.now())
}
