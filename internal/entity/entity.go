// Package entity holds the rows that the domain services, the GraphQL
// resolvers and the HTTP server pass between them (organizations, users,
// memberships, teams, API keys, alert rules, integrations, configuration
// changes, alert deliveries) and the kinds of failure of reading and
// writing them. It is plain data: it imports nothing of the module, so that
// storage, which reads and writes these rows, and the layers above it can
// all use it without depending on each other (tools/layering tests it). The
// `db` tags name the columns storage scans into the fields.
package entity

import "errors"

// The kinds of failure of a read or a write, which storage returns wrapped
// (errors.Is matches them) and the domain passes on as its own error kinds
// (fault.ErrNotFound and the others are these values).
var (
	// ErrNotFound means no row has the key asked for.
	ErrNotFound = errors.New("not found")
	// ErrConflict means a unique name or key is already taken.
	ErrConflict = errors.New("already exists")
	// ErrInvalid means the database refused a value its checks do not allow.
	ErrInvalid = errors.New("invalid value")
	// ErrBadCursor means a pagination cursor was not issued for this query.
	ErrBadCursor = errors.New("cursor is not valid for this query")
)
