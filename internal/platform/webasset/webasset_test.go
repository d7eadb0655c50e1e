package webasset

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func serve(t *testing.T, a *Asset, immutable bool, method string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, "/x", nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	Serve(rec, req, a, immutable)
	return rec.Result()
}

func TestAcceptsGzip(t *testing.T) {
	for header, want := range map[string]bool{
		"":                   false,
		"gzip":               true,
		"deflate, gzip":      true,
		"gzip;q=0":           false,
		"gzip; q=0.5, br":    true,
		"br;q=1, gzip;q=0.0": false,
		"identity":           false,
		"X-GZIP":             true,
	} {
		t.Run(cmp.Or(header, "none"), func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			if header != "" {
				req.Header.Set("Accept-Encoding", header)
			}
			if got := AcceptsGzip(req); got != want {
				t.Errorf("Accept-Encoding %q: %v, want %v", header, got, want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	fsys := fstest.MapFS{
		"assets/app.js":       {Data: []byte("console.log(1)")},
		"assets/app.css":      {Data: []byte("body{}")},
		"assets/licenses.txt": {Data: []byte("MIT")},
		"assets/logo.bin":     {Data: []byte{0, 1}},
	}
	all := Load(fsys, "assets")
	if len(all) != 4 {
		t.Fatalf("Load of the folder: %d assets, want 4", len(all))
	}
	some := Load(fsys, "assets", "app.js", "licenses.txt")
	if len(some) != 2 || some["app.js"] == nil || some["licenses.txt"] == nil {
		t.Fatalf("Load of two files: %v", some)
	}
	for file, want := range map[string]string{
		"app.js":       "text/javascript; charset=utf-8",
		"app.css":      "text/css; charset=utf-8",
		"licenses.txt": "text/plain; charset=utf-8",
		"logo.bin":     "application/octet-stream",
	} {
		if got := all[file].ContentType; got != want {
			t.Errorf("%s: ContentType %q, want %q", file, got, want)
		}
	}
	js := all["app.js"]
	if len(js.Hash) != 16 || js.HashedName() != "app."+js.Hash+".js" {
		t.Errorf("Hash %q, HashedName %q", js.Hash, js.HashedName())
	}
	if New("app.js", []byte("other")).Hash == js.Hash {
		t.Error("different bodies have the same hash")
	}
	defer func() {
		if recover() == nil {
			t.Error("Load of a missing file did not panic")
		}
	}()
	Load(fsys, "assets", "nope.js")
}

func TestServe(t *testing.T) {
	body := []byte(strings.Repeat("function f(){return 1}\n", 200))
	a := New("app.js", body)
	for _, immutable := range []bool{true, false} {
		wantCC := map[bool]string{true: "public, max-age=31536000, immutable", false: "no-cache"}[immutable]
		resp := serve(t, a, immutable, "GET")
		plain, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !bytes.Equal(plain, body) {
			t.Fatalf("plain: status %d, %d bytes", resp.StatusCode, len(plain))
		}
		for k, want := range map[string]string{
			"Content-Type":     "text/javascript; charset=utf-8",
			"Cache-Control":    wantCC,
			"Vary":             "Accept-Encoding",
			"ETag":             `"` + a.Hash + `"`,
			"Content-Encoding": "",
		} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("immutable %v: %s %q, want %q", immutable, k, got, want)
			}
		}
	}

	gz := serve(t, a, true, "GET", "Accept-Encoding", "br, gzip")
	if gz.Header.Get("Content-Encoding") != "gzip" || gz.Header.Get("ETag") != `"`+a.Hash+`-gzip"` {
		t.Fatalf("gzip: Content-Encoding %q, ETag %q", gz.Header.Get("Content-Encoding"), gz.Header.Get("ETag"))
	}
	zr, err := gzip.NewReader(gz.Body)
	if err != nil {
		t.Fatal(err)
	}
	if unz, _ := io.ReadAll(zr); !bytes.Equal(unz, body) {
		t.Error("gzipped body differs from the plain one")
	}
	first, second := a.Gzipped(), a.Gzipped()
	if &first[0] != &second[0] {
		t.Error("compressed again on the second use")
	}

	if resp := serve(t, a, true, "GET", "Accept-Encoding", "gzip;q=0"); resp.Header.Get("Content-Encoding") != "" {
		t.Error("gzip sent although q=0")
	}

	// Revalidation: each encoding's ETag answers 304; the other one does not.
	if resp := serve(t, a, true, "GET", "Accept-Encoding", "gzip", "If-None-Match", `"`+a.Hash+`-gzip"`); resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match gzip ETag: status %d", resp.StatusCode)
	}
	if resp := serve(t, a, true, "GET", "If-None-Match", `"`+a.Hash+`"`); resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match plain ETag: status %d", resp.StatusCode)
	}
	if resp := serve(t, a, true, "GET", "If-None-Match", `"`+a.Hash+`-gzip"`); resp.StatusCode != 200 {
		t.Errorf("plain request with the gzip ETag: status %d, want 200", resp.StatusCode)
	}

	if resp := serve(t, a, true, "HEAD"); resp.StatusCode != 200 || resp.Header.Get("Content-Length") != "4600" {
		t.Errorf("HEAD: status %d, Content-Length %q", resp.StatusCode, resp.Header.Get("Content-Length"))
	} else if b, _ := io.ReadAll(resp.Body); len(b) != 0 {
		t.Errorf("HEAD: %d bytes of body", len(b))
	}
}
