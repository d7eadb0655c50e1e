package server_test

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/internal/app"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/internal/platform/metrics/metricstest"
	"github.com/auditgraph/auditgraph/internal/server"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

// The decompressed size over which every batch is refused.
const ingestLimit = 256 << 20

// serveWith replaces e's server with one configured by cfg.
func (e *restEnv) serveWith(cfg func(*server.Config)) {
	c := server.Config{Services: app.New(e.store), Identity: e.ids, Mode: deployment.SelfManaged, Log: slog.New(slog.DiscardHandler)}
	cfg(&c)
	srv := httptest.NewServer(server.New(c))
	e.t.Cleanup(srv.Close)
	e.url = srv.URL
}

// post sends a batch as user to acme: body with its length (size, -1 for
// none) and encoding ("" or gzip).
func (e *restEnv) post(user string, body io.Reader, size int64, encoding string) (*http.Response, map[string]any) {
	e.t.Helper()
	req, err := http.NewRequest("POST", e.url+"/api/v1/audit_events", body)
	if err != nil {
		e.t.Fatal(err)
	}
	req.ContentLength = size
	req.SetBasicAuth(user, e.keys[user])
	req.Header.Set("Content-Type", "application/x-ndjson")
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	resp, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &m); err != nil {
		e.t.Fatalf("answer %d %q is not JSON: %v", resp.StatusCode, b, err)
	}
	return resp, m
}

// stored counts acme's events reported with cli_version marker.
func (e *restEnv) stored(marker string) int {
	e.t.Helper()
	var n int
	if err := e.store.DB().Get(&n, `SELECT count(*) FROM audit_events e JOIN organizations o ON o.id = e.org_id
		WHERE o.name = 'acme' AND e.cli_version = $1`, marker); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// gzipped compresses b as one gzip member.
func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// repeatLines returns n copies of line, each ending in a newline.
func repeatLines(line string, n int) []byte {
	return bytes.Repeat([]byte(line+"\n"), n)
}

// repeatReader reads n copies of b without holding them.
func repeatReader(b []byte, n int) io.Reader {
	rs := make([]io.Reader, n)
	for i := range rs {
		rs[i] = bytes.NewReader(b)
	}
	return io.MultiReader(rs...)
}

// bigLine is a valid line marked with marker, 8 KiB with its newline, so
// that the limit falls between two lines.
func bigLine(marker string) string {
	l := fmt.Sprintf(`{"action":"run:update","cli_version":%q,"entity_name":"%s","project_name":""}`, marker, strings.Repeat("e", 4000))
	return strings.Replace(l, `"project_name":""`, `"project_name":"`+strings.Repeat("p", 8191-len(l))+`"`, 1)
}

// TestIngestOverLimitStoresNothing sends batches whose decompressed size
// passes the limit: each must be refused whole, with 413, however it is
// encoded. A gzip trailer states only the last member's size, so several
// members (or a trailer that lies) are caught while decompressing.
func TestIngestOverLimitStoresNothing(t *testing.T) {
	e := newRestEnv(t, deployment.SelfManaged)
	const lines = 40_000 // of 8 KiB: 320 MB, over the limit
	oneMember := func(m string) []byte { return gzipped(repeatLines(bigLine(m), lines)) }
	for _, tc := range []struct {
		name     string
		body     func(marker string) (io.Reader, int64)
		encoding string
	}{
		{"plain", func(m string) (io.Reader, int64) {
			line := []byte(bigLine(m) + "\n")
			return repeatReader(line, lines), int64(len(line)) * lines
		}, ""},
		{"gzip, one member", func(m string) (io.Reader, int64) {
			z := oneMember(m)
			return bytes.NewReader(z), int64(len(z))
		}, "gzip"},
		{"gzip, forty members", func(m string) (io.Reader, int64) {
			z := bytes.Repeat(gzipped(repeatLines(bigLine(m), lines/40)), 40)
			return bytes.NewReader(z), int64(len(z))
		}, "gzip"},
		{"gzip of 1 GiB of newlines, a line last", func(m string) (io.Reader, int64) {
			z := append(bytes.Repeat(gzipped(bytes.Repeat([]byte("\n"), 1<<20)), 1024), gzipped(repeatLines(bigLine(m), 1))...)
			return bytes.NewReader(z), int64(len(z))
		}, "gzip"},
		{"gzip, no Content-Length", func(m string) (io.Reader, int64) {
			return bytes.NewReader(oneMember(m)), -1
		}, "gzip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := *e
			e.t = t
			body, size := tc.body(t.Name())
			start := time.Now()
			resp, m := e.post("alice", body, size, tc.encoding)
			if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(fmt.Sprint(m["error"]), fmt.Sprint(ingestLimit)) {
				t.Errorf("batch = %d %v, want 413 naming the limit", resp.StatusCode, m)
			}
			if n := e.stored(t.Name()); n != 0 {
				t.Errorf("%d events of the refused batch stored, want 0", n)
			}
			t.Logf("refused in %s", time.Since(start).Round(time.Millisecond))
		})
	}
	// Under the limit, several gzip members are one batch.
	marker := t.Name() + "/members"
	z := bytes.Repeat(gzipped(repeatLines(`{"action":"run:update","cli_version":"`+marker+`"}`, 100)), 3)
	if resp, m := e.post("alice", bytes.NewReader(z), int64(len(z)), "gzip"); resp.StatusCode != http.StatusOK || m["stored"] != 300.0 {
		t.Errorf("three gzip members of 100 lines = %d %v, want 200 with 300 stored", resp.StatusCode, m)
	}
}

func TestIngestRefusesRepeatedKey(t *testing.T) {
	e := newRestEnv(t, deployment.SelfManaged)
	body := `{"action":"user:login","cli_version":"dup"}` + "\n" +
		`{"action":"user:login","cli_version":"dup","actor_email":"bob@x.io","action":"user:logout"}` + "\n"
	resp, m := e.post("alice", strings.NewReader(body), int64(len(body)), "")
	if resp.StatusCode != http.StatusBadRequest || m["line"] != 2.0 || m["field"] != "action" || !strings.Contains(fmt.Sprint(m["error"]), "repeated key") {
		t.Errorf("batch with a repeated key = %d %v, want 400 naming line 2 and the key action", resp.StatusCode, m)
	}
	if n := e.stored("dup"); n != 0 {
		t.Errorf("%d events of the refused batch stored, want 0", n)
	}
}

// holdBatch starts a plain batch of size bytes whose body stops after its
// first line until the returned function is called; the batch then ends
// and its answer is sent on the channel.
func (e *restEnv) holdBatch(marker string, size int) (finish func(), answer <-chan int) {
	line := `{"action":"run:update","cli_version":"` + marker + `"}` + "\n"
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("POST", e.url+"/api/v1/audit_events", pr)
		req.ContentLength = int64(size)
		req.SetBasicAuth("alice", e.keys["alice"])
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	go pw.Write([]byte(line))
	var once sync.Once
	return func() {
		once.Do(func() {
			pw.Write(bytes.Repeat([]byte("\n"), size-len(line)))
			pw.Close()
		})
	}, done
}

// awaitIngestMemory waits until the batches in flight hold n bytes.
func (e *restEnv) awaitIngestMemory(n float64) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := metricstest.Parse(e.t, e.scrapeMetrics()).Get("auditgraph_ingest_memory_bytes")
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("auditgraph_ingest_memory_bytes = %v after 10s, want %v", got, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// small posts a one-line batch marked with marker.
func (e *restEnv) small(marker string) (*http.Response, map[string]any) {
	body := `{"action":"run:update","cli_version":"` + marker + `"}` + "\n"
	return e.post("alice", strings.NewReader(body), int64(len(body)), "")
}

// TestIngestMemoryBound checks that batches share the ingest memory: one
// that finds no room waits for it, and gets 503 with Retry-After when none
// comes in time, storing nothing.
func TestIngestMemoryBound(t *testing.T) {
	const memory = 1 << 20
	e := newRestEnv(t, deployment.SelfManaged)
	e.serveWith(func(c *server.Config) { c.IngestMemory, c.IngestWait = memory, 300*time.Millisecond })
	before := metricstest.Parse(t, e.scrapeMetrics())

	t.Run("over the memory", func(t *testing.T) {
		e := *e
		e.t = t
		body := repeatLines(`{"action":"run:update","cli_version":"over"}`, memory/40)
		for _, enc := range []string{"", "gzip"} {
			t.Run(cmp.Or(enc, "identity"), func(t *testing.T) {
				b := body
				if enc == "gzip" {
					b = gzipped(body)
				}
				if resp, m := e.post("alice", bytes.NewReader(b), int64(len(b)), enc); resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(fmt.Sprint(m["error"]), fmt.Sprint(memory)) {
					t.Errorf("%q batch of %d bytes = %d %v, want 413 naming %d", enc, len(body), resp.StatusCode, m, memory)
				}
			})
		}
		z := bytes.Repeat([]byte{0}, memory/2+1)
		if resp, m := e.post("alice", bytes.NewReader(z), int64(len(z)), "gzip"); resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(fmt.Sprint(m["error"]), fmt.Sprint(memory/2)) {
			t.Errorf("gzip body of %d bytes = %d %v, want 413 naming %d", len(z), resp.StatusCode, m, memory/2)
		}
		if n := e.stored("over"); n != 0 {
			t.Errorf("%d events of refused batches stored, want 0", n)
		}
	})

	t.Run("no room in time", func(t *testing.T) {
		e := *e
		e.t = t
		finish, held := e.holdBatch("held", memory)
		defer finish()
		e.awaitIngestMemory(memory)
		resp, m := e.small("refused")
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" || !strings.Contains(fmt.Sprint(m["error"]), "capacity") {
			t.Errorf("batch beside one holding all the memory = %d %v (Retry-After %q), want 503 with Retry-After 1 saying capacity",
				resp.StatusCode, m, resp.Header.Get("Retry-After"))
		}
		if n := e.stored("refused"); n != 0 {
			t.Errorf("%d events of the refused batch stored, want 0", n)
		}
		finish()
		if code := <-held; code != http.StatusOK {
			t.Errorf("held batch = %d, want 200", code)
		}
		if resp, m := e.small("after"); resp.StatusCode != http.StatusOK {
			t.Errorf("batch after the held one ended = %d %v, want 200", resp.StatusCode, m)
		}
		e.awaitIngestMemory(0)
	})

	t.Run("room in time", func(t *testing.T) {
		e := *e
		e.t = t
		e.serveWith(func(c *server.Config) { c.IngestMemory, c.IngestWait = memory, 20*time.Second })
		finish, held := e.holdBatch("held2", memory)
		defer finish()
		e.awaitIngestMemory(memory)
		go func() {
			time.Sleep(500 * time.Millisecond)
			finish()
		}()
		start := time.Now()
		if resp, m := e.small("waited"); resp.StatusCode != http.StatusOK {
			t.Errorf("batch waiting for room = %d %v, want 200", resp.StatusCode, m)
		}
		if d := time.Since(start); d < 400*time.Millisecond {
			t.Errorf("batch got room after %s, before the held batch ended", d)
		}
		if code := <-held; code != http.StatusOK {
			t.Errorf("held batch = %d, want 200", code)
		}
	})

	after := metricstest.Parse(t, e.scrapeMetrics())
	if got := after.Get("auditgraph_audit_batches_rejected_total", "reason", "capacity") - before.Get("auditgraph_audit_batches_rejected_total", "reason", "capacity"); got < 1 {
		t.Errorf("batches rejected for capacity moved by %v, want at least 1", got)
	}
}

// TestIngestDatabaseGoesAway ends the connection of a batch being stored,
// at several steps of the transaction, from another connection, as a
// PostgreSQL restart does: the batch must get 503 with Retry-After, store
// nothing, and store everything when sent again.
func TestIngestDatabaseGoesAway(t *testing.T) {
	e := newRestEnv(t, deployment.SelfManaged)
	ctx := context.Background()
	for i, tc := range []struct {
		name string
		// block holds a lock the batch's transaction waits for; %s is the
		// prefix of the batch's ids.
		block string
	}{
		{"waiting for the organization's log", `SELECT 1 FROM organizations WHERE name = 'acme' FOR UPDATE`},
		{"recording client ids", `INSERT INTO audit_event_ids (org_id, client_id) SELECT id, '%s1' FROM organizations WHERE name = 'acme'`},
		{"copying the events", `LOCK TABLE audit_events_` + time.Now().UTC().Format("2006_01") + ` IN SHARE MODE`},
		{"marking activity", `SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.username = 'bob' FOR UPDATE OF m`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := *e
			e.t = t
			prefix := fmt.Sprintf("gone%d-", i)
			var body strings.Builder
			for n := range 500 {
				fmt.Fprintf(&body, `{"id":"%s%d","action":"run:update","actor_email":"bob@x.io","cli_version":%q}`+"\n", prefix, n, t.Name())
			}
			blocker, err := e.store.DB().BeginTxx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer blocker.Rollback()
			block := tc.block
			if strings.Contains(block, "%s") {
				block = fmt.Sprintf(block, prefix)
			}
			if _, err := blocker.ExecContext(ctx, block); err != nil {
				t.Fatal(err)
			}
			var blockerPID int
			if err := blocker.GetContext(ctx, &blockerPID, `SELECT pg_backend_pid()`); err != nil {
				t.Fatal(err)
			}
			type answer struct {
				resp *http.Response
				m    map[string]any
			}
			answers := make(chan answer, 1)
			go func() {
				resp, m := e.post("alice", strings.NewReader(body.String()), int64(body.Len()), "")
				answers <- answer{resp, m}
			}()
			// Find the batch's backend waiting for the lock, and end it.
			deadline := time.Now().Add(20 * time.Second)
			for {
				var pids []int
				if err := e.store.DB().SelectContext(ctx, &pids, `SELECT pid FROM pg_stat_activity
					WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> $1`, blockerPID); err != nil {
					t.Fatal(err)
				}
				if len(pids) == 1 {
					var ok bool
					if err := e.store.DB().GetContext(ctx, &ok, `SELECT pg_terminate_backend($1)`, pids[0]); err != nil || !ok {
						t.Fatalf("pg_terminate_backend = %v, %v", ok, err)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no backend waiting for the lock after 20s (%v)", pids)
				}
				time.Sleep(20 * time.Millisecond)
			}
			a := <-answers
			if a.resp.StatusCode != http.StatusServiceUnavailable || a.resp.Header.Get("Retry-After") == "" {
				t.Errorf("batch whose connection ended = %d %v (Retry-After %q), want 503 with Retry-After", a.resp.StatusCode, a.m, a.resp.Header.Get("Retry-After"))
			}
			if err := blocker.Rollback(); err != nil {
				t.Fatal(err)
			}
			if n := e.stored(t.Name()); n != 0 {
				t.Errorf("%d events stored by the failed batch, want 0", n)
			}
			resp, m := e.post("alice", strings.NewReader(body.String()), int64(body.Len()), "")
			if resp.StatusCode != http.StatusOK || m["stored"] != 500.0 {
				t.Errorf("batch sent again = %d %v, want 200 with 500 stored", resp.StatusCode, m)
			}
			if n := e.stored(t.Name()); n != 500 {
				t.Errorf("%d events stored, want 500", n)
			}
		})
	}
}

// TestIngestDatabaseUnreachable sends a batch to a server whose database
// cannot be reached at all: as for one whose connection dies mid-batch, the
// answer is 503 with Retry-After.
func TestIngestDatabaseUnreachable(t *testing.T) {
	e := newRestEnv(t, deployment.SelfManaged)
	gone := storagetest.New(t)
	gone.Close()
	e.serveWith(func(c *server.Config) { c.Services = app.New(gone) })
	resp, m := e.small("unreachable")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("batch with the database unreachable = %d %v (Retry-After %q), want 503 with Retry-After", resp.StatusCode, m, resp.Header.Get("Retry-After"))
	}
}

// TestIngestBodyCutShort sends bodies that end before their Content-Length:
// the client's failure, answered 400, never taken for the database's.
func TestIngestBodyCutShort(t *testing.T) {
	e := newRestEnv(t, deployment.SelfManaged)
	line := []byte(`{"action":"run:update","cli_version":"cut"}` + "\n")
	for _, tc := range []struct {
		name, encoding string
		body           []byte
	}{
		{"plain", "", bytes.Repeat(line, 100)},
		{"gzip", "gzip", gzipped(bytes.Repeat(line, 100))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			req, _ := http.NewRequest("POST", e.url+"/api/v1/audit_events", nil)
			req.SetBasicAuth("alice", e.keys["alice"])
			var head strings.Builder
			fmt.Fprintf(&head, "POST /api/v1/audit_events HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nContent-Type: application/x-ndjson\r\nContent-Length: %d\r\n",
				req.Header.Get("Authorization"), len(tc.body)+1000)
			if tc.encoding != "" {
				fmt.Fprintf(&head, "Content-Encoding: %s\r\n", tc.encoding)
			}
			head.WriteString("\r\n")
			conn.Write([]byte(head.String()))
			conn.Write(tc.body)
			conn.(*net.TCPConn).CloseWrite()
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "body") {
				t.Errorf("body cut short = %d %s, want 400 about the body", resp.StatusCode, b)
			}
		})
	}
	if n := e.stored("cut"); n != 0 {
		t.Errorf("%d events of bodies cut short stored, want 0", n)
	}
}
