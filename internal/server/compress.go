package server

import (
	"compress/gzip"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"

	"github.com/auditgraph/auditgraph/internal/platform/webasset"
)

// gzipMinSize is the smallest answer compressed: below it gzip's header
// and the work cost more than they save.
const gzipMinSize = 1024

// gzipTypes are the media types compressed: the API's JSON (GraphQL, REST),
// the audit log's NDJSON, the users' CSV and HTML pages.
var gzipTypes = map[string]bool{
	"application/json":                  true,
	"application/graphql-response+json": true,
	"application/x-ndjson":              true,
	"text/csv":                          true,
	"text/html":                         true,
}

var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(io.Discard, gzip.DefaultCompression)
	return zw
}}

// compressAnswers gzips the answers of next for a client whose
// Accept-Encoding allows gzip: answers of a type in gzipTypes, of at least
// gzipMinSize bytes (or flushed before, as a stream is), that the handler
// did not encode itself (the assets, the audit log stream and /metrics
// do). A WebSocket upgrade passes untouched. A handler's Flush flushes the
// compressed bytes written so far, so a stream still streams.
func compressAnswers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || !webasset.AcceptsGzip(r) {
			next.ServeHTTP(w, r)
			return
		}
		g := &gzipWriter{ResponseWriter: w}
		next.ServeHTTP(g, r)
		g.close()
	})
}

// gzipWriter holds back the status and the first bytes of an answer until
// it knows whether to compress it: at gzipMinSize bytes, at a Flush, or at
// the end.
type gzipWriter struct {
	http.ResponseWriter
	code    int
	buf     []byte
	decided bool
	zw      *gzip.Writer
}

func (g *gzipWriter) WriteHeader(code int) {
	switch {
	case g.decided:
		g.ResponseWriter.WriteHeader(code)
	case code >= 100 && code < 200 && code != http.StatusSwitchingProtocols:
		g.ResponseWriter.WriteHeader(code) // informational: more follow
	case g.code == 0:
		g.code = code
	}
}

func (g *gzipWriter) Write(p []byte) (int, error) {
	if !g.decided {
		if g.code == 0 {
			g.code = http.StatusOK
		}
		if len(g.buf)+len(p) < gzipMinSize {
			g.buf = append(g.buf, p...)
			return len(p), nil
		}
		if err := g.decide(true); err != nil {
			return 0, err
		}
	}
	if g.zw != nil {
		return g.zw.Write(p)
	}
	return g.ResponseWriter.Write(p)
}

// decide sends the status and headers, compressing the answer when it may
// (it is long enough, or flushed) and its type and status allow, then the
// bytes held back.
func (g *gzipWriter) decide(mayCompress bool) error {
	g.decided = true
	if g.code == 0 {
		g.code = http.StatusOK
	}
	h := g.Header()
	if h.Get("Content-Encoding") == "" && compressibleType(h.Get("Content-Type")) {
		h.Add("Vary", "Accept-Encoding")
		if mayCompress && bodyAllowed(g.code) && g.code != http.StatusPartialContent && h.Get("Content-Range") == "" {
			h.Del("Content-Length")
			h.Set("Content-Encoding", "gzip")
			g.zw = gzipWriters.Get().(*gzip.Writer)
			g.zw.Reset(g.ResponseWriter)
		}
	}
	g.ResponseWriter.WriteHeader(g.code)
	buf := g.buf
	g.buf = nil
	if len(buf) == 0 {
		return nil
	}
	var err error
	if g.zw != nil {
		_, err = g.zw.Write(buf)
	} else {
		_, err = g.ResponseWriter.Write(buf)
	}
	return err
}

// Flush sends what was written so far (compressed, when it is).
func (g *gzipWriter) Flush() {
	if !g.decided {
		g.decide(true)
	}
	if g.zw != nil {
		g.zw.Flush()
	}
	http.NewResponseController(g.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection's deadlines.
func (g *gzipWriter) Unwrap() http.ResponseWriter { return g.ResponseWriter }

// close ends the answer: a short one goes out as it is.
func (g *gzipWriter) close() {
	if !g.decided {
		if g.code == 0 && len(g.buf) == 0 {
			return // the handler wrote nothing: net/http sends its 200
		}
		g.decide(false)
	}
	if g.zw != nil {
		g.zw.Close()
		g.zw.Reset(io.Discard)
		gzipWriters.Put(g.zw)
		g.zw = nil
	}
}

func compressibleType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && gzipTypes[mt]
}

// bodyAllowed reports whether an answer with this status may have a body.
func bodyAllowed(code int) bool {
	return code >= 200 && code != http.StatusNoContent && code != http.StatusNotModified
}
