package storage

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/lib/pq"
)

// Unavailable reports whether err says that PostgreSQL could not be reached,
// or went away while it worked (the connection refused, reset or cut short;
// the server shutting down, crashing or still starting), rather than that it
// refused the work: the same work can succeed once it is back. A transaction
// that failed so was not committed, unless the failure came while the commit
// itself was under way; then it may have been, so only work that is safe to
// repeat (ingest with client ids) should be repeated blindly.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var pe *pq.Error
	if errors.As(err, &pe) {
		switch pe.Code {
		case "57P01", "57P02", "57P03": // admin_shutdown, crash_shutdown, cannot_connect_now
			return true
		}
		// Class 08: connection exceptions.
		return pe.Code.Class() == "08"
	}
	var ne *net.OpError
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ne) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE)
}
