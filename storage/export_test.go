package storage

// LockLogSQL is the lock statement (with the member lookup and the client
// ids' claim), for its plan test.
var LockLogSQL = lockLogSQL

// UnnestMax is the largest batch AppendEvents inserts from arrays.
const UnnestMax = unnestMax
