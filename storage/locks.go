package storage

// Lock is a PostgreSQL advisory-lock key. Every key the server takes is
// named here, so that two jobs can never share one by accident: a job that
// found its key held by an unrelated job would silently skip its turn.
type Lock int64

// The one-key advisory locks (pg_advisory_lock(bigint) and its variants).
const (
	// LockMigrate serializes migrations between processes (session lock).
	LockMigrate Lock = 7_270_001
	// LockBootstrap serializes first-start initialisation (transaction lock).
	LockBootstrap Lock = 7_270_002
	// LockCheckpointJob elects the process that runs the periodic
	// checkpoint job (transaction lock).
	LockCheckpointJob Lock = 7_270_007
	// LockBucketSync elects the process that exports to the bucket
	// (session lock, held for a whole sync).
	LockBucketSync Lock = 7_270_008
)

// lockCheckpointsClass is the first key of the two-key lock
// pg_advisory_xact_lock(class, hashint8(org_id)) that serializes one
// organization's checkpoints. Two-key locks live in a key space of their own,
// apart from the one-key locks above.
const lockCheckpointsClass = 7_270_006

// Locks lists every one-key lock, for the test that keeps them distinct.
// The migrations take two more, keyed by hashtext() of a function name
// (audit_events_ensure_partition, audit_events_expire).
var Locks = []Lock{LockMigrate, LockBootstrap, LockCheckpointJob, LockBucketSync}
