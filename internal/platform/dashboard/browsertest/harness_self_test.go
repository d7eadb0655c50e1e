package browsertest_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestChecksCatchProblems shows that the checks every page test relies on
// fail when they should: axe-core reports an image without a text
// alternative and an unlabelled input, and the request recorder reports a
// request to another origin (the same server under the name localhost is
// another origin than 127.0.0.1).
func TestChecksCatchProblems(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			other := strings.Replace("http://"+r.Host, "127.0.0.1", "localhost", 1)
			w.Write([]byte(`<!doctype html><html lang="en"><head><title>bad page</title></head><body>
<main><img src="/pixel.png"><input type="text">
<script>fetch(` + js(other+"/elsewhere") + `).catch(() => {}).finally(() => document.body.dataset.done = "1")</script>
</main></body></html>`))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	e := &env{t: t, url: srv.URL}
	p := e.newPage(t)
	p.open("/")
	until[bool](p, "the page's fetch", `document.body.dataset.done === "1"`)

	got := map[string]bool{}
	for _, v := range p.axeViolations() {
		got[v.ID] = true
	}
	for _, id := range []string{"image-alt", "label"} {
		if !got[id] {
			t.Errorf("axe-core did not report %s on a page that breaks it; reported %v", id, got)
		}
	}
	foreign := p.foreign()
	if len(foreign) != 1 || !strings.HasPrefix(foreign[0].url, "http://localhost:") {
		t.Errorf("requests to another origin = %+v, want the one fetch to localhost", foreign)
	}
	// The request is the point of this test: let the end-of-test check pass.
	for _, r := range foreign {
		p.allowOrigin(r.url)
	}
}
