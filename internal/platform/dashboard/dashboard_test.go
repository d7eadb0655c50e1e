package dashboard

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
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

func readBody(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// inputsHash computes what web/build.sh writes to assets/inputs.sha256:
// the sha256sum lines of the build's inputs, hashed again.
func inputsHash(t *testing.T) string {
	t.Helper()
	files := []string{"build.sh", "licenses.mjs", "package.json", "package-lock.json", "tsconfig.json"}
	var src []string
	err := filepath.WalkDir("web/src", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			src = append(src, strings.TrimPrefix(filepath.ToSlash(p), "web/"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(src) // byte order, as LC_ALL=C sort
	var lines bytes.Buffer
	for _, f := range append(files, src...) {
		b, err := os.ReadFile(filepath.Join("web", f))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&lines, "%x  %s\n", sha256.Sum256(b), f)
	}
	sum := sha256.Sum256(lines.Bytes())
	return hex.EncodeToString(sum[:])
}

// TestBundleMatchesSources fails when web/src, the lockfile or the build
// script changed without a rebuild (CI has no npm to rebuild with).
func TestBundleMatchesSources(t *testing.T) {
	built, err := os.ReadFile("assets/inputs.sha256")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := inputsHash(t), strings.TrimSpace(string(built)); got != want {
		t.Fatalf("assets/ were built from other sources (inputs hash %s, assets/inputs.sha256 says %s): run sh internal/platform/dashboard/web/build.sh and commit assets/", got, want)
	}
}

// TestBundleSize keeps the dashboard's JavaScript under 150 KiB gzipped.
func TestBundleSize(t *testing.T) {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(assetsByFile["app.js"].Body)
	zw.Close()
	if n := buf.Len(); n > 150*1024 {
		t.Errorf("app.js is %d bytes gzipped, over 150 KiB", n)
	} else {
		t.Logf("app.js: %d bytes, %d gzipped; app.css: %d bytes", len(assetsByFile["app.js"].Body), n, len(assetsByFile["app.css"].Body))
	}
}

var assetRef = regexp.MustCompile(`(?:src|href)="(/ui/[^"]+)"`)

func TestShell(t *testing.T) {
	for _, mode := range []string{"self-managed", "dedicated", "multi-tenant"} {
		h := Handler(mode)
		paths := []string{"/signin", "/signin?return_to=%2Forg%2Fdashboard"}
		if mode == "multi-tenant" {
			paths = append(paths, "/account-settings/", "/account-settings/acme/members", "/account-settings/acme/audit-log",
				"/account-settings/acme/alerts", "/account-settings/acme/integrity")
		} else {
			paths = append(paths, "/org/dashboard", "/org/dashboard/", "/org/dashboard?org=acme&tab=activity")
		}
		for _, p := range paths {
			t.Run(mode+" "+p, func(t *testing.T) {
				resp := get(t, h, "GET", p)
				if resp.StatusCode != 200 {
					t.Fatalf("status %d", resp.StatusCode)
				}
				if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
					t.Errorf("Content-Type %q", ct)
				}
				if got := resp.Header.Get("Content-Security-Policy"); got != ContentSecurityPolicy {
					t.Errorf("CSP %q", got)
				}
				if got := resp.Header.Get("Cache-Control"); got != "no-store" {
					t.Errorf("Cache-Control %q", got)
				}
				page := string(readBody(t, resp))
				if !strings.Contains(page, `<meta name="auditgraph-deployment" content="`+mode+`">`) {
					t.Errorf("no deployment meta tag:\n%s", page)
				}
				if regexp.MustCompile(`(?i)https?:`).MatchString(page) {
					t.Errorf("page names an external URL:\n%s", page)
				}
				if regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]`).MatchString(page) || strings.Contains(page, " style=") {
					t.Errorf("page has inline script or style:\n%s", page)
				}
				urls := assetRef.FindAllStringSubmatch(page, -1)
				// boot.js, app.css, app.js and the chunks app.js imports.
				if len(urls) != 3+len(preloads()) || len(preloads()) == 0 {
					t.Fatalf("page references %d assets, want 3 (boot.js, app.css, app.js) and app.js's %d chunks:\n%s", len(urls), len(preloads()), page)
				}
				for _, u := range urls {
					if !regexp.MustCompile(`^/ui/((app|boot)\.[0-9a-f]{16}\.(js|css)|[a-z]+-[A-Z0-9]{8}\.js)$`).MatchString(u[1]) {
						t.Errorf("asset URL %q is not hashed", u[1])
					}
				}
			})
		}
	}
}

// TestChunks: every module the bundle imports (at its start or later, as
// the activity views) is served, as JavaScript, immutable, and is no
// other build's: each import names an embedded file.
func TestChunks(t *testing.T) {
	h := Handler("self-managed")
	imports := regexp.MustCompile(`(?:from|import\(?)"\./([\w-]+\.js)"`)
	seen := map[string]bool{}
	for name, a := range assets {
		if !strings.HasSuffix(name, ".js") {
			continue
		}
		for _, m := range imports.FindAllSubmatch(a.Body, -1) {
			seen[string(m[1])] = true
		}
	}
	if len(seen) < 2 {
		t.Fatalf("the bundle imports %v; want app.js's chunk and the activity chunk", seen)
	}
	for f := range seen {
		resp := get(t, h, "GET", AssetPrefix+f)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/javascript; charset=utf-8" ||
			resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s = %d, %q, Cache-Control %q", f, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
		}
	}
}

func TestCSP(t *testing.T) {
	const want = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
	if ContentSecurityPolicy != want {
		t.Errorf("CSP\n got %s\nwant %s", ContentSecurityPolicy, want)
	}
}

func TestAssets(t *testing.T) {
	h := Handler("self-managed")
	page := string(readBody(t, get(t, h, "GET", "/org/dashboard")))
	for _, m := range assetRef.FindAllStringSubmatch(page, -1) {
		u := m[1]
		t.Run(u, func(t *testing.T) {
			resp := get(t, h, "GET", u)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if got := resp.Header.Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
				t.Errorf("Cache-Control %q", got)
			}
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q", got)
			}
			plain := readBody(t, resp)
			if len(plain) == 0 {
				t.Fatal("empty asset")
			}
			gz := get(t, h, "GET", u, "Accept-Encoding", "gzip")
			if gz.Header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("no gzip: %v", gz.Header)
			}
			zr, err := gzip.NewReader(gz.Body)
			if err != nil {
				t.Fatal(err)
			}
			unz, _ := io.ReadAll(zr)
			if !bytes.Equal(unz, plain) {
				t.Error("gzipped asset differs from the plain one")
			}
			etag := gz.Header.Get("ETag")
			if nm := get(t, h, "GET", u, "Accept-Encoding", "gzip", "If-None-Match", etag); nm.StatusCode != http.StatusNotModified {
				t.Errorf("If-None-Match: status %d", nm.StatusCode)
			}
		})
	}
	if resp := get(t, h, "GET", "/ui/licenses.txt"); resp.StatusCode != 200 || !strings.Contains(string(readBody(t, resp)), "preact@10.27.2") {
		t.Errorf("licenses.txt: status %d, or preact not listed", resp.StatusCode)
	}
	for _, p := range []string{"/ui/app.js", "/ui/app.0000000000000000.js", "/ui/", "/ui/inputs.sha256", "/org/dashboard/x", "/account-settings/a/b/members", "/account-settings/x", "/account-settings/acme/keys"} {
		if resp := get(t, h, "GET", p); resp.StatusCode != 404 {
			t.Errorf("GET %s: status %d, want 404", p, resp.StatusCode)
		}
	}
	if resp := get(t, h, "POST", "/signin"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /signin: status %d, want 405", resp.StatusCode)
	}
	if resp := get(t, h, "HEAD", "/signin"); resp.StatusCode != 200 || len(readBody(t, resp)) != 0 {
		t.Errorf("HEAD /signin: status %d or a body", resp.StatusCode)
	}
}

// TestModeRedirects: each deployment family has its own dashboard address;
// the other one redirects there, keeping the organization.
func TestModeRedirects(t *testing.T) {
	cases := []struct{ mode, path, want string }{
		{"multi-tenant", "/org/dashboard", "/account-settings/"},
		{"multi-tenant", "/org/dashboard/", "/account-settings/"},
		{"multi-tenant", "/org/dashboard?org=acme&tab=activity", "/account-settings/acme/members"},
		{"multi-tenant", "/org/dashboard?org=%2F%2Fevil.example", "/account-settings/"},
		{"self-managed", "/account-settings/", "/org/dashboard"},
		{"dedicated", "/account-settings/acme/members", "/org/dashboard?org=acme"},
		{"self-managed", "/account-settings/acme/members", "/org/dashboard?org=acme"},
		{"self-managed", "/account-settings/acme/audit-log", "/org/dashboard?org=acme&tab=audit-log"},
		{"dedicated", "/account-settings/acme/integrity", "/org/dashboard?org=acme&tab=integrity"},
		{"multi-tenant", "/org/dashboard?org=acme&tab=alerts", "/account-settings/acme/alerts"},
	}
	for _, c := range cases {
		t.Run(c.mode+" "+c.path, func(t *testing.T) {
			resp := get(t, Handler(c.mode), "GET", c.path)
			if resp.StatusCode != http.StatusFound {
				t.Fatalf("status %d, want 302", resp.StatusCode)
			}
			if got := resp.Header.Get("Location"); got != c.want {
				t.Errorf("Location %q, want %q", got, c.want)
			}
		})
	}
}
