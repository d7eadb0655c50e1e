package storage

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/auditgraph/auditgraph/audit"
)

// The audit_events columns of the documented keys, their scan targets and
// the values written to them are all built from audit.Specs.

// eventColumns lists the columns of a StoredEvent: org_id, seq, then the
// documented keys' columns in audit.Specs' order (eventScanner's order).
var eventColumns = "org_id, seq, " + strings.Join(audit.Columns(), ", ")

// keyScan holds the scan targets of the documented keys' columns.
type keyScan struct {
	text [audit.NumKeys]sql.NullString
	code sql.NullInt64
	ts   time.Time
}

// dest appends the targets, in audit.Specs' order, to dest.
func (s *keyScan) dest(dest []any) []any {
	for i, k := range audit.Specs {
		switch k.Kind {
		case audit.Text:
			dest = append(dest, &s.text[i])
		case audit.Code:
			dest = append(dest, &s.code)
		case audit.Time:
			dest = append(dest, &s.ts)
		}
	}
	return dest
}

// event sets e's keys to the values last scanned; NULL is "no value".
func (s *keyScan) event(e *audit.Event) {
	for i, k := range audit.Specs {
		switch k.Kind {
		case audit.Text:
			*e.Text(i) = s.text[i].String
		case audit.Code:
			e.ResponseCode = int(s.code.Int64)
		case audit.Time:
			e.Timestamp = s.ts.UTC()
		}
	}
}

// eventScanner scans rows of eventColumns, reusing its targets.
type eventScanner struct {
	e    StoredEvent
	keys keyScan
	dest []any
}

func newEventScanner() *eventScanner {
	s := new(eventScanner)
	s.dest = s.keys.dest([]any{&s.e.OrgID, &s.e.Seq})
	return s
}

func (s *eventScanner) scan(rows interface{ Scan(...any) error }) (StoredEvent, error) {
	if err := rows.Scan(s.dest...); err != nil {
		return StoredEvent{}, err
	}
	s.keys.event(&s.e.Event)
	return s.e, nil
}

// events runs a query selecting eventColumns and returns its rows.
func (q queries) events(ctx context.Context, query string, args ...any) ([]StoredEvent, error) {
	var es []StoredEvent
	err := q.hot(ctx, nil, func(db sqlx.QueryerContext) (err error) {
		es, err = scanEvents(ctx, db, query, args...)
		return err
	})
	return es, err
}

func scanEvents(ctx context.Context, db sqlx.QueryerContext, query string, args ...any) ([]StoredEvent, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var es []StoredEvent
	s := newEventScanner()
	for rows.Next() {
		e, err := s.scan(rows)
		if err != nil {
			return nil, err
		}
		es = append(es, e)
	}
	return es, rows.Err()
}

// copyColumns are COPYed into audit_events, in the order copyRow fills them:
// org_id, seq, the documented keys' columns, then the chain hash.
var copyColumns = append(append([]string{"org_id", "seq"}, audit.Columns()...), "hash")

// copyRow fills row with e's column values but the hash; empty strings and
// code 0 become NULL.
func copyRow(row []any, orgID, seq int64, e *audit.Event) {
	row[0], row[1] = orgID, seq
	for i, k := range audit.Specs {
		var v any
		switch k.Kind {
		case audit.Text:
			if t := *e.Text(i); t != "" {
				v = t
			}
		case audit.Code:
			if e.ResponseCode != 0 {
				v = e.ResponseCode
			}
		case audit.Time:
			v = e.Timestamp.UTC()
		}
		row[2+i] = v
	}
}
