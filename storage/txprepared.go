package storage

import (
	"context"
	"database/sql"

	"github.com/jmoiron/sqlx"
)

// The append path's statements run inside the organization's lock, and
// every waiting batch pays for each one: they run as prepared statements as
// well, so PostgreSQL binds and executes them without parsing, analysing and
// planning their text again (appendSQL's nineteen unnested arrays and
// ApplyActivity's rollup statements cost more to plan than to execute for a
// small batch). A statement is prepared on the pool once, in the background
// after its first unprepared run (stmtCache.cached), and, by database/sql,
// on each connection the first time a transaction there runs it; later
// transactions on that connection only bind and execute.

// prepared runs queries in tx as statements prepared on the store's pool
// when it can, unprepared otherwise. Only the append path uses it: most
// transactions run each of their statements once and gain nothing.
type prepared struct{ tx *Tx }

// stmt returns query prepared for tx, or nil (run it unprepared).
func (p prepared) stmt(ctx context.Context, query string) *sqlx.Stmt {
	if p.tx.cache == nil || p.tx.pool == nil {
		return nil
	}
	st := p.tx.cache.cached(p.tx.pool, query)
	if st == nil {
		return nil
	}
	return p.tx.tx.StmtxContext(ctx, st)
}

func (p prepared) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := p.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return p.tx.tx.QueryContext(ctx, query, args...)
}

func (p prepared) QueryxContext(ctx context.Context, query string, args ...any) (*sqlx.Rows, error) {
	if st := p.stmt(ctx, query); st != nil {
		return st.QueryxContext(ctx, args...)
	}
	return p.tx.tx.QueryxContext(ctx, query, args...)
}

func (p prepared) QueryRowxContext(ctx context.Context, query string, args ...any) *sqlx.Row {
	if st := p.stmt(ctx, query); st != nil {
		return st.QueryRowxContext(ctx, args...)
	}
	return p.tx.tx.QueryRowxContext(ctx, query, args...)
}

func (p prepared) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := p.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return p.tx.tx.ExecContext(ctx, query, args...)
}

// hotTx returns the queries of tx that run prepared (see prepared).
func (tx *Tx) hotTx() queries { return queries{q: prepared{tx}} }

func (p prepared) DriverName() string     { return p.tx.tx.DriverName() }
func (p prepared) Rebind(q string) string { return p.tx.tx.Rebind(q) }
func (p prepared) BindNamed(q string, arg any) (string, []any, error) {
	return p.tx.tx.BindNamed(q, arg)
}
