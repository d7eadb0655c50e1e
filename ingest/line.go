// Package ingest reads the NDJSON batches the platform reports audit events
// in, validates every line, and applies the deployment's collection rules.
package ingest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/deployment"
	"github.com/auditgraph/auditgraph/ledger"
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

// wire is a line as sent: the documented keys plus id and context.
type wire struct {
	ID                    *string          `json:"id"`
	Action                *string          `json:"action"`
	ActorEmail            *string          `json:"actor_email"`
	ActorIP               *string          `json:"actor_ip"`
	ActorUserID           *string          `json:"actor_user_id"`
	ArtifactAsset         *string          `json:"artifact_asset"`
	ArtifactDigest        *string          `json:"artifact_digest"`
	ArtifactQualifiedName *string          `json:"artifact_qualified_name"`
	ArtifactSequenceAsset *string          `json:"artifact_sequence_asset"`
	CLIVersion            *string          `json:"cli_version"`
	EntityAsset           *string          `json:"entity_asset"`
	EntityName            *string          `json:"entity_name"`
	ProjectAsset          *string          `json:"project_asset"`
	ProjectName           *string          `json:"project_name"`
	ReportAsset           *string          `json:"report_asset"`
	ReportName            *string          `json:"report_name"`
	ResponseCode          *json.RawMessage `json:"response_code"`
	Timestamp             *string          `json:"timestamp"`
	UserAsset             *string          `json:"user_asset"`
	UserEmail             *string          `json:"user_email"`
	ProjectPublic         *bool            `json:"project_public"`
	OrgScoped             *bool            `json:"org_scoped"`
}

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
	if w.Action == nil || *w.Action == "" {
		return bad("action", "missing")
	}
	a, err := audit.ParseAction(*w.Action)
	if err != nil {
		return bad("action", "%v", err)
	}
	l.Action = a
	l.Timestamp = now
	if w.Timestamp != nil {
		t, err := time.Parse(time.RFC3339Nano, *w.Timestamp)
		if err != nil {
			return bad("timestamp", "%q is not an RFC3339 time such as 2023-01-23T12:34:56Z", *w.Timestamp)
		}
		if t.Before(Oldest) || t.After(now.Add(MaxFuture)) {
			return bad("timestamp", "%q is outside the accepted range (%s to 24 hours from now)", *w.Timestamp, Oldest.Format("2006-01-02"))
		}
		l.Timestamp = t.UTC()
	}
	if w.ResponseCode != nil && string(*w.ResponseCode) != "null" {
		c, err := strconv.Atoi(string(*w.ResponseCode))
		if err != nil || c < 100 || c > 599 {
			return bad("response_code", "%s is not an HTTP status code (an integer from 100 to 599)", *w.ResponseCode)
		}
		l.ResponseCode = c
	}
	for _, f := range []struct {
		name string
		src  *string
		dst  *string
	}{
		{"id", w.ID, &l.ClientID},
		{"actor_email", w.ActorEmail, &l.ActorEmail},
		{"actor_ip", w.ActorIP, &l.ActorIP},
		{"actor_user_id", w.ActorUserID, &l.ActorUserID},
		{"artifact_asset", w.ArtifactAsset, &l.ArtifactAsset},
		{"artifact_digest", w.ArtifactDigest, &l.ArtifactDigest},
		{"artifact_qualified_name", w.ArtifactQualifiedName, &l.ArtifactQualifiedName},
		{"artifact_sequence_asset", w.ArtifactSequenceAsset, &l.ArtifactSequenceAsset},
		{"cli_version", w.CLIVersion, &l.CLIVersion},
		{"entity_asset", w.EntityAsset, &l.EntityAsset},
		{"entity_name", w.EntityName, &l.EntityName},
		{"project_asset", w.ProjectAsset, &l.ProjectAsset},
		{"project_name", w.ProjectName, &l.ProjectName},
		{"report_asset", w.ReportAsset, &l.ReportAsset},
		{"report_name", w.ReportName, &l.ReportName},
		{"user_asset", w.UserAsset, &l.UserAsset},
		{"user_email", w.UserEmail, &l.UserEmail},
	} {
		if f.src == nil {
			continue
		}
		if len(*f.src) > MaxValueBytes {
			return bad(f.name, "longer than %d bytes", MaxValueBytes)
		}
		if strings.ContainsRune(*f.src, 0) {
			return bad(f.name, "contains a NUL character")
		}
		*f.dst = *f.src
	}
	if w.ProjectPublic != nil {
		l.ProjectPublic = *w.ProjectPublic
	}
	if w.OrgScoped != nil {
		l.OrgScoped = *w.OrgScoped
	}
	return l, nil
}

// ReadBatch reads NDJSON from r: one event per line, blank lines ignored.
// A bad line fails the whole batch with a *LineError; an error reading r
// fails it with that error.
func ReadBatch(r io.Reader, now time.Time) ([]Line, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var lines []Line
	for n := 1; ; n++ {
		blank, err := skipBlank(br)
		n += blank
		if errors.Is(err, io.EOF) {
			return lines, nil
		}
		if err != nil {
			return nil, err
		}
		b, err := readLine(br)
		if errors.Is(err, errLineTooLong) {
			return nil, &LineError{Line: n, Reason: fmt.Sprintf("longer than %d bytes", MaxLineBytes)}
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if len(bytes.TrimSpace(b)) > 0 {
			if len(lines) == MaxBatch {
				return nil, &LineError{Line: n, Reason: fmt.Sprintf("a batch holds at most %d events", MaxBatch)}
			}
			l, perr := ParseLine(b, n, now)
			if perr != nil {
				return nil, perr
			}
			lines = append(lines, l)
		}
		if errors.Is(err, io.EOF) {
			return lines, nil
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
