package server

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/auditgraph/auditgraph/internal/identity/auth"
)

// revalidateEvery is how often the credentials of open WebSocket
// connections are checked again: a connection whose user was deactivated,
// or whose key was deleted, is closed with 4403 within about this long.
const revalidateEvery = 2 * time.Second

// Revocations tells which API keys no longer authenticate, and why;
// *storage.Store implements it.
type Revocations interface {
	RevokedKeys(ctx context.Context, ids []int64) (map[int64]string, error)
}

// EndedSessions tells which sign-in sessions ended (signed out, expired);
// *session.Service implements it.
type EndedSessions interface {
	Revoked(ctx context.Context, ids []int64) (map[int64]bool, error)
}

// sessionEnded is why a connection opened with a session cookie closes
// when the session ends.
const sessionEnded = "session ended"

// sessions are the open WebSocket connections by API key (and sign-in
// session, for those opened with the dashboard's cookie). While any is
// open, one goroutine checks all their keys (and sessions) in one query
// each every interval and ends the connections of revoked ones.
type sessions struct {
	keys  Revocations
	ended EndedSessions
	every time.Duration
	log   *slog.Logger

	mu      sync.Mutex
	open    map[*wsConn]struct{}
	running bool
}

// wsConn is an open connection: the key it authenticated with, its
// sign-in session (0: none) and how to close it.
type wsConn struct {
	keyID, sessionID int64
	end              func(reason string)
}

func newSessions(keys Revocations, ended EndedSessions, every time.Duration, log *slog.Logger) *sessions {
	return &sessions{keys: keys, ended: ended, every: every, log: log, open: map[*wsConn]struct{}{}}
}

// add registers a connection authenticated with keyID (and sessionID, or
// 0); end closes it with the reason. It returns the function that
// unregisters it.
func (s *sessions) add(keyID, sessionID int64, end func(reason string)) (remove func()) {
	ss := &wsConn{keyID: keyID, sessionID: sessionID, end: end}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.open[ss] = struct{}{}
	if !s.running {
		s.running = true
		go s.watch()
	}
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.open, ss)
	}
}

// watch checks the open connections' keys every interval, and returns
// once none is open.
func (s *sessions) watch() {
	t := time.NewTicker(s.every)
	defer t.Stop()
	for range t.C {
		s.mu.Lock()
		if len(s.open) == 0 {
			s.running = false
			s.mu.Unlock()
			return
		}
		seen, seenSession := map[int64]bool{}, map[int64]bool{}
		var ids, sessionIDs []int64
		for ss := range s.open {
			if !seen[ss.keyID] {
				seen[ss.keyID] = true
				ids = append(ids, ss.keyID)
			}
			if ss.sessionID != 0 && !seenSession[ss.sessionID] {
				seenSession[ss.sessionID] = true
				sessionIDs = append(sessionIDs, ss.sessionID)
			}
		}
		s.mu.Unlock()
		s.check(ids, sessionIDs)
	}
}

func (s *sessions) check(ids, sessionIDs []int64) {
	ctx, cancel := context.WithTimeout(context.Background(), s.every)
	defer cancel()
	revoked, err := s.keys.RevokedKeys(ctx, ids)
	if err != nil {
		// The next round tries again; a database outage does not end
		// subscriptions by itself.
		s.log.Warn("checking the credentials of open WebSocket connections failed", "err", err)
		return
	}
	var ended map[int64]bool
	if len(sessionIDs) > 0 && s.ended != nil {
		if ended, err = s.ended.Revoked(ctx, sessionIDs); err != nil {
			s.log.Warn("checking the sessions of open WebSocket connections failed", "err", err)
			return
		}
	}
	if len(revoked) == 0 && len(ended) == 0 {
		return
	}
	s.mu.Lock()
	var ending []func()
	for ss := range s.open {
		if why, ok := revoked[ss.keyID]; ok {
			delete(s.open, ss)
			ending = append(ending, func() { ss.end("Forbidden: " + why) })
		} else if ended[ss.sessionID] {
			delete(s.open, ss)
			ending = append(ending, func() { ss.end("Forbidden: " + sessionEnded) })
		}
	}
	s.mu.Unlock()
	for _, end := range ending {
		end()
	}
}

// connSlotKey carries a *connSlot in an upgrade request's context.
type connSlotKey struct{}

// connSlot is where closableWebsocket leaves the connection it accepted,
// so that the connection can be closed with a code of our choosing (gqlgen
// closes with 1000 when a connection's context ends).
type connSlot struct {
	mu   sync.Mutex
	conn transport.WebsocketConn
}

// close closes the connection with code and reason; later closes by
// gqlgen do nothing more.
func (s *connSlot) close(code int, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		s.conn.WriteClose(code, reason)
	}
}

// closableWebsocket is gqlgen's default WebSocket implementation (which
// refuses cross-origin upgrades), leaving each accepted connection in the
// request's connSlot.
type closableWebsocket struct {
	transport.CoderWebsocketImplementation
}

func (c closableWebsocket) Accept(w http.ResponseWriter, r *http.Request, o transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	conn, err := c.CoderWebsocketImplementation.Accept(w, r, o)
	if slot, ok := r.Context().Value(connSlotKey{}).(*connSlot); ok && err == nil {
		slot.mu.Lock()
		slot.conn = conn
		slot.mu.Unlock()
	}
	return conn, err
}

// endWhenRevoked registers a connection authenticated as p with ss, and
// returns its context: cancelled, after the connection was closed with
// 4403 and the reason, when p's key no longer authenticates (or p's
// sign-in session ended).
func endWhenRevoked(ctx context.Context, ss *sessions, p *auth.Principal) context.Context {
	keyID, sessionID := p.KeyID, int64(0)
	if p.Session != nil {
		sessionID = p.Session.ID
	}
	slot, _ := ctx.Value(connSlotKey{}).(*connSlot)
	if ss == nil || slot == nil {
		return ctx
	}
	ctx, cancel := context.WithCancel(ctx)
	end := func(reason string) {
		slot.close(closeForbidden, reason)
		cancel()
	}
	remove := ss.add(keyID, sessionID, end)
	context.AfterFunc(ctx, remove)
	// Checked at once when an event may have revoked the key, rather
	// than at the next round.
	return auth.WithRecheck(ctx, func(ctx context.Context) bool {
		revoked, err := ss.keys.RevokedKeys(ctx, []int64{keyID})
		why, gone := revoked[keyID]
		if err == nil && !gone && sessionID != 0 && ss.ended != nil {
			var ended map[int64]bool
			ended, err = ss.ended.Revoked(ctx, []int64{sessionID})
			why, gone = sessionEnded, ended[sessionID]
		}
		if err != nil || !gone {
			return true // on an error, the next round checks again
		}
		remove()
		end("Forbidden: " + why)
		return false
	})
}
