package playground

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, target string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var assetRef = regexp.MustCompile(`(?:src|href)="(/graphiql/assets/[^"]+)"`)

// pageAssets returns the asset URLs the page references.
func pageAssets(t *testing.T, page string) []string {
	t.Helper()
	var urls []string
	for _, m := range assetRef.FindAllStringSubmatch(page, -1) {
		urls = append(urls, strings.ReplaceAll(m[1], "&amp;", "&"))
	}
	return urls
}

func TestPage(t *testing.T) {
	h := Handler("/graphql")
	resp := get(t, h, "GET", "/graphiql")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type %q", ct)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "style-src 'self'", "connect-src 'self' ws: wss:", "default-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP allows inline code: %q", csp)
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("page Cache-Control %q", got)
	}
	page := string(body(t, resp))
	if regexp.MustCompile(`(?i)https?:`).MatchString(page) {
		t.Errorf("page names an external URL:\n%s", page)
	}
	if strings.Contains(page, "<script>") || regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]`).MatchString(page) {
		t.Errorf("page has an inline script:\n%s", page)
	}
	if !strings.Contains(page, `data-graphql-path="/graphql"`) {
		t.Errorf("page does not name the GraphQL path:\n%s", page)
	}
	urls := pageAssets(t, page)
	want := map[string]bool{"/graphiql/assets/graphiql.js": false, "/graphiql/assets/graphiql.css": false}
	for _, u := range urls {
		p, _, _ := strings.Cut(u, "?")
		if _, ok := want[p]; ok {
			want[p] = true
		}
		if !strings.Contains(u, "?v=") {
			t.Errorf("asset URL %q has no version", u)
		}
	}
	for p, seen := range want {
		if !seen {
			t.Errorf("page does not load %s:\n%s", p, page)
		}
	}
}

func TestAssets(t *testing.T) {
	h := Handler("/graphql")
	page := string(body(t, get(t, h, "GET", "/graphiql")))
	types := map[string]string{".js": "text/javascript", ".css": "text/css"}
	minSize := map[string]int{".js": 100 << 10, ".css": 10 << 10}
	for _, u := range pageAssets(t, page) {
		p, _, _ := strings.Cut(u, "?")
		name := strings.TrimPrefix(p, "/graphiql/assets/")
		ext := name[strings.LastIndex(name, "."):]
		t.Run(name, func(t *testing.T) {
			resp := get(t, h, "GET", u)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, types[ext]) {
				t.Errorf("Content-Type %q, want %s", ct, types[ext])
			}
			if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age=31536000") || !strings.Contains(cc, "immutable") {
				t.Errorf("Cache-Control %q", cc)
			}
			if resp.Header.Get("Content-Encoding") != "" {
				t.Errorf("compressed without Accept-Encoding")
			}
			got := body(t, resp)
			if len(got) < minSize[ext] {
				t.Errorf("%d bytes, want at least %d", len(got), minSize[ext])
			}
			embedded, err := assetFS.ReadFile("assets/" + name)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, embedded) {
				t.Errorf("served bytes differ from the embedded file")
			}
			onDisk, err := os.ReadFile("assets/" + name)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(embedded, onDisk) {
				t.Errorf("embedded file differs from assets/%s", name)
			}
			if ext == ".css" && regexp.MustCompile(`(?i)url\(\s*["']?(https?:)?//`).Match(got) {
				t.Errorf("CSS loads something from another origin")
			}
			if ext == ".css" && regexp.MustCompile(`(?i)@import`).Match(got) {
				t.Errorf("CSS has an @import")
			}

			// gzip when asked, with the same bytes inside.
			resp = get(t, h, "GET", u, "Accept-Encoding", "br, gzip")
			if resp.Header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("Content-Encoding %q", resp.Header.Get("Content-Encoding"))
			}
			zr, err := gzip.NewReader(bytes.NewReader(body(t, resp)))
			if err != nil {
				t.Fatal(err)
			}
			unz, err := io.ReadAll(zr)
			if err != nil || !bytes.Equal(unz, embedded) {
				t.Errorf("gzip body differs from the embedded file (err %v)", err)
			}

			// Revalidation by ETag.
			etag := resp.Header.Get("ETag")
			resp = get(t, h, "GET", u, "Accept-Encoding", "gzip", "If-None-Match", etag)
			if resp.StatusCode != http.StatusNotModified {
				t.Errorf("If-None-Match: status %d", resp.StatusCode)
			}
		})
	}
}

func TestAssetWithoutCurrentVersionIsNotCachedForLong(t *testing.T) {
	h := Handler("/graphql")
	for _, target := range []string{"/graphiql/assets/graphiql.js", "/graphiql/assets/graphiql.js?v=0000"} {
		t.Run(target, func(t *testing.T) {
			resp := get(t, h, "GET", target)
			if resp.StatusCode != 200 {
				t.Fatalf("%s: status %d", target, resp.StatusCode)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" {
				t.Errorf("%s: Cache-Control %q", target, cc)
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	h := Handler("/graphql")
	for _, target := range []string{
		"/graphiql/x", "/graphiql/assets/", "/graphiql/assets/nope.js",
		"/graphiql/assets/../playground.go", "/graphiql/index.html", "/graphiqlx", "/graphql",
	} {
		t.Run(target, func(t *testing.T) {
			resp := get(t, h, "GET", target)
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s: status %d, want 404", target, resp.StatusCode)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("%s: Content-Type %q", target, ct)
			}
		})
	}
}

// /graphiql/ is where a user who types the address as a folder lands.
func TestTrailingSlashRedirectsToPage(t *testing.T) {
	h := Handler("/graphql")
	for target, want := range map[string]string{"/graphiql/": "/graphiql", "/graphiql/?query=%7B%7D": "/graphiql?query=%7B%7D"} {
		t.Run(target, func(t *testing.T) {
			for _, method := range []string{"GET", "HEAD"} {
				resp := get(t, h, method, target)
				if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != want {
					t.Errorf("%s %s: status %d, Location %q; want 301 to %s", method, target, resp.StatusCode, resp.Header.Get("Location"), want)
				}
			}
		})
	}
	if resp := get(t, h, "POST", "/graphiql/"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /graphiql/: status %d, want 405", resp.StatusCode)
	}
}

func TestMethods(t *testing.T) {
	h := Handler("/graphql")
	resp := get(t, h, "HEAD", "/graphiql")
	if resp.StatusCode != 200 || len(body(t, resp)) != 0 {
		t.Errorf("HEAD: status %d", resp.StatusCode)
	}
	for _, target := range []string{"/graphiql", "/graphiql/assets/graphiql.js"} {
		t.Run(target, func(t *testing.T) {
			resp := get(t, h, "POST", target)
			if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("POST %s: status %d, Allow %q", target, resp.StatusCode, resp.Header.Get("Allow"))
			}
		})
	}
}

func TestGraphQLPathIsEscaped(t *testing.T) {
	page := string(body(t, get(t, Handler(`/api/"><script>x</script>`), "GET", "/graphiql")))
	if strings.Contains(page, "<script>x") {
		t.Errorf("graphqlPath not escaped:\n%s", page)
	}
}

func TestBadGraphQLPath(t *testing.T) {
	for _, p := range []string{"", "graphql", "//evil.example/graphql", "https://evil.example/graphql"} {
		t.Run(cmp.Or(p, "empty"), func(t *testing.T) {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("Handler(%q) did not panic", p)
					}
				}()
				Handler(p)
			}()
		})
	}
}
