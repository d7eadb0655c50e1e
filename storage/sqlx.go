package storage

import (
	"context"
	"database/sql"

	"github.com/jmoiron/sqlx"
)

func (q queries) get(ctx context.Context, dest any, query string, args ...any) error {
	if r, ok := q.q.(*routed); ok {
		return r.get(ctx, dest, query, args...)
	}
	return sqlx.GetContext(ctx, q.q, dest, query, args...)
}

func (q queries) sel(ctx context.Context, dest any, query string, args ...any) error {
	if r, ok := q.q.(*routed); ok {
		return r.sel(ctx, dest, query, args...)
	}
	return sqlx.SelectContext(ctx, q.q, dest, query, args...)
}

// exec runs a statement and returns how many rows it changed.
func (q queries) exec(ctx context.Context, query string, args ...any) (int64, error) {
	var res sql.Result
	res, err := q.q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
