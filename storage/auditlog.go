package storage

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/entity"
)

// eventJSON returns the SQL expression that writes an event as the
// documented JSON object: the keys of audit.Specs in order, keys without a
// value left out, the timestamp in RFC3339 UTC, and without the PII keys
// when anonymize is set. PostgreSQL builds the text, so streaming a window
// costs the server little more than copying bytes. Each member is
// '"key":' || value, which is NULL when the column is, and concat_ws skips
// NULLs: that leaves out empty keys without building and re-parsing JSON.
func eventJSON(anonymize bool) string {
	var members []string
	for _, k := range audit.Specs {
		if anonymize && k.Key.IsPII() {
			continue
		}
		var value string
		switch k.Kind {
		case audit.Time:
			value = fmt.Sprintf(`'"' || to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || '"'`, k.Column)
		case audit.Code:
			value = k.Column + `::text`
		default:
			value = fmt.Sprintf(`to_json(%s)::text`, k.Column)
		}
		members = append(members, fmt.Sprintf(`'"%s":' || %s`, k.Key, value))
	}
	return `'{' || concat_ws(',', ` + strings.Join(members, ", ") + `) || '}'`
}

// streamBatch is how many rows each FETCH from the server-side cursor reads.
const streamBatch = 2000

// StreamEvents calls fn with the JSON object of each event of an
// organization with start <= timestamp < end, oldest first (by time, then
// sequence). It reads through a server-side cursor in a read-only snapshot,
// so memory stays constant whatever the window. fn's slice is only valid
// during the call.
//
// A read marked with entity.ReadStandby runs on the standby once it has
// replayed the organization's log as far as the primary had stored it when
// the read began (see standby.go); else, or if the standby fails before the
// first event, on the primary.
func (s *Store) StreamEvents(ctx context.Context, orgID int64, start, end time.Time, anonymize bool, fn func([]byte) error) error {
	if s.wantStandby(ctx) {
		if seq, err := s.primarySeq(ctx, orgID); err == nil {
			if conn := s.standbyAt(ctx, orgID, seq); conn != nil {
				started := false
				err := streamEvents(ctx, conn, orgID, start, end, anonymize, func(line []byte) error {
					started = true
					return fn(line)
				})
				conn.Close()
				if err == nil || started || ctx.Err() != nil {
					return err
				}
				s.sb.failed(err)
			}
		}
	}
	return streamEvents(ctx, s.db, orgID, start, end, anonymize, fn)
}

// txBeginner is a pool or a connection.
type txBeginner interface {
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

func streamEvents(ctx context.Context, db txBeginner, orgID int64, start, end time.Time, anonymize bool, fn func([]byte) error) error {
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return fmt.Errorf("storage: stream events: %w", err)
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, `DECLARE audit_stream NO SCROLL CURSOR FOR SELECT `+eventJSON(anonymize)+`
		FROM audit_events WHERE org_id = $1 AND ts >= $2 AND ts < $3 ORDER BY ts, seq`, orgID, start, end)
	if err != nil {
		return fmt.Errorf("storage: stream events: %w", err)
	}
	for {
		rows, err := tx.QueryContext(ctx, `FETCH `+strconv.Itoa(streamBatch)+` FROM audit_stream`)
		if err != nil {
			return fmt.Errorf("storage: stream events: %w", err)
		}
		n := 0
		for rows.Next() {
			var line sql.RawBytes
			if err := rows.Scan(&line); err != nil {
				rows.Close()
				return fmt.Errorf("storage: stream events: %w", err)
			}
			n++
			if err := fn(line); err != nil {
				rows.Close()
				return err
			}
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("storage: stream events: %w", err)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("storage: stream events: %w", err)
		}
		if n < streamBatch {
			return nil
		}
	}
}

// ErrBadCursor means a pagination cursor was not issued for this query
// (entity.ErrBadCursor, the same value).
var ErrBadCursor = entity.ErrBadCursor

// Page is one page of an organization's events in a time range.
type Page struct {
	Events []json.RawMessage
	// Next is the cursor of the following page, "" on the last one.
	Next string
}

// pageCursor is where a page ended, and the query it belongs to. Snap is the
// organization's last sequence number when the first page was read: later
// pages leave out events stored after it, so following the cursors returns
// each event of the range exactly once even while ingest goes on.
type pageCursor struct {
	TS         time.Time
	Seq, Snap  int64
	Org        int64
	Start, End time.Time
}

func (c pageCursor) encode() string {
	s := fmt.Sprintf("v1:%d:%d:%d:%d:%d:%d", c.TS.UnixNano(), c.Seq, c.Snap, c.Org, c.Start.UnixNano(), c.End.UnixNano())
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

func decodeCursor(s string) (pageCursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	parts := strings.Split(string(raw), ":")
	if err != nil || len(parts) != 7 || parts[0] != "v1" {
		return pageCursor{}, ErrBadCursor
	}
	var n [6]int64
	for i := range n {
		if n[i], err = strconv.ParseInt(parts[i+1], 10, 64); err != nil {
			return pageCursor{}, ErrBadCursor
		}
	}
	return pageCursor{TS: time.Unix(0, n[0]).UTC(), Seq: n[1], Snap: n[2], Org: n[3],
		Start: time.Unix(0, n[4]).UTC(), End: time.Unix(0, n[5]).UTC()}, nil
}

// EventsPage returns up to limit events of an organization with start <=
// timestamp < end, oldest first, continuing after cursor when it is not
// empty. Keyset pagination on (timestamp, sequence) makes every page cost
// the same, however deep.
func (s *Store) EventsPage(ctx context.Context, orgID int64, start, end time.Time, limit int, cursor string, anonymize bool) (Page, error) {
	var page Page
	c := pageCursor{Org: orgID, Start: start.UTC(), End: end.UTC(), Seq: -1}
	after := false
	if cursor != "" {
		got, err := decodeCursor(cursor)
		if err != nil || got.Org != orgID || !got.Start.Equal(c.Start) || !got.End.Equal(c.End) {
			return page, ErrBadCursor
		}
		c, after = got, true
	} else if err := sqlx.GetContext(ctx, s.db, &c.Snap, `SELECT last_seq FROM organizations WHERE id = $1`, orgID); err != nil {
		// The snapshot comes from the primary, so that the walk returns
		// every event stored before it began, whichever server reads it.
		return page, notFound(err, "storage: events page of organization %d", orgID)
	}
	// A page read on the standby waits there until it has replayed the
	// events up to the snapshot: else it would skip them.
	if conn := s.standbyAt(ctx, orgID, c.Snap); conn != nil {
		page, err := eventsPage(ctx, conn, c, after, start, end, limit, anonymize)
		conn.Close()
		if err == nil || ctx.Err() != nil {
			return page, err
		}
		s.sb.failed(err)
	}
	return eventsPage(ctx, s.db, c, after, start, end, limit, anonymize)
}

// querier is a pool or a connection.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func eventsPage(ctx context.Context, db querier, c pageCursor, after bool, start, end time.Time, limit int, anonymize bool) (Page, error) {
	var page Page
	orgID := c.Org
	rows, err := db.QueryContext(ctx, `SELECT `+eventJSON(anonymize)+`, ts, seq FROM audit_events
		WHERE org_id = $1 AND ts >= $2 AND ts < $3 AND seq <= $4 AND (NOT $5 OR (ts, seq) > ($6, $7))
		ORDER BY ts, seq LIMIT $8`, orgID, start, end, c.Snap, after, c.TS, c.Seq, limit+1)
	if err != nil {
		return page, fmt.Errorf("storage: events page of organization %d: %w", orgID, err)
	}
	defer rows.Close()
	page.Events = make([]json.RawMessage, 0, min(limit, 1024))
	for rows.Next() {
		var (
			line []byte
			ts   time.Time
			seq  int64
		)
		if err := rows.Scan(&line, &ts, &seq); err != nil {
			return page, fmt.Errorf("storage: events page: %w", err)
		}
		if len(page.Events) == limit {
			page.Next = c.encode()
			break
		}
		page.Events = append(page.Events, line)
		c.TS, c.Seq = ts, seq
	}
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("storage: events page: %w", err)
	}
	return page, nil
}
