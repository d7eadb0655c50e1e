package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lib/pq"
)

// ChangedChannel is the PostgreSQL NOTIFY channel on which every change
// that can take away or alter a user's access is announced when its
// transaction commits (storage/migrations/0013_auth_notify.sql's triggers):
// the payload is the user's id, or "*" when the change may concern anyone
// (an organization renamed or deleted).
const ChangedChannel = "auth_changed"

// DefaultCacheTTL is how long a Cache keeps an answer: a bound on how stale
// an answer can be even if a notification were lost unnoticed.
const DefaultCacheTTL = 5 * time.Second

// maxEntries bounds each table; a full table is emptied.
const maxEntries = 20000

// Cache answers authentication (an API key's hash or a session token's →
// the principal) and the reads that decide a caller's rights (an
// organization by name with the caller's membership) from memory for up to
// its TTL, so that a request does not begin with round trips to the
// database. Every replica's Cache listens on ChangedChannel and forgets a
// user's answers the moment the notification of a change arrives (a key
// deleted, the user deactivated or removed, a session ended, a membership
// changed); while it is not listening (before Run connects, after the
// connection drops until it is back) it answers nothing, so a change can
// never be missed. An answer read from the database while a change was
// being announced is not kept (the generation check in Put).
//
// A nil *Cache is valid and keeps nothing.
type Cache struct {
	ttl time.Duration
	now func() time.Time
	log *slog.Logger

	mu     sync.Mutex
	gen    uint64 // counts invalidations
	live   bool   // listening: answers may be kept and given
	tables []interface{ drop(user int64) }
	// notified, when set (tests), is told of each notification handled.
	notified func(payload string)
	// echoes are the Echo payloads waited for, and the channel closed
	// when each is heard.
	echoes map[string]chan struct{}
	echoN  uint64
}

// NewCache returns a cache keeping answers for ttl (0: DefaultCacheTTL). It
// keeps nothing until Run listens, or Live(true) is called (tests).
func NewCache(ttl time.Duration, log *slog.Logger) *Cache {
	if ttl <= 0 {
		ttl = DefaultCacheTTL
	}
	return &Cache{ttl: ttl, now: time.Now, log: log}
}

// Table is one kind of cached answer, by key K; each answer belongs to a
// user, whose changes drop it.
type Table[K comparable, V any] struct {
	c *Cache
	m map[K]cached[V]
}

type cached[V any] struct {
	v     V
	user  int64
	until time.Time
}

// NewTable returns a table of c (nil when c is nil: it keeps nothing).
func NewTable[K comparable, V any](c *Cache) *Table[K, V] {
	if c == nil {
		return nil
	}
	t := &Table[K, V]{c: c, m: map[K]cached[V]{}}
	c.mu.Lock()
	c.tables = append(c.tables, t)
	c.mu.Unlock()
	return t
}

// Get returns the answer kept for k, if one is and the cache is listening.
func (t *Table[K, V]) Get(k K) (V, bool) {
	var zero V
	if t == nil {
		return zero, false
	}
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	e, ok := t.m[k]
	if !ok || !t.c.live {
		return zero, false
	}
	if !t.c.now().Before(e.until) {
		delete(t.m, k)
		return zero, false
	}
	return e.v, true
}

// Ticket is taken before reading an answer from the database, and given
// back to Put with it.
type Ticket struct {
	gen  uint64
	live bool
}

// Ticket returns the ticket for a read starting now.
func (t *Table[K, V]) Ticket() Ticket {
	if t == nil {
		return Ticket{}
	}
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	return Ticket{gen: t.c.gen, live: t.c.live}
}

// Put keeps v, user's answer for k read after tk was taken, unless a change
// was announced since (the answer may predate it) or the cache was not
// listening.
func (t *Table[K, V]) Put(tk Ticket, k K, user int64, v V) {
	if t == nil || !tk.live {
		return
	}
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.c.gen != tk.gen || !t.c.live {
		return
	}
	if len(t.m) >= maxEntries {
		clear(t.m)
	}
	t.m[k] = cached[V]{v: v, user: user, until: t.c.now().Add(t.c.ttl)}
}

// Delete forgets the answer for k (a caller saw it go stale).
func (t *Table[K, V]) Delete(k K) {
	if t == nil {
		return
	}
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	delete(t.m, k)
}

func (t *Table[K, V]) drop(user int64) {
	if user < 0 {
		clear(t.m)
		return
	}
	for k, e := range t.m {
		if e.user == user {
			delete(t.m, k)
		}
	}
}

// Forget drops user's answers (every answer when user is negative) and
// makes the answers being read now not kept. The caller holds no lock.
func (c *Cache) Forget(user int64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forget(user)
}

func (c *Cache) forget(user int64) {
	c.gen++
	for _, t := range c.tables {
		t.drop(user)
	}
}

// Live sets whether the cache is listening; not listening empties it. Run
// calls it; tests without a listener call Live(true) to keep answers.
func (c *Cache) Live(live bool) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forget(-1)
	c.live = live
	if !live {
		// Nothing will be heard: the changes waiting for their echo go on.
		for _, heard := range c.echoes {
			close(heard)
		}
		clear(c.echoes)
	}
}

// Listening reports whether the cache keeps and gives answers.
func (c *Cache) Listening() bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.live
}

// echoPrefix starts the payload of a notification that only marks a
// change's commit (Echo).
const echoPrefix = "echo:"

// echoWait bounds how long a change waits to hear its own echo.
const echoWait = time.Second

// Echo returns a payload for the change about to be made to announce on
// ChangedChannel, last, in its transaction, and the function that waits
// (at most a second) until this server's listener has heard it. PostgreSQL
// delivers a transaction's notifications together, in commit order, to
// every listener at once: once this server has heard the echo, every
// replica has been sent the change's notifications, and a request answered
// after wait returns has them on their way everywhere. wait(false) only
// forgets the echo (the change failed). ok is false when the cache is not
// listening (nothing to announce or wait for).
func (c *Cache) Echo() (payload string, wait func(committed bool), ok bool) {
	if c == nil {
		return "", nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live {
		return "", nil, false
	}
	if c.echoes == nil {
		c.echoes = map[string]chan struct{}{}
	}
	c.echoN++
	payload = echoPrefix + strconv.FormatUint(c.echoN, 10) + "-" + strconv.FormatInt(c.now().UnixNano(), 36)
	heard := make(chan struct{})
	c.echoes[payload] = heard
	return payload, func(committed bool) {
		if committed {
			t := time.NewTimer(echoWait)
			defer t.Stop()
			select {
			case <-heard:
			case <-t.C:
			}
		}
		c.mu.Lock()
		delete(c.echoes, payload)
		c.mu.Unlock()
	}, true
}

// handle applies a notification's payload.
func (c *Cache) handle(payload string) {
	if strings.HasPrefix(payload, echoPrefix) {
		c.mu.Lock()
		if heard, ok := c.echoes[payload]; ok {
			close(heard)
			delete(c.echoes, payload)
		}
		c.mu.Unlock()
		return
	}
	user, err := strconv.ParseInt(payload, 10, 64)
	if err != nil || user <= 0 {
		user = -1 // "*", or anything unexpected: forget everything
	}
	c.Forget(user)
	c.mu.Lock()
	f := c.notified
	c.mu.Unlock()
	if f != nil {
		f(payload)
	}
}

// OnNotified sets a function told of each notification handled (tests).
func (c *Cache) OnNotified(f func(payload string)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.notified = f
}

// pingEvery is how often the listener checks its connection, so that a
// connection lost silently stops the cache's answers soon.
const pingEvery = 5 * time.Second

// Run listens on ChangedChannel over a connection of its own to the
// database at url, and keeps the cache live while it listens, until ctx
// ends (it returns nil then). A lost connection turns the cache off (and
// empties it) until it is re-established.
func (c *Cache) Run(ctx context.Context, url string) error {
	l := pq.NewListener(url, 100*time.Millisecond, 5*time.Second, func(ev pq.ListenerEventType, err error) {
		switch ev {
		case pq.ListenerEventDisconnected:
			c.Live(false)
			c.log.Warn("auth cache: listener lost its connection; answering from the database until it is back", "err", err)
		case pq.ListenerEventReconnected:
			// The listener LISTENs again before it reports this.
			c.Live(true)
			c.log.Info("auth cache: listener reconnected")
		case pq.ListenerEventConnectionAttemptFailed:
			c.log.Warn("auth cache: listener cannot connect, retrying", "err", err)
		}
	})
	defer l.Close()
	defer c.Live(false)
	if err := l.Listen(ChangedChannel); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("auth cache: listen on %s: %w", ChangedChannel, err)
	}
	if l.Ping() == nil {
		c.Live(true)
	}
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ping.C:
			go l.Ping() // not from the loop: its answer may queue behind notifications
		case n, ok := <-l.Notify:
			switch {
			case !ok:
				return errors.New("auth cache: listener closed")
			case n == nil:
				c.Forget(-1) // reconnected: what was announced meanwhile is lost
			default:
				c.handle(n.Extra)
			}
		}
	}
}
