// Package fault keeps apart what a client is told about a failure and what
// the log is told. A service returns an *Error: its kind (the sentinel it
// matches with errors.Is, such as access.ErrForbidden or ErrNotFound)
// and a message written for the client; the internal cause, wrapped inside,
// goes to the log only. Transports (GraphQL, REST) pick the status from the
// kind and show the public message, or the kind's own text when an error
// carries none.
package fault

import (
	"errors"
	"fmt"

	"github.com/auditgraph/auditgraph/internal/entity"
)

// The kinds of failure every service shares. They are the entity package's
// values, which storage returns wrapped, so that a service passes a
// storage error on with its kind intact and the transports, which never
// import storage, translate it by these names.
var (
	// ErrNotFound: the thing asked for does not exist.
	ErrNotFound = entity.ErrNotFound
	// ErrConflict: a unique name or key is already taken.
	ErrConflict = entity.ErrConflict
	// ErrInvalid: the database refused a value its checks do not allow.
	ErrInvalid = entity.ErrInvalid
	// ErrBadCursor: a pagination cursor was not issued for this query.
	ErrBadCursor = entity.ErrBadCursor
)

// Error is a failure of a known kind with a message for the client.
type Error struct {
	kind   error
	public string
	cause  error
}

// New returns an error of kind whose public message is the kind's text
// followed by the formatted detail ("forbidden: alice is not an admin …").
func New(kind error, format string, args ...any) *Error {
	return &Error{kind: kind, public: kind.Error() + ": " + fmt.Sprintf(format, args...)}
}

// Wrap is New with an internal cause, which the log shows and the client
// does not.
func Wrap(kind, cause error, format string, args ...any) *Error {
	e := New(kind, format, args...)
	e.cause = cause
	return e
}

// Error returns the public message, followed by the internal cause if any.
func (e *Error) Error() string {
	if e.cause != nil {
		return e.public + ": " + e.cause.Error()
	}
	return e.public
}

// Unwrap returns the kind and the cause, so that errors.Is matches either.
func (e *Error) Unwrap() []error {
	if e.cause != nil {
		return []error{e.kind, e.cause}
	}
	return []error{e.kind}
}

// Public returns the message for the client of the outermost *Error in
// err's chain, and whether there is one.
func Public(err error) (string, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.public, true
	}
	return "", false
}

// Message returns what a client is told about err, known to be of kind: the
// public message of its *Error, or else the kind's own text. It never
// returns the wrap chain.
func Message(err, kind error) string {
	if m, ok := Public(err); ok {
		return m
	}
	return kind.Error()
}
