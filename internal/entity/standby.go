package entity

import "context"

type standbyKey struct{}

// ReadStandby returns ctx marked as allowed to read from the read-only
// standby (`serve --read-database-url`), when one is configured. A service
// marks a read with it after the caller's rights were checked on the
// primary, for work that may see the log a moment behind: exports, pages of
// a past window, the activity panels, the users list, verification. Storage
// still reads the primary when the standby is down or lags, and for what a
// read must not miss (see storage/standby.go).
func ReadStandby(ctx context.Context) context.Context {
	return context.WithValue(ctx, standbyKey{}, true)
}

// StandbyAllowed reports whether ctx was marked with ReadStandby.
func StandbyAllowed(ctx context.Context) bool {
	ok, _ := ctx.Value(standbyKey{}).(bool)
	return ok
}
