package server

import (
	"bufio"
	"cmp"
	"compress/flate"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/app"
	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/identity"
	"github.com/auditgraph/auditgraph/internal/identity/access"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/log/auditlog"
	"github.com/auditgraph/auditgraph/internal/log/ingest"
	"github.com/auditgraph/auditgraph/internal/log/ledger"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/internal/platform/fault"
	"github.com/auditgraph/auditgraph/internal/platform/metrics"
)

// rest serves the REST audit-log API.
type rest struct {
	svc  *app.Services
	ids  *identity.Service
	mode deployment.Mode
	log  *slog.Logger
	// activeSince is the first time that counts as activity (multi-tenant cut-off).
	activeSince time.Time
	now         func() time.Time
	metrics     *metrics.Metrics
	batches     *batchLimiter
}

// AnonymizeHeader tells a multi-tenant client that anonymize=true was ignored.
const AnonymizeHeader = "X-Auditgraph-Anonymize"

// apiError is a failure with the HTTP status it answers with.
type apiError struct {
	code int
	msg  string
}

func (e *apiError) Error() string { return e.msg }

func fail(code int, format string, args ...any) error {
	return &apiError{code, fmt.Sprintf(format, args...)}
}

// respond writes err as the JSON error of its status.
func (h *rest) respond(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	var le *ingest.LineError
	var pe *auditlog.ParamError
	switch {
	case errors.As(err, &ae):
		auth.WriteError(w, ae.code, ae.msg)
	case errors.As(err, &le):
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": le.Error(), "line": le.Line, "field": le.Field})
	case errors.As(err, &pe):
		auth.WriteError(w, http.StatusBadRequest, pe.Error())
	case errors.Is(err, access.ErrMultipleOrgs):
		auth.WriteError(w, http.StatusBadRequest, access.ErrMultipleOrgs.Error())
	case errors.Is(err, access.ErrNoOrg):
		auth.WriteError(w, http.StatusForbidden, access.ErrNoOrg.Error())
	case errors.Is(err, access.ErrForbidden):
		auth.WriteError(w, http.StatusForbidden, fault.Message(err, access.ErrForbidden))
	case errors.Is(err, fault.ErrBadCursor):
		auth.WriteError(w, http.StatusBadRequest, "cursor: "+fault.Message(err, fault.ErrBadCursor))
	case errors.Is(err, identity.ErrInvalid):
		auth.WriteError(w, http.StatusBadRequest, strings.TrimPrefix(fault.Message(err, identity.ErrInvalid), identity.ErrInvalid.Error()+": "))
	case errors.Is(err, errCapacity):
		h.batches.refuse(w)
	case errors.Is(err, context.Canceled):
	case app.Unavailable(err):
		h.log.WarnContext(r.Context(), "database unavailable", "path", r.URL.Path, "err", err)
		auth.WriteUnavailable(w, "the database is unavailable, try again")
	default:
		h.log.ErrorContext(r.Context(), "request failed", "path", r.URL.Path, "err", err)
		auth.WriteError(w, http.StatusInternalServerError, "internal server error")
	}
}

// org returns the organization a request acts on, the one named by the org
// parameter or the caller's API organization, once check allows the caller
// to act on it. A caller who is not an instance admin is refused a missing
// organization exactly as check refuses one they have no role in, so that a
// refusal does not tell them which names exist.
func (h *rest) org(r *http.Request, p *auth.Principal, name string, check func(entity.Organization) error) (entity.Organization, error) {
	if name != "" {
		if err := identity.CheckName("org: organization name", name); err != nil {
			return entity.Organization{}, err
		}
	}
	var names access.NameReader = h.svc.Access()
	if h.ids != nil {
		names = cachedNames{names, h.ids, p}
	}
	org, err := access.Org(r.Context(), names, p.User, name, check)
	if errors.Is(err, fault.ErrNotFound) {
		return org, fail(http.StatusNotFound, "org: no organization called %q", name)
	}
	return org, err
}

// cachedNames finds organizations by name for the rules as the identity
// service does (identity.Service.FindOrganization): from the cache when it
// can, and telling the request's memo the caller's membership, so that a
// request such as an ingest batch begins without round trips to the
// database. Its other reads are r's.
type cachedNames struct {
	access.NameReader
	ids *identity.Service
	p   *auth.Principal
}

func (c cachedNames) OrganizationByName(ctx context.Context, name string) (entity.Organization, error) {
	return c.ids.FindOrganization(ctx, c.p, name)
}

// orgParam returns the organization named by the request's org parameter,
// or the caller's API organization when there is none, once check allows.
func (h *rest) orgParam(r *http.Request, p *auth.Principal, check func(entity.Organization) error) (entity.Organization, error) {
	name, err := param(r, "org")
	if err != nil {
		return entity.Organization{}, err
	}
	return h.org(r, p, name, check)
}

// ingest serves POST /api/v1/audit_events.
func (h *rest) ingest(w http.ResponseWriter, r *http.Request) {
	if err := ingestContentType(r); err != nil {
		w.Header().Set("Accept-Post", strings.Join(ingestMediaTypes, ", "))
		h.metrics.BatchRejected(rejectReason(err))
		h.respond(w, r, err)
		return
	}
	if err := h.serveIngest(w, r); err != nil {
		h.metrics.BatchRejected(rejectReason(err))
		h.respond(w, r, err)
	}
}

// rejectReason names why a batch was refused, in the terms of
// metrics.BatchRejected.
func rejectReason(err error) string {
	var le *ingest.LineError
	var ae *apiError
	switch {
	case errors.As(err, &le):
		return le.Field
	case errors.As(err, &ae) && ae.code == http.StatusNotFound:
		// The one 404 of ingest: the org parameter names no organization.
		return metrics.RejectOrg
	case errors.As(err, &ae):
		return metrics.RejectBody
	case errors.Is(err, access.ErrMultipleOrgs), errors.Is(err, access.ErrNoOrg), errors.Is(err, identity.ErrInvalid):
		return metrics.RejectOrg
	case errors.Is(err, access.ErrForbidden):
		return metrics.RejectForbidden
	case errors.Is(err, errCapacity):
		return metrics.RejectCapacity
	case errors.Is(err, context.Canceled):
		return metrics.RejectCanceled
	case app.Unavailable(err):
		return metrics.RejectUnavailable
	}
	return metrics.RejectInternal
}

func (h *rest) serveIngest(w http.ResponseWriter, r *http.Request) error {
	// The ingester checks the caller's right twice: before the batch is
	// read, and again when it stores it; the memo answers the second from
	// the first reading (a batch changes no membership).
	ctx := access.WithMemo(r.Context())
	p := auth.FromContext(ctx)
	in := h.svc.Ingester()
	org, err := h.orgParam(r.WithContext(ctx), p, func(org entity.Organization) error { return in.Authorize(ctx, p.User, org) })
	if err != nil {
		return err
	}
	// Nothing is stored until the whole batch has been read and found
	// valid: a batch over any limit is refused whole.
	b, err := h.batches.open(w, r)
	if err != nil {
		return err
	}
	defer b.release()
	batch, err := ingest.ReadBatch(b, h.now())
	b.doneReading()
	if err != nil {
		var le *ingest.LineError
		var ae *apiError
		var mbe *http.MaxBytesError
		var ce flate.CorruptInputError
		switch {
		case errors.As(err, &le), errors.As(err, &ae), errors.Is(err, errCapacity):
			return err
		case errors.As(err, &mbe):
			return h.batches.tooLarge()
		case b.gzip && (errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.As(err, &ce) || errors.Is(err, io.ErrUnexpectedEOF)):
			return fail(http.StatusBadRequest, "body: corrupt gzip data")
		}
		return errBodyRead
	}
	defer batch.Release()
	lines := batch.Lines
	events := make([]ledger.IngestEvent, 0, len(lines))
	for _, l := range lines {
		if ingest.Collected(h.mode, l) {
			events = append(events, l.IngestEvent)
		}
	}
	res, err := in.Ingest(ctx, p.User, org, events, h.activeSince)
	if err != nil {
		return err
	}
	h.metrics.Ingested(len(lines), func(i int) audit.Action { return lines[i].Action }, res.Duplicates, len(lines)-len(events))
	writeJSON(w, http.StatusOK, map[string]int{
		"received":   len(lines),
		"stored":     res.Stored,
		"duplicates": res.Duplicates,
		"dropped":    len(lines) - len(events),
	})
	return nil
}

// auditLogs serves GET /admin/audit_logs.
func (h *rest) auditLogs(w http.ResponseWriter, r *http.Request) {
	if err := h.serveAuditLogs(w, r); err != nil {
		h.respond(w, r, err)
	}
}

func (h *rest) serveAuditLogs(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p := auth.FromContext(ctx)
	values, err := query(r)
	if err != nil {
		return err
	}
	q, err := auditlog.Parse(values, h.mode, h.now())
	if err != nil {
		return err
	}
	log := h.svc.AuditLog(h.mode)
	org, err := h.org(r, p, q.Org, func(org entity.Organization) error { return log.Authorize(ctx, p.User, org) })
	if err != nil {
		return err
	}
	if q.AnonymizeIgnored {
		w.Header().Set(AnonymizeHeader, "ignored: multi-tenant audit logs always include PII")
	}
	if q.Paginated {
		page, err := log.Page(ctx, p.User, org, q.Start, q.End, q.Limit, q.Cursor, q.Anonymize)
		if err != nil {
			return err
		}
		var next *string
		if page.Next != "" {
			next = &page.Next
		}
		writeJSON(w, http.StatusOK, struct {
			AuditLogs      []json.RawMessage `json:"audit_logs"`
			RangeStartTime string            `json:"range_start_time"`
			RangeEndTime   string            `json:"range_end_time"`
			Count          int               `json:"count"`
			NextCursor     *string           `json:"next_cursor"`
		}{page.Events, q.Start.Format(time.RFC3339), q.End.Format(time.RFC3339), len(page.Events), next})
		return nil
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	var (
		out io.Writer = w
		zw  *gzip.Writer
	)
	if acceptsGzip(r) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Add("Vary", "Accept-Encoding")
		zw, _ = gzip.NewWriterLevel(w, gzip.BestSpeed)
		out = zw
	}
	bw := bufio.NewWriterSize(out, 64<<10)
	started := false
	err = log.Stream(ctx, p.User, org, q.Start, q.End, q.Anonymize, func(line []byte) error {
		started = true
		bw.Write(line)
		return bw.WriteByte('\n')
	})
	if err != nil {
		if started {
			// The status line is gone; cutting the stream short is the only
			// way left to tell the client the answer is incomplete.
			h.log.ErrorContext(ctx, "audit log stream failed", "err", err)
			panic(http.ErrAbortHandler)
		}
		w.Header().Del("Content-Encoding")
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if zw != nil {
		return zw.Close()
	}
	return nil
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// query returns the request's query parameters. A query string that does
// not parse is refused: r.URL.Query would drop the pairs it cannot read
// (`org=a;b`, a bad %-escape) and the request would act on the caller's own
// organization instead of the one named.
func query(r *http.Request) (url.Values, error) {
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		if strings.Contains(err.Error(), "semicolon") {
			return nil, fail(http.StatusBadRequest, "query string: ';' does not separate parameters: join them with '&', and write a ';' in a value as %%3B")
		}
		return nil, fail(http.StatusBadRequest, "query string: %v: write '%%' in a value as %%25", err)
	}
	return values, nil
}

// param returns a query parameter matched case-insensitively; given more
// than once, its values must agree.
func param(r *http.Request, name string) (string, error) {
	values, err := query(r)
	if err != nil {
		return "", err
	}
	v := ""
	for k, vs := range values {
		if !strings.EqualFold(k, name) {
			continue
		}
		for _, x := range vs {
			if v != "" && x != "" && x != v {
				return "", fail(http.StatusBadRequest, "%s: given more than once with different values", name)
			}
			v = cmp.Or(v, x)
		}
	}
	return v, nil
}
