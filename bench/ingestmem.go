package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The batches of the ingest memory figure: as large as a batch may be, the
// most lines (ingest.MaxBatch) of equal length whose total stays within the
// decompressed limit (256 MiB), sent at once by burstClients clients.
const (
	burstOrg     = "bench-burst"
	burstLines   = 50_000
	burstLineLen = (256 << 20) / burstLines // with its newline
	burstClients = 16
)

// burstResult is what one run of maximum-size batches came to.
type burstResult struct {
	idle, peak      int64
	stored, refused int // batches: 200 with events stored, 503 with Retry-After
	duplicate       int // batches: 200 whose events were all stored before
	wall            time.Duration
	retryAfter      string
	encoded         int // the gzip body's size
}

// measureIngestMemory compares the server's peak RSS while burstClients
// maximum-size gzip batches arrive at once with its peak while one does,
// each in a freshly started server process. The server bounds the memory of
// the batches in flight (--ingest-memory, default one maximum-size batch):
// the others wait for room and get 503 with Retry-After when none comes.
func (b *bench) measureIngestMemory(ctx context.Context) error {
	if _, err := b.db.ExecContext(ctx, `INSERT INTO organizations (name, plan) VALUES ($1, 'enterprise')`, burstOrg); err != nil {
		return fmt.Errorf("%s organization: %w", burstOrg, err)
	}
	logf("ingest memory: rendering two batches of %d lines, %s each", burstLines, mib(burstLines*burstLineLen))
	// Distinct ids: the batch sent alone and the one sent at once by every
	// client are stored, not found to be duplicates (the copies sent at once
	// are duplicates of each other, should more than one get room).
	alone, err := burstBatch("alone", b.cfg.seed)
	if err != nil {
		return err
	}
	burst, err := burstBatch("burst", b.cfg.seed)
	if err != nil {
		return err
	}
	logf("ingest memory: fresh server, one batch (%s gzip)", mib(int64(len(alone))))
	one, err := b.sendBatches(ctx, alone, 1)
	if err != nil {
		return err
	}
	if one.stored != 1 {
		return fmt.Errorf("the batch sent alone was not stored: %+v", one)
	}
	logf("ingest memory: fresh server, %d batches at once", burstClients)
	many, err := b.sendBatches(ctx, burst, burstClients)
	if err != nil {
		return err
	}
	if many.stored < 1 {
		return fmt.Errorf("none of %d batches sent at once was stored: %+v", burstClients, many)
	}
	ratio := float64(many.peak) / float64(one.peak)
	b.rows = append(b.rows, row{
		metric: fmt.Sprintf("server peak RSS: %d maximum-size batches at once vs one", burstClients),
		ours:   mib(many.peak), base: mib(one.peak), ratio: fmt.Sprintf("%.2f", ratio),
		target: "< 2.00", pass: ratio < 2,
	})
	b.notes = append(b.notes, fmt.Sprintf("Ingest memory: each batch %s lines, %s of NDJSON (%s gzip), sent gzipped with its Content-Length to `%s`; each run in a fresh server process (VmHWM right after start %s and %s). Alone: stored in %s. %d at once: %d stored, %d duplicates of the stored one, %d refused with 503 (Retry-After: %s), all answered in %s.",
		thousands(burstLines), mib(burstLines*burstLineLen), mib(int64(one.encoded)), burstOrg, mib(one.idle), mib(many.idle),
		one.wall.Round(time.Millisecond), burstClients, many.stored, many.duplicate, many.refused, many.retryAfter, many.wall.Round(time.Millisecond)))
	logf("ingest memory: %s with one batch, %s with %d at once (%d stored, %d refused)", mib(one.peak), mib(many.peak), burstClients, many.stored, many.refused)
	return nil
}

// sendBatches restarts the server, sends the gzip batch z from n clients at
// once and returns the server's peak RSS and the answers.
func (b *bench) sendBatches(ctx context.Context, z []byte, n int) (burstResult, error) {
	var res burstResult
	b.srv.stop()
	b.srv = nil
	var err error
	if b.srv, err = startServer(ctx, b.bin, b.dbURL, b.key); err != nil {
		return res, err
	}
	if res.idle, err = b.srv.peakRSS(); err != nil {
		return res, err
	}
	res.encoded = len(z)
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
	)
	start := time.Now()
	for range n {
		wg.Go(func() {
			req, err := b.request(ctx, http.MethodPost, "/api/v1/audit_events?org="+burstOrg, z)
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return
			}
			req.Header.Set("Content-Type", "application/x-ndjson")
			req.Header.Set("Content-Encoding", "gzip")
			resp, err := b.client.Do(req)
			var reply []byte
			if err == nil {
				reply, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			mu.Lock()
			defer mu.Unlock()
			var got struct{ Received, Stored, Duplicates int }
			switch {
			case err != nil:
				errs = append(errs, err)
			case resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "":
				res.refused++
				res.retryAfter = resp.Header.Get("Retry-After")
			case resp.StatusCode != http.StatusOK:
				errs = append(errs, fmt.Errorf("%s: %s", resp.Status, reply))
			case json.Unmarshal(reply, &got) != nil || got.Received != burstLines:
				errs = append(errs, fmt.Errorf("unexpected answer %s", reply))
			case got.Stored == burstLines:
				res.stored++
			case got.Duplicates == burstLines:
				res.duplicate++
			default:
				errs = append(errs, fmt.Errorf("partly stored: %s", reply))
			}
		})
	}
	wg.Wait()
	res.wall = time.Since(start)
	if len(errs) > 0 {
		return res, fmt.Errorf("%d of %d batches failed, the first: %w", len(errs), n, errs[0])
	}
	res.peak, err = b.srv.peakRSS()
	return res, err
}

// burstBatch renders a maximum-size batch whose ids start with prefix and
// returns it gzipped. Its lines are alike in shape, with long text values
// of words, and compress about as NDJSON of real events does.
func burstBatch(prefix string, seed uint64) ([]byte, error) {
	rng := rand.New(rand.NewPCG(seed, 7))
	words := append(append(append([]string{}, entityNames...), firstNames...), lastNames...)
	text := func(n int) string {
		var s strings.Builder
		for s.Len() < n {
			if s.Len() > 0 {
				s.WriteByte('-')
			}
			s.WriteString(words[rng.IntN(len(words))])
		}
		return s.String()[:n]
	}
	var body bytes.Buffer
	body.Grow(burstLines * burstLineLen)
	for i := range burstLines {
		head := fmt.Sprintf(`{"id":"%s-%05d","action":"artifact:create","actor_email":"%s@example.com","entity_name":"`, prefix, i, text(12))
		const mid, tail = `","artifact_qualified_name":"`, "\"}\n"
		rest := burstLineLen - len(head) - len(mid) - len(tail)
		body.WriteString(head)
		body.WriteString(text(rest / 2))
		body.WriteString(mid)
		body.WriteString(text(rest - rest/2))
		body.WriteString(tail)
	}
	if body.Len() != burstLines*burstLineLen {
		return nil, fmt.Errorf("burst batch of %d bytes, want %d", body.Len(), burstLines*burstLineLen)
	}
	var z bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&z, gzip.BestSpeed)
	if _, err := zw.Write(body.Bytes()); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return z.Bytes(), nil
}
