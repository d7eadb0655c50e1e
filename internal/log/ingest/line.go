// Package ingest reads the NDJSON batches the platform reports audit events
// in, validates every line, and applies the deployment's collection rules.
package ingest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/log/ledger"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
)

// Limits bound what one request may hold.
const (
	MaxLineBytes  = 64 << 10
	MaxBatch      = 50_000
	MaxValueBytes = 4 << 10
	// MaxFuture is how far ahead of the server's clock a timestamp may be.
	MaxFuture = 24 * time.Hour
)

// Oldest is the earliest event time accepted.
var Oldest = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Line is one parsed event with its context.
type Line struct {
	ledger.IngestEvent
	// ProjectPublic says the event concerns an open or public project.
	ProjectPublic bool
	// OrgScoped is false for a user action not tied to an organization.
	OrgScoped bool
}

// LineError names the line and field of a bad batch.
type LineError struct {
	Line   int    `json:"line"`
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
}

func (e *LineError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Field, e.Reason)
}

// wire is a line as sent: for each key of wireKeys, whether the line gives
// it a value other than null (bit k of set) and, for the keys whose value is
// a string, that value; for response_code, the raw JSON value.
type wire struct {
	set                      uint32
	text                     [numWireKeys]string
	projectPublic, orgScoped bool
}

func (w *wire) has(k int) bool { return w.set&(1<<k) != 0 }

// ParseLine parses and validates one line; n is its 1-based number, now
// the receive time used when the line has no timestamp.
func ParseLine(b []byte, n int, now time.Time) (Line, error) {
	var w wire
	l := Line{OrgScoped: true}
	bad := func(field, format string, args ...any) (Line, error) {
		return Line{}, &LineError{Line: n, Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	if !utf8.Valid(b) {
		return bad("", "not valid UTF-8")
	}
	if field, reason, ok := decodeWire(b, &w); !ok {
		return bad(field, "%s", reason)
	}
	if w.text[keyAction] == "" {
		return bad("action", "missing")
	}
	a, err := audit.ParseAction(w.text[keyAction])
	if err != nil {
		return bad("action", "%v", err)
	}
	l.Action = a
	l.Timestamp = now
	if w.has(keyTimestamp) {
		ts := w.text[keyTimestamp]
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			return bad("timestamp", "%q is not an RFC3339 time such as 2023-01-23T12:34:56Z", ts)
		}
		if t.Before(Oldest) || t.After(now.Add(MaxFuture)) {
			return bad("timestamp", "%q is outside the accepted range (%s to 24 hours from now)", ts, Oldest.Format("2006-01-02"))
		}
		l.Timestamp = t.UTC()
	}
	if w.has(keyResponseCode) {
		raw := w.text[keyResponseCode]
		c, err := strconv.Atoi(raw)
		if err != nil || c < 100 || c > 599 {
			return bad("response_code", "%s is not an HTTP status code (an integer from 100 to 599)", raw)
		}
		l.ResponseCode = c
	}
	// The id, then the text keys but the action, already checked.
	for k, key := range wireKeys[:keyProjectPublic] {
		i := k - 1
		if !w.has(k) || k == keyAction || (i >= 0 && audit.Specs[i].Kind != audit.Text) {
			continue
		}
		v := w.text[k]
		if len(v) > MaxValueBytes {
			return bad(key, "longer than %d bytes", MaxValueBytes)
		}
		if strings.IndexByte(v, 0) >= 0 {
			return bad(key, "contains a NUL character")
		}
		if i < 0 {
			l.ClientID = v
		} else {
			*l.Text(i) = v
		}
	}
	if w.has(keyProjectPublic) {
		l.ProjectPublic = w.projectPublic
	}
	if w.has(keyOrgScoped) {
		l.OrgScoped = w.orgScoped
	}
	return l, nil
}

// readers keeps ReadBatch's buffered readers for reuse: a 1-event batch
// would otherwise allocate (and the collector sweep) 64 KiB for one line of
// a few hundred bytes. Nothing ReadBatch returns points into the buffer
// (ParseLine copies each value).
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 64<<10) }}

// Batch is a batch ReadBatch read. Release hands its slice back for a
// later batch to fill; the values in its lines stay valid after it.
type Batch struct {
	Lines []Line
}

// maxKeptLines bounds the slices kept for reuse (a Line is about 350
// bytes): a batch larger than that gets a slice of its own.
const maxKeptLines = 16 << 10

// released keeps the slices of up to four released batches, at most
// 23 MB. Growing a 10,000-line slice by appending moves 3.5 MB twice over
// and has the collector clear and scan every copy: 18% of the server's
// CPU in a bulk ingest. (A sync.Pool does not do: a bulk batch allocates
// enough to run the collector several times, which empties the pool
// before the next batch.)
var released = make(chan *Batch, 4)

// Release clears the batch's lines and keeps its slice for the next
// batch. The batch must not be used after it.
func (b *Batch) Release() {
	clear(b.Lines) // drop the values, which belong to the caller now
	if cap(b.Lines) > maxKeptLines {
		return
	}
	b.Lines = b.Lines[:0]
	select {
	case released <- b:
	default:
	}
}

// ReadBatch reads NDJSON from r: one event per line, blank lines ignored.
// A bad line fails the whole batch with a *LineError; an error reading r
// fails it with that error.
func ReadBatch(r io.Reader, now time.Time) (*Batch, error) {
	var batch *Batch
	select {
	case batch = <-released:
	default:
		batch = new(Batch)
	}
	if err := batch.read(r, now); err != nil {
		batch.Release()
		return nil, err
	}
	return batch, nil
}

func (batch *Batch) read(r io.Reader, now time.Time) error {
	br := readers.Get().(*bufio.Reader)
	br.Reset(r)
	defer func() {
		br.Reset(nil)
		readers.Put(br)
	}()
	for n := 1; ; n++ {
		blank, err := skipBlank(br)
		n += blank
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		b, err := readLine(br)
		if errors.Is(err, errLineTooLong) {
			return &LineError{Line: n, Reason: fmt.Sprintf("longer than %d bytes", MaxLineBytes)}
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if len(bytes.TrimSpace(b)) > 0 {
			if len(batch.Lines) == MaxBatch {
				return &LineError{Line: n, Reason: fmt.Sprintf("a batch holds at most %d events", MaxBatch)}
			}
			l, perr := ParseLine(b, n, now)
			if perr != nil {
				return perr
			}
			batch.Lines = append(batch.Lines, l)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
	}
}

// skipBlank discards the blank lines and the whitespace before the next
// line's content, returning how many newlines it passed. It reads them a
// buffer at a time, so that a body of padding (a megabyte of gzip can hold
// a gigabyte of newlines) costs about what decompressing it does.
func skipBlank(br *bufio.Reader) (newlines int, err error) {
	for {
		if br.Buffered() == 0 {
			if _, err := br.Peek(1); err != nil {
				return newlines, err
			}
		}
		buf, _ := br.Peek(br.Buffered())
		i := 0
	scan:
		for ; i < len(buf); i++ {
			switch buf[i] {
			case '\n':
				newlines++
			case ' ', '\t', '\r':
			default:
				break scan
			}
		}
		br.Discard(i)
		if i < len(buf) {
			return newlines, nil
		}
	}
}

var errLineTooLong = errors.New("line too long")

// readLine returns the next line without its newline, refusing lines longer
// than MaxLineBytes without buffering them. The line is only valid until the
// next read from br: a line within br's buffer is not copied.
func readLine(br *bufio.Reader) ([]byte, error) {
	chunk, err := br.ReadSlice('\n')
	if !errors.Is(err, bufio.ErrBufferFull) {
		if len(chunk) > MaxLineBytes+2 {
			return nil, errLineTooLong
		}
		return bytes.TrimRight(chunk, "\r\n"), err
	}
	line := append([]byte(nil), chunk...)
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) > MaxLineBytes+2 {
			return nil, errLineTooLong
		}
		line = append(line, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return bytes.TrimRight(line, "\r\n"), err
	}
}

// Collected reports whether a deployment records the event: multi-tenant
// does not collect events on open or public projects, report:read, or user
// actions not tied to an organization.
func Collected(mode deployment.Mode, l Line) bool {
	if !mode.MultiTenant() {
		return true
	}
	return !l.ProjectPublic && l.Action != audit.ReportRead && l.OrgScoped
}
