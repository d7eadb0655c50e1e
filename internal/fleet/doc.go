// Package fleet holds the fleet test: auditgraph past one PostgreSQL. It
// starts a primary, a real streaming standby of it (pg_basebackup -R, with
// the PostgreSQL binaries the other tests use; pgembed.StartStandby) and two
// auditgraph servers over them, each with its own pools and live hub and
// --read-database-url pointing at the standby: events are reported through
// one and read through the other, while the standby is paused
// (pg_wal_replay_pause) and after it is stopped. See fleet_test.go.
package fleet
