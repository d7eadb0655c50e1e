// Package webasset serves embedded web assets (a page's JavaScript, CSS and
// license text) the way the dashboard and the GraphQL playground both need:
// a content hash for cache busting, an ETag, gzip when the request accepts it
// (compressed once, on first use) and long immutable caching for a URL that
// names the exact bytes.
//
// The caller keeps its own routes, URLs and security headers: it sets those
// headers on the response before calling Serve.
package webasset

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// contentTypes are the types of the files a page embeds, by extension.
var contentTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
	".txt": "text/plain; charset=utf-8",
}

// Asset is one embedded file with what serving it needs.
type Asset struct {
	// File is the file's name in its folder, such as "app.js".
	File string
	// ContentType is sent as Content-Type: by the extension (.js, .css,
	// .txt), else application/octet-stream.
	ContentType string
	// Body is the file's content.
	Body []byte
	// Hash is the hex of the first 8 bytes of Body's SHA-256: the asset's
	// version, and its ETag.
	Hash string

	gzOnce sync.Once
	gz     []byte
}

// New returns the asset for file with content body.
func New(file string, body []byte) *Asset {
	sum := sha256.Sum256(body)
	ct, ok := contentTypes[path.Ext(file)]
	if !ok {
		ct = "application/octet-stream"
	}
	return &Asset{File: file, ContentType: ct, Body: body, Hash: hex.EncodeToString(sum[:8])}
}

// Load reads the named files from folder dir of fsys (all of its files when
// files is empty) and returns them by file name. It panics if one cannot be
// read: the files are embedded in the binary, so that is a build error.
func Load(fsys fs.FS, dir string, files ...string) map[string]*Asset {
	if len(files) == 0 {
		entries, err := fs.ReadDir(fsys, dir)
		if err != nil {
			panic(err)
		}
		for _, e := range entries {
			if e.Type().IsRegular() {
				files = append(files, e.Name())
			}
		}
	}
	m := make(map[string]*Asset, len(files))
	for _, f := range files {
		body, err := fs.ReadFile(fsys, path.Join(dir, f))
		if err != nil {
			panic(err)
		}
		m[f] = New(f, body)
	}
	return m
}

// HashedName is the file's name with its hash before the extension:
// app.js becomes app.<hash>.js.
func (a *Asset) HashedName() string {
	ext := path.Ext(a.File)
	return strings.TrimSuffix(a.File, ext) + "." + a.Hash + ext
}

// Gzipped is Body compressed with gzip, computed once, on first use.
func (a *Asset) Gzipped() []byte {
	a.gzOnce.Do(func() {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(a.Body)
		zw.Close()
		a.gz = buf.Bytes()
	})
	return a.gz
}

// Serve writes the asset for a GET or HEAD request: Content-Type, Vary:
// Accept-Encoding, Cache-Control (a year and immutable when the URL always
// names these bytes, else no-cache), gzip when AcceptsGzip, and an ETag per
// encoding, answering If-None-Match and Range as http.ServeContent does.
func Serve(w http.ResponseWriter, r *http.Request, a *Asset, immutable bool) {
	hd := w.Header()
	hd.Set("Content-Type", a.ContentType)
	hd.Add("Vary", "Accept-Encoding")
	if immutable {
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hd.Set("Cache-Control", "no-cache")
	}
	body, etag := a.Body, `"`+a.Hash+`"`
	if AcceptsGzip(r) {
		body, etag = a.Gzipped(), `"`+a.Hash+`-gzip"`
		hd.Set("Content-Encoding", "gzip")
	}
	hd.Set("ETag", etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// AcceptsGzip reports whether the request's Accept-Encoding allows gzip
// (gzip or x-gzip with a q above 0).
func AcceptsGzip(r *http.Request) bool {
	for _, field := range r.Header.Values("Accept-Encoding") {
		for _, part := range strings.Split(field, ",") {
			coding, params, _ := strings.Cut(part, ";")
			if c := strings.ToLower(strings.TrimSpace(coding)); c != "gzip" && c != "x-gzip" {
				continue
			}
			q := 1.0
			if k, v, ok := strings.Cut(params, "="); ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
			return q > 0
		}
	}
	return false
}
