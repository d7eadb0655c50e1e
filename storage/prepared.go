package storage

import (
	"context"
	"database/sql"
	"reflect"
	"sync"

	"github.com/jmoiron/sqlx"
)

// The hot reads (the members page, the events page, the activity panels)
// run as named prepared statements, prepared once per pooled connection and
// then only bound and executed: an unnamed statement, which lib/pq sends
// otherwise, is parsed, analysed and planned by PostgreSQL on every call.
// On the members page that was most of PostgreSQL's CPU per request
// (parse 0.26 ms + bind, which plans, 0.56 ms against 0.57 ms of execution
// in the log of one bench run). PostgreSQL keeps the plan with the
// statement: custom plans for the first five executions, then the generic
// plan when it costs no more (plan_cache_mode). The statements that run
// this way keep every literal that selects a partial index in their text, so
// a generic plan can use the same indexes as a custom one.
//
// Statements are prepared by database/sql (sql.Stmt): on the connection
// that first runs one, and again on each other connection of the pool when
// it first runs there, and forgotten with their connection.

// maxPrepared bounds the statements a Store keeps prepared: the hot reads
// build their text from the filters asked for (the events page writes the
// actions asked for into its text, so that a generic plan still picks the
// partial indexes), a large set. Past the bound, a statement prepared
// earlier is closed to make room.
const maxPrepared = 256

// stmtCache holds the prepared statements of one Store (its primary's pool
// and its standby's, if any).
type stmtCache struct {
	mu sync.Mutex
	m  map[stmtKey]*sqlx.Stmt
	// preparing holds the statements being prepared in the background
	// (cached).
	preparing map[stmtKey]bool
}

type stmtKey struct {
	db    *sqlx.DB
	query string
}

func newStmtCache() *stmtCache {
	return &stmtCache{m: map[stmtKey]*sqlx.Stmt{}, preparing: map[stmtKey]bool{}}
}

// cached returns query prepared on db if it is already, or nil; then it
// prepares it in the background for the next caller. A transaction uses it:
// preparing on the pool needs another of its connections, and a transaction
// that waited for one while holding its own could wait for ever when every
// connection is held by such a transaction.
func (c *stmtCache) cached(db *sqlx.DB, query string) *sqlx.Stmt {
	k := stmtKey{db, query}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[k]; ok {
		return st
	}
	if !c.preparing[k] {
		c.preparing[k] = true
		go func() {
			c.stmt(context.Background(), db, query)
			c.mu.Lock()
			delete(c.preparing, k)
			c.mu.Unlock()
		}()
	}
	return nil
}

// stmt returns query prepared on db, or nil when preparing failed (the
// unprepared run then reports the error, if it persists).
func (c *stmtCache) stmt(ctx context.Context, db *sqlx.DB, query string) *sqlx.Stmt {
	k := stmtKey{db, query}
	c.mu.Lock()
	st, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return st
	}
	st, err := db.PreparexContext(ctx, query)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if have, ok := c.m[k]; ok {
		// Another request prepared it meanwhile.
		st.Close()
		return have
	}
	if len(c.m) >= maxPrepared {
		// Any one: a hot statement closed here is prepared again on its
		// next run. database/sql closes it once its running queries end.
		for old, ost := range c.m {
			ost.Close()
			delete(c.m, old)
			break
		}
	}
	c.m[k] = st
	return st
}

// close closes every statement (before the pools close).
func (c *stmtCache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, st := range c.m {
		st.Close()
		delete(c.m, k)
	}
}

// hotQueryer runs queries as statements prepared on db when it can.
type hotQueryer struct {
	db    *sqlx.DB
	cache *stmtCache
}

func (h hotQueryer) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := h.cache.stmt(ctx, h.db, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return h.db.QueryContext(ctx, query, args...)
}

func (h hotQueryer) QueryxContext(ctx context.Context, query string, args ...any) (*sqlx.Rows, error) {
	if st := h.cache.stmt(ctx, h.db, query); st != nil {
		return st.QueryxContext(ctx, args...)
	}
	return h.db.QueryxContext(ctx, query, args...)
}

func (h hotQueryer) QueryRowxContext(ctx context.Context, query string, args ...any) *sqlx.Row {
	if st := h.cache.stmt(ctx, h.db, query); st != nil {
		return st.QueryRowxContext(ctx, args...)
	}
	return h.db.QueryRowxContext(ctx, query, args...)
}

// hot runs fn, a read, with a queryer that prepares its statements when q
// reads through a pool (not in a transaction), on the standby when the
// context allows it as q.sel and q.get do. reset undoes what a failed try
// on the standby left behind, when not nil.
func (q queries) hot(ctx context.Context, reset func(), fn func(sqlx.QueryerContext) error) error {
	wrap := func(db sqlx.QueryerContext) sqlx.QueryerContext {
		if d, ok := db.(*sqlx.DB); ok && q.stmts != nil {
			return hotQueryer{db: d, cache: q.stmts}
		}
		return db
	}
	if r, ok := q.q.(*routed); ok {
		return r.read(ctx, reset, func(db sqlx.QueryerContext) error { return fn(wrap(db)) })
	}
	return fn(wrap(q.q))
}

// selHot is sel through a prepared statement (see hot).
func (q queries) selHot(ctx context.Context, dest any, query string, args ...any) error {
	reset := func() {
		v := reflect.ValueOf(dest).Elem()
		v.Set(reflect.Zero(v.Type()))
	}
	return q.hot(ctx, reset, func(db sqlx.QueryerContext) error { return sqlx.SelectContext(ctx, db, dest, query, args...) })
}

// getHot is get through a prepared statement (see hot).
func (q queries) getHot(ctx context.Context, dest any, query string, args ...any) error {
	return q.hot(ctx, nil, func(db sqlx.QueryerContext) error { return sqlx.GetContext(ctx, db, dest, query, args...) })
}
