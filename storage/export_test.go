package storage

// LockLogSQL is the lock statement (with the member lookup), for its plan test.
var LockLogSQL = lockLogSQL

// UnnestMax is the largest batch AppendEvents inserts from arrays.
const UnnestMax = unnestMax
