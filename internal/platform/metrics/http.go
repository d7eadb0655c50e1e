package metrics

import (
	"net/http"
	"strconv"
	"time"
)

// unmatched is the route of a request no specific pattern claims.
const unmatched = "unmatched"

// Instrument counts and times every request mux serves, under the pattern
// that routes it. Requests for unknown paths, which find no pattern or only
// the catch-all "/", count as route "unmatched".
func (m *Metrics) Instrument(mux *http.ServeMux) http.Handler {
	return m.InstrumentHandler(mux, mux)
}

// InstrumentHandler is Instrument for a handler that serves mux's routes
// behind a check of its own (one that may answer instead of mux): requests
// are labelled by mux's patterns and served by next.
func (m *Metrics) InstrumentHandler(mux *http.ServeMux, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		route, method := route(mux, r), methodLabel(r.Method)
		rec := &recorder{ResponseWriter: w, code: http.StatusOK}
		// Deferred so that a handler aborting with a panic is counted too.
		defer func() {
			m.httpRequests.WithLabelValues(route, method, strconv.Itoa(rec.code)).Inc()
			// A WebSocket's duration is its subscription's lifetime, not
			// an answer's latency.
			if rec.code != http.StatusSwitchingProtocols {
				m.httpDuration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// route returns the pattern mux routes r by. The lookup is repeated by
// mux.ServeHTTP, but only the mux knows which pattern matched.
func route(mux *http.ServeMux, r *http.Request) string {
	// For CONNECT, which paths are not cleaned for, ServeMux.Handler can
	// return the path it would redirect to rather than a pattern.
	if r.Method == http.MethodConnect {
		return unmatched
	}
	_, pattern := mux.Handler(r)
	if pattern == "" || pattern == "/" {
		return unmatched
	}
	return pattern
}

// methodLabel keeps the standard methods and folds any other token a client
// made up into "other".
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "other"
}

// recorder remembers the final status code a handler sent.
type recorder struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (r *recorder) WriteHeader(code int) {
	// 1xx codes other than 101 are informational: the final one follows.
	if !r.wrote && (code >= 200 || code == http.StatusSwitchingProtocols) {
		r.code, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController and the WebSocket upgrade reach the
// connection's Flusher and Hijacker.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
