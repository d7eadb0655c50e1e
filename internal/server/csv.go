package server

import (
	"fmt"
	"net/http"

	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
)

// usersCSV serves GET /admin/users.csv, the dashboard's user export.
func (h *rest) usersCSV(w http.ResponseWriter, r *http.Request) {
	if err := h.serveUsersCSV(w, r); err != nil {
		h.respond(w, r, err)
	}
}

func (h *rest) serveUsersCSV(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p := auth.FromContext(ctx)
	export := h.svc.Exporter(h.mode)
	org, err := h.orgParam(r, p, func(org entity.Organization) error { return export.Authorize(ctx, p.User, org) })
	if err != nil {
		return err
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/csv; charset=utf-8")
	// Organization names are limited to letters, digits, '_', '.' and '-'
	// by the schema, so the file name needs no escaping.
	hdr.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-users.csv"`, org.Name))
	hdr.Set("X-Content-Type-Options", "nosniff")
	// The file holds names and emails: keep it out of shared caches.
	hdr.Set("Cache-Control", "no-store")
	out := &startedWriter{w: w}
	err = export.Write(ctx, out, p.User, org, h.now())
	if err == nil {
		return nil
	}
	if !out.started {
		hdr.Del("Content-Disposition")
		return err
	}
	// The status line is gone; cutting the stream short is the only way left
	// to tell the client the file is incomplete.
	if ctx.Err() == nil {
		h.log.ErrorContext(ctx, "user export stream failed", "err", err)
	}
	panic(http.ErrAbortHandler)
}

// startedWriter records whether anything reached the client, after which an
// error can no longer be answered with an error status.
type startedWriter struct {
	w       http.ResponseWriter
	started bool
}

func (s *startedWriter) Write(b []byte) (int, error) {
	s.started = true
	return s.w.Write(b)
}
