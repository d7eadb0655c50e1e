package server

import (
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/auditgraph/auditgraph/internal/identity/auth"
)

// crossOriginRefusal is the error of a state-changing request a browser
// sent from another site's page.
const crossOriginRefusal = "cross-origin request refused: a browser sent this request from another site's page " +
	"(Sec-Fetch-Site or Origin); send it from this server's own pages, or from a client that is not a browser"

// refuseCrossOrigin refuses cross-origin browser requests with methods other
// than GET, HEAD and OPTIONS, on every route, so that a page on another site
// cannot ride on credentials the browser holds for this server (cached Basic
// credentials). It goes by what browsers send: Sec-Fetch-Site, or else
// Origin compared with Host. Requests with neither header (curl, scripts,
// the platform's reporters) and same-origin ones pass. publicURL's origin,
// when set, is trusted too, for a proxy that rewrites Host.
func refuseCrossOrigin(publicURL string, next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	if u, err := url.Parse(publicURL); err == nil && u.Scheme != "" && u.Host != "" {
		cop.AddTrustedOrigin(u.Scheme + "://" + u.Host) // an invalid one is ignored
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth.WriteError(w, http.StatusForbidden, crossOriginRefusal)
	}))
	return cop.Handler(next)
}

// ingestMediaTypes are the Content-Types a batch of audit events may be
// sent with. A form on another site can only send text/plain,
// multipart/form-data or application/x-www-form-urlencoded without the
// browser asking this server first (CORS preflight, which it does not
// grant), so requiring these refuses cross-site forms even from browsers
// that send neither Sec-Fetch-Site nor Origin.
var ingestMediaTypes = []string{"application/x-ndjson", "application/json"}

// ingestContentType refuses a batch sent as anything but NDJSON (or JSON)
// with 415, naming what was sent and what is accepted.
func ingestContentType(r *http.Request) error {
	accepted := strings.Join(ingestMediaTypes, " or ")
	ct := r.Header.Get("Content-Type")
	if strings.TrimSpace(ct) == "" {
		return fail(http.StatusUnsupportedMediaType, "Content-Type is missing: send the batch as %s", accepted)
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil {
		for _, ok := range ingestMediaTypes {
			if mt == ok {
				return nil
			}
		}
	}
	return fail(http.StatusUnsupportedMediaType, "Content-Type %q is not accepted: send the batch as %s", truncate(ct, 100), accepted)
}

// truncate cuts s to at most n bytes, for echoing client input in errors.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
