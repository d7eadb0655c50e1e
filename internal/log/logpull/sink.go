package logpull

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"gocloud.dev/blob"
)

// Sink is where the day files go.
type Sink interface {
	// Size returns how long a day file is now, 0 if it does not exist.
	Size(ctx context.Context, file string) (int64, error)
	// Open prepares writing a range's lines. A sink that cannot continue
	// a range half done may restart it, clearing r.Cursor and r.Size.
	Open(ctx context.Context, r *Range) (RangeWriter, error)
}

// RangeWriter takes one range's pages.
type RangeWriter interface {
	// Append writes a page's lines durably and returns the file's size.
	Append(lines []byte) (int64, error)
	// Finish completes the range.
	Finish(ctx context.Context) error
	Close() error
}

// Dir writes daily files <dir>/<yyyy-mm-dd>.ndjson, appending.
type Dir string

// Size implements Sink.
func (d Dir) Size(_ context.Context, file string) (int64, error) {
	fi, err := os.Stat(filepath.Join(string(d), file))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// Open implements Sink: it cuts the day file back to r.Size, dropping lines
// written after the state was last saved.
func (d Dir) Open(_ context.Context, r *Range) (RangeWriter, error) {
	if err := os.MkdirAll(string(d), 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(string(d), r.File)
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if r.Size > 0 {
			return nil, fmt.Errorf("%s is gone, but the state file says it held %d bytes: restore it or start over with a new --state", path, r.Size)
		}
	case err != nil:
		return nil, err
	case fi.Size() < r.Size:
		return nil, fmt.Errorf("%s holds %d bytes, but the state file says %d: restore it or start over with a new --state", path, fi.Size(), r.Size)
	case fi.Size() > r.Size:
		if err := os.Truncate(path, r.Size); err != nil {
			return nil, fmt.Errorf("cut %s back to the last saved position: %w", path, err)
		}
	}
	return &dirWriter{path: path, size: r.Size}, nil
}

type dirWriter struct {
	path string
	f    *os.File
	size int64
}

func (w *dirWriter) Append(lines []byte) (int64, error) {
	if len(lines) == 0 {
		return w.size, nil
	}
	if w.f == nil {
		f, err := os.OpenFile(w.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return 0, err
		}
		w.f = f
	}
	if _, err := w.f.Write(lines); err != nil {
		return 0, fmt.Errorf("write %s: %w", w.path, err)
	}
	if err := w.f.Sync(); err != nil {
		return 0, fmt.Errorf("sync %s: %w", w.path, err)
	}
	w.size += int64(len(lines))
	return w.size, nil
}

func (w *dirWriter) Finish(context.Context) error { return nil }

func (w *dirWriter) Close() error {
	if w.f == nil {
		return nil
	}
	return w.f.Close()
}

// Bucket writes each range as one object <yyyy-mm-dd>/<start>-<end>.ndjson
// (times as 20060102T150405Z), uploaded when the range is complete: objects
// cannot be appended to. A range cut short is fetched again from its start.
type Bucket struct {
	B *blob.Bucket
}

// Size implements Sink: a bucket's ranges never share an object.
func (Bucket) Size(context.Context, string) (int64, error) { return 0, nil }

// Open implements Sink, spooling the range to a temporary file.
func (b Bucket) Open(_ context.Context, r *Range) (RangeWriter, error) {
	r.Cursor, r.Size = "", 0
	f, err := os.CreateTemp("", "auditgraph-pull-*.ndjson")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	const stamp = "20060102T150405Z"
	name := r.Start.Format("2006-01-02") + "/" + r.Start.Format(stamp) + "-" + r.End.Format(stamp) + ".ndjson"
	return &bucketWriter{b: b.B, name: name, f: f}, nil
}

type bucketWriter struct {
	b    *blob.Bucket
	name string
	f    *os.File
	size int64
}

func (w *bucketWriter) Append(lines []byte) (int64, error) {
	n, err := w.f.Write(lines)
	w.size += int64(n)
	return 0, err
}

func (w *bucketWriter) Finish(ctx context.Context) error {
	if w.size == 0 {
		return nil
	}
	if _, err := w.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bw, err := w.b.NewWriter(wctx, w.name, &blob.WriterOptions{ContentType: "application/x-ndjson"})
	if err != nil {
		return fmt.Errorf("upload %s: %w", w.name, err)
	}
	if _, err := io.Copy(bw, bufio.NewReader(w.f)); err != nil {
		cancel()
		bw.Close()
		return fmt.Errorf("upload %s: %w", w.name, err)
	}
	if err := bw.Close(); err != nil {
		return fmt.Errorf("upload %s: %w", w.name, err)
	}
	return nil
}

func (w *bucketWriter) Close() error { return w.f.Close() }
