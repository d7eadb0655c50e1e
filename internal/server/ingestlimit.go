package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/platform/metrics"
)

// maxIngestBody bounds a batch's decompressed size.
const maxIngestBody = 256 << 20

// DefaultIngestMemory is the decompressed bytes of the batches being read or
// stored at once, server-wide, when Config.IngestMemory is zero: one batch of
// the largest size, or many smaller ones.
const DefaultIngestMemory = maxIngestBody

// defaultIngestWait is how long a batch waits for room before it is refused
// with 503 when Config.IngestWait is zero.
const defaultIngestWait = 5 * time.Second

// errCapacity refuses a batch for which there was no room in time.
var errCapacity = errors.New("ingest is at capacity")

// errBodyRead refuses a batch whose body ended early or whose connection
// failed: the client's doing, whatever the error said.
var errBodyRead = fail(http.StatusBadRequest, "body: could not be read whole")

// batchLimiter bounds the memory ingest holds across requests. A batch
// reserves its decompressed size before any of it is read: a plain body's
// Content-Length, or a gzip body's size as its trailer states it. A gzip
// body is read whole first, within a second budget half the size (so that
// the compressed bodies of batches waiting for room cannot crowd out the
// batches themselves), and may be half the decompressed limit. A batch never
// waits for decompressed room while it holds some, and one that holds
// decompressed room never waits for compressed room, so batches cannot wait
// on each other; a batch that finds no room within wait is refused with 503
// and Retry-After.
type batchLimiter struct {
	decoded, compressed *semaphore.Weighted
	// limit is the most one batch may decompress to, zlimit the most its
	// gzip body may hold.
	limit, zlimit int64
	// memory is the decoded budget, for messages.
	memory  int64
	wait    time.Duration
	metrics *metrics.Metrics
}

func newBatchLimiter(memory int64, wait time.Duration, m *metrics.Metrics) *batchLimiter {
	if memory <= 0 {
		memory = DefaultIngestMemory
	}
	if wait <= 0 {
		wait = defaultIngestWait
	}
	limit := min(memory, maxIngestBody)
	return &batchLimiter{
		decoded:    semaphore.NewWeighted(memory),
		compressed: semaphore.NewWeighted(max(memory/2, 1)),
		limit:      limit,
		zlimit:     max(limit/2, 1),
		memory:     memory,
		wait:       wait,
		metrics:    m,
	}
}

// retryAfter is the Retry-After of a batch refused for capacity, in seconds.
func (l *batchLimiter) retryAfter() string {
	return strconv.Itoa(max(1, int(l.wait.Round(time.Second)/time.Second)))
}

// batch is one request's decompressed body and the room it holds.
type batch struct {
	io.Reader
	l                *batchLimiter
	held, compressed int64
	gzip             bool
}

// open reserves room for r's batch, waiting for it up to l.wait, and returns
// the decompressed body. The caller must call release once it no longer
// holds anything it decoded.
func (l *batchLimiter) open(w http.ResponseWriter, r *http.Request) (*batch, error) {
	ctx := r.Context()
	b := &batch{l: l}
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
		if r.ContentLength > l.limit {
			return nil, l.tooLarge()
		}
		// A body without a Content-Length may be as large as any.
		need := r.ContentLength
		if need < 0 {
			need = l.limit
		}
		if err := b.reserve(ctx, need); err != nil {
			return nil, err
		}
		b.Reader = &meteredReader{r: http.MaxBytesReader(w, r.Body, l.limit), b: b}
		return b, nil
	case "gzip":
		b.gzip = true
		z, err := b.readGzip(ctx, w, r)
		if err != nil {
			b.release()
			return nil, err
		}
		b.Reader = &meteredReader{r: z, b: b}
		return b, nil
	default:
		return nil, fail(http.StatusUnsupportedMediaType, "Content-Encoding %q is not supported: send gzip or none", enc)
	}
}

// readGzip reads a gzip body whole, reserves room for the size its trailer
// states (the decompressed size modulo 2³², RFC 1952) and returns a reader
// of its decompressed content.
func (b *batch) readGzip(ctx context.Context, w http.ResponseWriter, r *http.Request) (io.Reader, error) {
	l := b.l
	if r.ContentLength > l.zlimit {
		return nil, fail(http.StatusRequestEntityTooLarge, "body: gzip data larger than %d bytes", l.zlimit)
	}
	size := r.ContentLength
	if size < 0 {
		size = l.zlimit
	}
	if err := l.acquire(ctx, l.compressed, size); err != nil {
		return nil, err
	}
	b.compressed = size
	var data []byte
	if r.ContentLength >= 0 {
		data = make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, data); err != nil {
			return nil, errBodyRead
		}
	} else {
		var err error
		data, err = io.ReadAll(http.MaxBytesReader(w, r.Body, l.zlimit))
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, fail(http.StatusRequestEntityTooLarge, "body: gzip data larger than %d bytes", l.zlimit)
		}
		if err != nil {
			return nil, errBodyRead
		}
		// A body sent without a Content-Length gives back what it did not use.
		if n := int64(cap(data)); n < b.compressed {
			l.compressed.Release(b.compressed - n)
			b.compressed = n
		}
	}
	if len(data) < 18 { // a 10-byte header and an 8-byte trailer at least
		return nil, fail(http.StatusBadRequest, "body: Content-Encoding is gzip but the body is not gzip data")
	}
	stated := int64(binary.LittleEndian.Uint32(data[len(data)-4:]))
	if stated > l.limit {
		return nil, l.tooLarge()
	}
	if err := b.reserve(ctx, stated); err != nil {
		return nil, err
	}
	z, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fail(http.StatusBadRequest, "body: Content-Encoding is gzip but the body is not gzip data")
	}
	return z, nil
}

func (l *batchLimiter) tooLarge() error {
	return fail(http.StatusRequestEntityTooLarge, "body: larger than %d bytes decompressed", l.limit)
}

// reserve takes n bytes of decompressed room, waiting until ctx ends.
func (b *batch) reserve(ctx context.Context, n int64) error {
	if err := b.l.acquire(ctx, b.l.decoded, n); err != nil {
		return err
	}
	b.held += n
	b.l.metrics.IngestMemory(n)
	return nil
}

// acquire takes n of s, waiting up to l.wait.
func (l *batchLimiter) acquire(ctx context.Context, s *semaphore.Weighted, n int64) error {
	ctx, cancel := context.WithTimeoutCause(ctx, l.wait, errCapacity)
	defer cancel()
	if err := s.Acquire(ctx, n); err != nil {
		if errors.Is(context.Cause(ctx), errCapacity) {
			return errCapacity
		}
		return err
	}
	return nil
}

// doneReading gives back the room of the gzip body, whose decompressed
// content has been read.
func (b *batch) doneReading() {
	if b.compressed > 0 {
		b.l.compressed.Release(b.compressed)
		b.compressed = 0
	}
	b.Reader = nil
}

// release gives back all the room b holds.
func (b *batch) release() {
	b.doneReading()
	if b.held > 0 {
		b.l.decoded.Release(b.held)
		b.l.metrics.IngestMemory(-b.held)
		b.held = 0
	}
}

// meteredReader passes on a batch's decompressed body, refusing it once it
// passes the limit. Should it pass its reservation (a gzip body of several
// members, whose trailer states only the last one's size, or a trailer that
// lies), it takes more room if there is some at once, and refuses the batch
// for capacity if not: waiting while holding room could deadlock.
type meteredReader struct {
	r    io.Reader
	b    *batch
	read int64
	err  error
}

func (m *meteredReader) Read(p []byte) (int, error) {
	if m.err != nil {
		return 0, m.err
	}
	n, err := m.r.Read(p)
	m.read += int64(n)
	l := m.b.l
	switch {
	case m.read > l.limit:
		m.err = l.tooLarge()
	case m.read > m.b.held:
		more := min(max(m.read-m.b.held, 1<<20), l.limit-m.b.held)
		if !l.decoded.TryAcquire(more) {
			m.err = errCapacity
			break
		}
		m.b.held += more
		l.metrics.IngestMemory(more)
	}
	if m.err != nil {
		return 0, m.err
	}
	return n, err
}

// refuse answers a batch refused for capacity.
func (l *batchLimiter) refuse(w http.ResponseWriter) {
	w.Header().Set("Retry-After", l.retryAfter())
	auth.WriteError(w, http.StatusServiceUnavailable, fmt.Sprintf(
		"ingest is at capacity: the batches in flight hold all of the server's ingest memory (%d bytes decompressed); nothing of this batch was stored, try again later", l.memory))
}
