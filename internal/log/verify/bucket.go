package verify

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gocloud.dev/blob"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/chain"
)

// Prefix is the folder of a bucket that holds the exported audit logs.
const Prefix = "wandb-audit-logs/"

var (
	objectName     = regexp.MustCompile(`^\d{4}/\d{2}/\d{2}/(\d{12})-(\d{12})\.ndjson\.gz$`)
	checkpointName = regexp.MustCompile(`^checkpoints/(\d{12})\.json$`)
)

// BucketOrgs returns the names of the organizations with a folder in the
// bucket, sorted.
func BucketOrgs(ctx context.Context, b *blob.Bucket) ([]string, error) {
	var orgs []string
	it := b.List(&blob.ListOptions{Prefix: Prefix, Delimiter: "/"})
	for {
		o, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("verify: list %s: %w", Prefix, err)
		}
		if o.IsDir {
			orgs = append(orgs, strings.TrimSuffix(strings.TrimPrefix(o.Key, Prefix), "/"))
		}
	}
	slices.Sort(orgs)
	return orgs, nil
}

type eventObject struct {
	key         string
	first, last int64
}

// Bucket verifies an organization's chain as a bucket's export holds it
// (the layout package sync writes): every event object under
// wandb-audit-logs/<org>/, ordered by first sequence number, recomputed
// against the checkpoint files in wandb-audit-logs/<org>/checkpoints/. The
// files carry no per-event hash, so a changed event is found at the
// checkpoint after it, which names its range. orgID, when not 0, is
// checked against the checkpoints too.
func Bucket(ctx context.Context, b *blob.Bucket, org string, orgID int64, opts Options) (*chain.Report, error) {
	dir := Prefix + org + "/"
	var (
		objects []eventObject
		cps     []chain.Checkpoint
		pre     []chain.Finding // found while listing, added to the report
	)
	it := b.List(&blob.ListOptions{Prefix: dir})
	for {
		o, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("verify: list %s: %w", dir, err)
		}
		rest := strings.TrimPrefix(o.Key, dir)
		if m := objectName.FindStringSubmatch(rest); m != nil {
			first, _ := strconv.ParseInt(m[1], 10, 64)
			last, _ := strconv.ParseInt(m[2], 10, 64)
			objects = append(objects, eventObject{o.Key, first, last})
			continue
		}
		m := checkpointName.FindStringSubmatch(rest)
		if m == nil {
			continue // not part of the layout, such as a tool's own state
		}
		seq, _ := strconv.ParseInt(m[1], 10, 64)
		data, err := b.ReadAll(ctx, o.Key)
		if err != nil {
			return nil, fmt.Errorf("verify: read %s: %w", o.Key, err)
		}
		c, err := chain.ParseCheckpoint(data)
		switch {
		case err != nil:
			pre = append(pre, chain.Finding{Kind: chain.Invalid, Seq: seq, LastSeq: seq, What: fmt.Sprintf("%s: %v", o.Key, err)})
		case c.Org != org || c.LastSeq != seq:
			// A checkpoint moved from where it was written is not used: the
			// one that belongs at its old place then shows as missing.
			pre = append(pre, chain.Finding{Kind: chain.Invalid, Seq: min(seq, c.FirstSeq), LastSeq: max(seq, c.LastSeq),
				What: fmt.Sprintf("%s holds the checkpoint of organization %q ending at %d: moved", o.Key, c.Org, c.LastSeq)})
		default:
			cps = append(cps, c)
		}
	}
	slices.SortFunc(cps, func(a, b chain.Checkpoint) int { return int(a.LastSeq - b.LastSeq) })
	slices.SortFunc(objects, func(a, b eventObject) int { return int(a.first - b.first) })
	if orgID == 0 && len(cps) > 0 {
		orgID = cps[0].OrgID
	}

	cfg := chain.VerifierConfig{Org: org, OrgID: orgID, Keys: opts.Keys, GapAfter: opts.GapAfter}
	end := int64(-1)
	if !opts.From.IsZero() {
		for i, c := range cps {
			if !before(c, opts.From) {
				break
			}
			cfg.Anchor = &cps[i]
		}
	}
	if !opts.To.IsZero() {
		if i := slices.IndexFunc(cps, func(c chain.Checkpoint) bool { return !before(c, opts.To) }); i >= 0 {
			end = cps[i].LastSeq
		} else if opts.To.Seq > 0 {
			end = opts.To.Seq
		}
	}
	from := int64(1)
	if cfg.Anchor != nil {
		from = cfg.Anchor.LastSeq + 1
	}
	for _, c := range cps {
		if c.LastSeq >= from && (end < 0 || c.LastSeq <= end) {
			cfg.Checkpoints = append(cfg.Checkpoints, c)
		}
	}
	v := chain.NewVerifier(cfg)
	for _, o := range objects {
		if o.last < from {
			continue
		}
		if end >= 0 && o.first > end {
			break
		}
		fs, err := readObject(ctx, b, o, from, end, v)
		if err != nil {
			return nil, err
		}
		pre = append(pre, fs...)
	}
	r := v.End(end)
	for _, f := range pre {
		r.Add(f)
	}
	var newest int64
	if len(cps) > 0 {
		newest = cps[len(cps)-1].LastSeq
	}
	at := func(seq int64) (chain.Checkpoint, bool) {
		i := slices.IndexFunc(cps, func(c chain.Checkpoint) bool { return c.LastSeq == seq })
		if i < 0 {
			return chain.Checkpoint{}, false
		}
		return cps[i], true
	}
	expect(r, "the bucket", org, orgID, newest, opts.Expect, at)
	for _, m := range opts.Match {
		if c, ok := at(m.LastSeq); ok && !bytes.Equal(c.Signature, m.Signature) {
			r.Add(chain.Finding{Kind: chain.Invalid, Seq: c.FirstSeq, LastSeq: c.LastSeq, What: fmt.Sprintf(
				"the bucket's checkpoint ending at %d differs from the database's: one of them was signed again (the signing key was used outside the server)", c.LastSeq)})
		}
	}
	return r, nil
}

// Compare adds to db, the database's report of an organization, what the
// bucket's report of it shows the database lacks: valid checkpoints newer
// than the database's newest, which the database alone cannot tell from
// checkpoints not written yet.
func Compare(db, bucket *chain.Report) {
	if bucket.LastCheckpoint > db.LastCheckpoint {
		db.Add(chain.Finding{Kind: chain.Missing, Seq: db.LastCheckpoint + 1, LastSeq: bucket.LastCheckpoint,
			What: fmt.Sprintf("the bucket holds checkpoints up to %d that the database does not", bucket.LastCheckpoint)})
	}
}

// BucketCheckpoint reads org's checkpoint ending at lastSeq from the bucket.
func BucketCheckpoint(ctx context.Context, b *blob.Bucket, org string, lastSeq int64) (chain.Checkpoint, error) {
	key := fmt.Sprintf("%s%s/checkpoints/%012d.json", Prefix, org, lastSeq)
	data, err := b.ReadAll(ctx, key)
	if err != nil {
		return chain.Checkpoint{}, fmt.Errorf("verify: read %s: %w", key, err)
	}
	c, err := chain.ParseCheckpoint(data)
	if err != nil {
		return chain.Checkpoint{}, fmt.Errorf("verify: %s: %w", key, err)
	}
	return c, nil
}

// before reports whether checkpoint c lies before bound.
func before(c chain.Checkpoint, bound Bound) bool {
	if bound.Seq > 0 {
		return c.LastSeq < bound.Seq
	}
	return c.Time.Before(bound.Time)
}

// lineType is the struct an exported line decodes into: one field per key
// of audit.Specs, in its order, tagged with the key, so that encoding/json
// refuses any other key (DisallowUnknownFields) at a struct's speed.
var lineType = func() reflect.Type {
	fs := make([]reflect.StructField, audit.NumKeys)
	for i, k := range audit.Specs {
		typ := reflect.TypeFor[string]()
		if k.Kind == audit.Code {
			typ = reflect.TypeFor[int]()
		}
		fs[i] = reflect.StructField{Name: "K" + strconv.Itoa(i), Type: typ, Tag: reflect.StructTag(`json:"` + string(k.Key) + `"`)}
	}
	return reflect.StructOf(fs)
}()

// lineEvent decodes one exported line: a JSON object of documented keys;
// any other key makes the line invalid.
func lineEvent(b []byte) (audit.Event, error) {
	var e audit.Event
	v := reflect.New(lineType)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v.Interface()); err != nil {
		return e, err
	}
	l := v.Elem()
	for i, k := range audit.Specs {
		f := l.Field(i)
		switch k.Kind {
		case audit.Text:
			*e.Text(i) = f.String()
		case audit.Code:
			e.ResponseCode = int(f.Int())
		case audit.Time:
			if ts := f.String(); ts != "" {
				t, err := time.Parse(time.RFC3339Nano, ts)
				if err != nil {
					return e, fmt.Errorf("timestamp %q is not RFC 3339", ts)
				}
				e.Timestamp = t
			}
		}
	}
	return e, nil
}

// maxLine bounds one exported line: ingest refuses lines over 64 KiB, and
// an event of 19 keys of at most 4 KiB each, escaped, stays well under this.
const maxLine = 1 << 20

// readObject feeds the events of one object with sequence numbers in
// [from, end] (end < 0: no end) to v, returning what is wrong with the
// object itself.
func readObject(ctx context.Context, b *blob.Bucket, o eventObject, from, end int64, v *chain.Verifier) ([]chain.Finding, error) {
	r, err := b.NewReader(ctx, o.key, nil)
	if err != nil {
		return nil, fmt.Errorf("verify: read %s: %w", o.key, err)
	}
	defer r.Close()
	bad := func(seq int64, format string, args ...any) []chain.Finding {
		return []chain.Finding{{Kind: chain.Invalid, Seq: seq, LastSeq: seq, What: o.key + ": " + fmt.Sprintf(format, args...)}}
	}
	zr, err := gzip.NewReader(r)
	if err != nil {
		return bad(o.first, "not gzip: %v", err), nil
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	seq := o.first
	for ; sc.Scan(); seq++ {
		if seq < from {
			continue
		}
		if end >= 0 && seq > end {
			return nil, nil
		}
		e, err := lineEvent(sc.Bytes())
		if err != nil {
			return bad(seq, "line %d: %v", seq-o.first+1, err), nil
		}
		v.Event(seq, &e, nil)
	}
	if err := sc.Err(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return bad(seq, "after line %d: %v", seq-o.first, err), nil
	}
	if n := seq - o.first; n != o.last-o.first+1 {
		return bad(o.first, "holds %d events, its name says %d", n, o.last-o.first+1), nil
	}
	return nil, nil
}
