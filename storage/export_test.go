package storage

import "context"

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
