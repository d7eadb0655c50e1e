package storage

import (
	"context"
	"time"
)

// LockLogSQL is the lock statement (with the member lookup and the client
// ids' claim), for its plan test.
var LockLogSQL = lockLogSQL

// UnnestMax is the largest batch AppendEvents inserts from arrays.
const UnnestMax = unnestMax

// PreparedHere counts the statements prepared on tx's connection whose
// text contains part (pg_prepared_statements is per connection).
func (tx *Tx) PreparedHere(ctx context.Context, part string) (int, error) {
	var n int
	err := tx.tx.GetContext(ctx, &n, `SELECT count(*) FROM pg_prepared_statements WHERE strpos(statement, $1) > 0`, part)
	return n, err
}

// WaitBackgroundPrepares waits until no statement is being prepared in the
// background (stmtCache.cached). A test that drops tables waits first: a
// PREPARE takes its tables' locks one by one, in the order the statement
// names them, and a DROP of several of them meanwhile can deadlock with it.
func (s *Store) WaitBackgroundPrepares() {
	for {
		s.stmts.mu.Lock()
		n := len(s.stmts.preparing)
		s.stmts.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(time.Millisecond)
	}
}
