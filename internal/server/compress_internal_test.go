package server

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestCompressAnswers: answers of the API's types, long enough, are gzipped
// for a client that accepts gzip, and only then; the rest pass as written.
func TestCompressAnswers(t *testing.T) {
	long := `{"data":"` + strings.Repeat("abc", 1000) + `"}`
	for _, tc := range []struct {
		name, accept, ctype, encoding, body string
		code                                int
		gzipped                             bool
	}{
		{name: "long JSON", accept: "gzip, deflate, br", ctype: "application/json", body: long, gzipped: true},
		{name: "GraphQL response type", accept: "gzip", ctype: "application/graphql-response+json; charset=utf-8", body: long, gzipped: true},
		{name: "NDJSON", accept: "gzip", ctype: "application/x-ndjson", body: long, gzipped: true},
		{name: "error status", accept: "gzip", ctype: "application/json", body: long, code: 400, gzipped: true},
		{name: "no Accept-Encoding", ctype: "application/json", body: long},
		{name: "gzip refused", accept: "gzip;q=0, br", ctype: "application/json", body: long},
		{name: "short", accept: "gzip", ctype: "application/json", body: `{"data":{}}`},
		{name: "image", accept: "gzip", ctype: "image/png", body: long},
		{name: "encoded by the handler", accept: "gzip", ctype: "application/json", encoding: "br", body: long},
		{name: "not modified", accept: "gzip", ctype: "application/json", code: 304},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := compressAnswers(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.ctype)
				w.Header().Set("Content-Length", "999999") // wrong once gzipped: must go
				if tc.encoding != "" {
					w.Header().Set("Content-Encoding", tc.encoding)
					w.Header().Del("Content-Length")
				}
				if tc.code != 0 {
					w.WriteHeader(tc.code)
				}
				// In pieces, as an encoder writes.
				for b := []byte(tc.body); len(b) > 0; {
					n := min(len(b), 300)
					w.Write(b[:n])
					b = b[n:]
				}
			}))
			req := httptest.NewRequest("POST", "/graphql", nil)
			if tc.accept != "" {
				req.Header.Set("Accept-Encoding", tc.accept)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if want := max(tc.code, 200); rec.Code != want {
				t.Errorf("status %d, want %d", rec.Code, want)
			}
			got := rec.Body.Bytes()
			enc := rec.Header().Get("Content-Encoding")
			if tc.gzipped {
				if enc != "gzip" {
					t.Fatalf("Content-Encoding %q, want gzip", enc)
				}
				if cl := rec.Header().Get("Content-Length"); cl != "" {
					t.Errorf("Content-Length %q left on a gzipped answer", cl)
				}
				if v := rec.Header().Get("Vary"); v != "Accept-Encoding" {
					t.Errorf("Vary %q", v)
				}
				zr, err := gzip.NewReader(bytes.NewReader(got))
				if err != nil {
					t.Fatal(err)
				}
				if got, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
				if len(rec.Body.Bytes()) >= len(tc.body)/4 {
					t.Errorf("gzipped to %d bytes from %d", len(rec.Body.Bytes()), len(tc.body))
				}
			} else if enc != tc.encoding {
				t.Errorf("Content-Encoding %q, want %q", enc, tc.encoding)
			}
			if string(got) != tc.body {
				t.Errorf("body %.80q…, want %.80q…", got, tc.body)
			}
		})
	}
}

// TestCompressStreams: a handler's Flush sends what it wrote so far, gzipped,
// so that a stream (NDJSON lines) reaches the client line by line.
func TestCompressStreams(t *testing.T) {
	next := make(chan struct{})
	srv := httptest.NewServer(compressAnswers(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		for i := range 3 {
			io.WriteString(w, `{"line":`+string(rune('0'+i))+"}\n")
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-time.After(10 * time.Second):
				return
			}
		}
	})))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Accept-Encoding", "gzip") // set by hand: the client does not decompress
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if enc := resp.Header.Get("Content-Encoding"); enc != "gzip" {
		t.Fatalf("Content-Encoding %q, want gzip", enc)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewReader(zr)
	for i := range 3 {
		// Each line arrives while the handler still waits to write the next.
		line, err := lines.ReadString('\n')
		if err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if want := `{"line":` + string(rune('0'+i)) + "}\n"; line != want {
			t.Errorf("line %d = %q, want %q", i, line, want)
		}
		next <- struct{}{}
	}
	if rest, _ := io.ReadAll(lines); len(rest) != 0 {
		t.Errorf("after the lines: %q", rest)
	}
}

// TestCompressPassesUpgrades: a WebSocket upgrade gets the connection's own
// ResponseWriter, which it hijacks.
func TestCompressPassesUpgrades(t *testing.T) {
	var hijacked bool
	srv := httptest.NewServer(compressAnswers(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := w.(*gzipWriter); ok {
			t.Error("an upgrade got the gzip writer")
		}
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		hijacked = true
		c.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"))
		c.Close()
	})))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols || !hijacked {
		t.Errorf("status %d, hijacked %v", resp.StatusCode, hijacked)
	}
}
