package storage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/lib/pq"
)

func TestUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"bad connection", fmt.Errorf("storage: ingest: copy: %w", driver.ErrBadConn), true},
		{"connection done", sql.ErrConnDone, true},
		{"cut short", io.ErrUnexpectedEOF, true},
		{"reset", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, true},
		{"refused", fmt.Errorf("storage: connect: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), true},
		{"admin shutdown", &pq.Error{Code: "57P01"}, true},
		{"crash shutdown", &pq.Error{Code: "57P02"}, true},
		{"starting up", &pq.Error{Code: "57P03"}, true},
		{"connection failure", &pq.Error{Code: "08006"}, true},
		{"unique violation", &pq.Error{Code: "23505"}, false},
		{"query canceled", &pq.Error{Code: "57014"}, false},
		{"not found", ErrNotFound, false},
		{"canceled", context.Canceled, false},
		{"other", errors.New("boom"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Unavailable(tc.err); got != tc.want {
				t.Errorf("Unavailable(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
