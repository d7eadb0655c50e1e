package bucketsync

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob" // file:// buckets; main registers the others

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/log/ledger"
	"github.com/auditgraph/auditgraph/internal/platform/metrics"
	"github.com/auditgraph/auditgraph/internal/platform/metrics/metricstest"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

func openBucket(t *testing.T, dir string) *blob.Bucket {
	t.Helper()
	b, err := Open(context.Background(), "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func appendEvents(t *testing.T, st *storage.Store, orgID int64, es ...audit.Event) {
	t.Helper()
	if err := st.InTx(context.Background(), func(tx *storage.Tx) error {
		return ledger.Append(context.Background(), tx, orgID, es)
	}); err != nil {
		t.Fatal(err)
	}
}

func logins(n int, at time.Time) []audit.Event {
	es := make([]audit.Event, n)
	for i := range es {
		es[i] = audit.Event{Action: audit.Action("user:login"), ActorEmail: fmt.Sprintf("u%d@x.io", i),
			ResponseCode: 200, Timestamp: at.Add(time.Duration(i) * time.Millisecond)}
	}
	return es
}

// objects returns every object under Prefix with its uncompressed lines.
func objects(t *testing.T, b *blob.Bucket) map[string][]string {
	t.Helper()
	ctx := context.Background()
	got := map[string][]string{}
	it := b.List(&blob.ListOptions{Prefix: Prefix})
	for {
		o, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		raw, err := b.ReadAll(ctx, o.Key)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(o.Key, ".gz") {
			got[o.Key] = []string{string(raw)}
			continue
		}
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s: %v", o.Key, err)
		}
		text, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("%s: %v", o.Key, err)
		}
		got[o.Key] = strings.SplitAfter(string(text), "\n")
		got[o.Key] = got[o.Key][:len(got[o.Key])-1]
	}
}

func syncedSeq(t *testing.T, st *storage.Store, orgID int64) (int64, *storage.SyncPlan) {
	t.Helper()
	orgs, err := st.SyncOrgs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range orgs {
		if o.OrgID == orgID {
			return o.SyncedSeq, o.Plan
		}
	}
	t.Fatalf("organization %d not found", orgID)
	return 0, nil
}

func TestLayoutAndLineFormat(t *testing.T) {
	ctx := context.Background()
	st := storagetest.New(t)
	acme := storagetest.NewOrg(t, st, "acme")
	day := time.Now().UTC().Truncate(24 * time.Hour).Add(-24 * time.Hour)
	appendEvents(t, st, acme,
		audit.Event{Action: "user:login", ActorEmail: "a\"b@x.io", ActorIP: "10.0.0.1", ResponseCode: 401,
			Timestamp: day.Add(3*time.Hour + 123456*time.Microsecond)},
		audit.Event{Action: "project:delete", EntityName: "ml", ProjectName: "p<1>", Timestamp: day.Add(4 * time.Hour)},
	)
	b := openBucket(t, t.TempDir())
	s := New(Config{Store: st, Bucket: b})
	if ran, err := s.SyncOnce(ctx); !ran || err != nil {
		t.Fatalf("SyncOnce = %v, %v, want true, nil", ran, err)
	}
	name := fmt.Sprintf("wandb-audit-logs/acme/%s/000000000001-000000000002.ndjson.gz", day.Format("2006/01/02"))
	ts := day.Format("2006-01-02")
	want := map[string][]string{name: {
		`{"action":"user:login","actor_email":"a\"b@x.io","actor_ip":"10.0.0.1","response_code":401,"timestamp":"` + ts + `T03:00:00.123456Z"}` + "\n",
		`{"action":"project:delete","entity_name":"ml","project_name":"p<1>","timestamp":"` + ts + `T04:00:00.000000Z"}` + "\n",
	}}
	got := objects(t, b)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("bucket holds\n%q\nwant\n%q", got, want)
	}
	raw, err := b.ReadAll(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	zr, _ := gzip.NewReader(bytes.NewReader(raw))
	if zr.Name != "" || !zr.ModTime.IsZero() {
		t.Errorf("gzip header name %q, mtime %v: want neither, so that the bytes are reproducible", zr.Name, zr.ModTime)
	}
	// Apart from the timestamp, each line is what the REST API returns.
	var rest []string
	if err := st.StreamEvents(ctx, acme, day, day.Add(24*time.Hour), false, func(b []byte) error {
		rest = append(rest, string(b))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i, line := range got[name] {
		var a, r map[string]any
		json.Unmarshal([]byte(line), &a)
		json.Unmarshal([]byte(rest[i]), &r)
		ta, _ := time.Parse(time.RFC3339Nano, a["timestamp"].(string))
		tr, _ := time.Parse(time.RFC3339, r["timestamp"].(string))
		if !ta.Truncate(time.Second).Equal(tr) {
			t.Errorf("line %d timestamp %v, REST %v", i, ta, tr)
		}
		delete(a, "timestamp")
		delete(r, "timestamp")
		if fmt.Sprint(a) != fmt.Sprint(r) {
			t.Errorf("line %d = %v, REST API gives %v", i, a, r)
		}
	}
	if seq, plan := syncedSeq(t, st, acme); seq != 2 || plan != nil {
		t.Errorf("after sync: high-water mark %d, plan %v; want 2, none", seq, plan)
	}
	// Nothing new: nothing written.
	if _, err := s.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(objects(t, b)); n != 1 {
		t.Errorf("after a second run the bucket holds %d objects, want 1", n)
	}
}

func TestObjectsAreCapped(t *testing.T) {
	ctx := context.Background()
	st := storagetest.New(t)
	acme := storagetest.NewOrg(t, st, "acme")
	other := storagetest.NewOrg(t, st, "other")
	at := time.Now().UTC().Add(-time.Hour)
	appendEvents(t, st, acme, logins(5, at)...)
	appendEvents(t, st, other, logins(1, at)...)
	b := openBucket(t, t.TempDir())
	if _, err := New(Config{Store: st, Bucket: b, MaxObjectEvents: 2}).SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	date := at.Format("2006/01/02")
	var names []string
	for k, lines := range objects(t, b) {
		names = append(names, fmt.Sprintf("%s:%d", k, len(lines)))
	}
	want := []string{
		"wandb-audit-logs/acme/" + date + "/000000000001-000000000002.ndjson.gz:2",
		"wandb-audit-logs/acme/" + date + "/000000000003-000000000004.ndjson.gz:2",
		"wandb-audit-logs/acme/" + date + "/000000000005-000000000005.ndjson.gz:1",
		"wandb-audit-logs/other/" + date + "/000000000001-000000000001.ndjson.gz:1",
	}
	if strings.Join(slices.Sorted(slices.Values(names)), " ") != strings.Join(want, " ") {
		t.Errorf("objects %v, want %v", slices.Sorted(slices.Values(names)), want)
	}
}

// seqCounts counts how often each sequence number appears across the event
// objects of org, by reading each line's position from the object names.
func seqCounts(t *testing.T, objs map[string][]string, org string) map[int64]int {
	t.Helper()
	counts := map[int64]int{}
	for k, lines := range objs {
		if !strings.HasPrefix(k, Prefix+org+"/") || !strings.HasSuffix(k, ".ndjson.gz") {
			continue
		}
		var first, last int64
		base := k[strings.LastIndex(k, "/")+1:]
		if _, err := fmt.Sscanf(base, "%012d-%012d.ndjson.gz", &first, &last); err != nil {
			t.Fatalf("object %s: %v", k, err)
		}
		if int64(len(lines)) != last-first+1 {
			t.Fatalf("object %s holds %d lines", k, len(lines))
		}
		for s := first; s <= last; s++ {
			counts[s]++
		}
	}
	return counts
}

func TestCrashBetweenUploadAndCommit(t *testing.T) {
	ctx := context.Background()
	st := storagetest.New(t)
	acme := storagetest.NewOrg(t, st, "acme")
	at := time.Now().UTC().Add(-time.Hour)
	appendEvents(t, st, acme, logins(3, at)...)
	b := openBucket(t, t.TempDir())
	crashed := New(Config{Store: st, Bucket: b})
	crash := errors.New("crash")
	crashed.afterUpload = func(storage.SyncPlan) error { return crash }
	if _, err := crashed.SyncOnce(ctx); !errors.Is(err, crash) {
		t.Fatalf("SyncOnce = %v, want the injected crash", err)
	}
	seq, plan := syncedSeq(t, st, acme)
	name := ObjectName("acme", at, 1, 3)
	if seq != 0 || plan == nil || *plan != (storage.SyncPlan{First: 1, Last: 3, Object: name}) {
		t.Fatalf("after the crash: high-water mark %d, plan %+v; want 0 and the plan for 1..3", seq, plan)
	}
	before, err := b.ReadAll(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	// Events stored after the crash must not change the redone object.
	appendEvents(t, st, acme, logins(2, at.Add(time.Minute))...)
	if _, err := New(Config{Store: st, Bucket: b}).SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := b.ReadAll(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("the redone object differs from the first upload (%d vs %d bytes)", len(before), len(after))
	}
	objs := objects(t, b)
	if len(objs) != 2 {
		t.Errorf("bucket holds %v, want the redone object and one for 4..5", objs)
	}
	counts := seqCounts(t, objs, "acme")
	for s := int64(1); s <= 5; s++ {
		if counts[s] != 1 {
			t.Errorf("event %d is in %d objects, want 1", s, counts[s])
		}
	}
	if seq, plan := syncedSeq(t, st, acme); seq != 5 || plan != nil {
		t.Errorf("high-water mark %d, plan %v; want 5, none", seq, plan)
	}
}

func TestRerunIsByteIdentical(t *testing.T) {
	ctx := context.Background()
	st := storagetest.New(t)
	acme := storagetest.NewOrg(t, st, "acme")
	at := time.Now().UTC().Add(-time.Hour)
	appendEvents(t, st, acme, logins(1000, at)...)
	first := openBucket(t, t.TempDir())
	if _, err := New(Config{Store: st, Bucket: first}).SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	// A fresh database holding the same events, as if the commit had been
	// lost, exports the same bytes.
	st2 := storagetest.New(t)
	acme2 := storagetest.NewOrg(t, st2, "acme")
	appendEvents(t, st2, acme2, logins(1000, at)...)
	second := openBucket(t, t.TempDir())
	if _, err := New(Config{Store: st2, Bucket: second}).SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	name := ObjectName("acme", at, 1, 1000)
	a, err1 := first.ReadAll(ctx, name)
	c, err2 := second.ReadAll(ctx, name)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if !bytes.Equal(a, c) {
		t.Errorf("two exports of the same events differ")
	}
}

func TestFailingUploadLeavesHighWaterMark(t *testing.T) {
	ctx := context.Background()
	st := storagetest.New(t)
	acme := storagetest.NewOrg(t, st, "acme")
	at := time.Now().UTC().Add(-time.Hour)
	appendEvents(t, st, acme, logins(3, at)...)
	dir := t.TempDir()
	broken, err := Open(ctx, "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	broken.Close()
	reg := metrics.New(st.DB().DB)
	m := reg.NewBucketSync()
	s := New(Config{Store: st, Bucket: broken, Metrics: m})
	s.tick(ctx)
	if seq, _ := syncedSeq(t, st, acme); seq != 0 {
		t.Errorf("after a failed upload the high-water mark is %d, want 0", seq)
	}
	samples := scrape(t, reg)
	if samples.Get("auditgraph_bucket_sync_failures_total") != 1 || samples.Get("auditgraph_bucket_sync_lag_events") != 3 {
		t.Errorf("metrics after a failure: failures %v, lag events %v; want 1, 3",
			samples.Get("auditgraph_bucket_sync_failures_total"), samples.Get("auditgraph_bucket_sync_lag_events"))
	}
	b := openBucket(t, dir)
	if _, err := New(Config{Store: st, Bucket: b}).SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if counts := seqCounts(t, objects(t, b), "acme"); len(counts) != 3 {
		t.Errorf("after the retry the bucket holds events %v, want 1..3", counts)
	}
}

// scrape reads reg's exposition, checked with promlint (the rules of
// promtool check metrics).
func scrape(t *testing.T, reg *metrics.Metrics) metricstest.Samples {
	t.Helper()
	rec := httptest.NewRecorder()
	reg.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	problems, err := promlint.New(bytes.NewReader(rec.Body.Bytes())).Lint()
	if err != nil {
		t.Fatalf("promlint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	return metricstest.Parse(t, rec.Body.Bytes())
}

func TestConcurrentSyncersWriteEachEventOnce(t *testing.T) {
	ctx := context.Background()
	dbURL := storagetest.URL(t)
	stores := make([]*storage.Store, 2)
	for i := range stores {
		s, err := storage.Open(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	acme := storagetest.NewOrg(t, stores[0], "acme")
	dir := t.TempDir()
	at := time.Now().UTC().Add(-time.Hour)
	var (
		wg      sync.WaitGroup
		stop    = make(chan struct{})
		mu      sync.Mutex
		skipped int
		errs    []error
	)
	for i, st := range stores {
		s := New(Config{Store: st, Bucket: openBucket(t, dir), MaxObjectEvents: 7})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ran, err := s.SyncOnce(ctx)
				mu.Lock()
				if err != nil {
					errs = append(errs, fmt.Errorf("syncer %d: %w", i, err))
				}
				if !ran {
					skipped++
				}
				mu.Unlock()
			}
		}()
	}
	for i := range 40 {
		appendEvents(t, stores[i%2], acme, logins(5, at.Add(time.Duration(i)*time.Second))...)
	}
	close(stop)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
	if _, err := New(Config{Store: stores[0], Bucket: openBucket(t, dir)}).SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	counts := seqCounts(t, objects(t, openBucket(t, dir)), "acme")
	for s := int64(1); s <= 200; s++ {
		if counts[s] != 1 {
			t.Errorf("event %d is in %d objects, want 1", s, counts[s])
		}
	}
	if len(counts) != 200 {
		t.Errorf("bucket holds %d events, want 200", len(counts))
	}
	t.Logf("runs skipped because the other syncer held the lock: %d", skipped)
}

type recordingCheckpointer struct{ calls []string }

func (c *recordingCheckpointer) Checkpoint(_ context.Context, orgID int64, org string, lastSeq int64) ([]byte, error) {
	c.calls = append(c.calls, fmt.Sprintf("%d:%s:%d", orgID, org, lastSeq))
	return fmt.Appendf(nil, `{"org":%q,"last_seq":%d}`, org, lastSeq), nil
}

func TestCheckpointUploadedBeforeCommit(t *testing.T) {
	ctx := context.Background()
	st := storagetest.New(t)
	acme := storagetest.NewOrg(t, st, "acme")
	appendEvents(t, st, acme, logins(3, time.Now().Add(-time.Hour))...)
	b := openBucket(t, t.TempDir())
	cp := &recordingCheckpointer{}
	if _, err := New(Config{Store: st, Bucket: b, Checkpointer: cp, MaxObjectEvents: 2}).SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{fmt.Sprintf("%d:acme:2", acme), fmt.Sprintf("%d:acme:3", acme)}
	if fmt.Sprint(cp.calls) != fmt.Sprint(want) {
		t.Errorf("checkpoints asked for %v, want %v", cp.calls, want)
	}
	objs := objects(t, b)
	for _, seq := range []int64{2, 3} {
		name := CheckpointName("acme", seq)
		if got := fmt.Sprint(objs[name]); got != fmt.Sprintf(`[{"org":"acme","last_seq":%d}]`, seq) {
			t.Errorf("%s holds %s", name, got)
		}
	}
	if name := CheckpointName("acme", 2); name != "wandb-audit-logs/acme/checkpoints/000000000002.json" {
		t.Errorf("CheckpointName = %q", name)
	}
}

type recordingAlerter struct {
	mu     sync.Mutex
	stalls []Stall
}

func (a *recordingAlerter) BucketSyncStalled(_ context.Context, s Stall) {
	a.mu.Lock()
	a.stalls = append(a.stalls, s)
	a.mu.Unlock()
}

func TestTwoMissedIntervalsRaiseOneAlert(t *testing.T) {
	ctx := context.Background()
	st := storagetest.New(t)
	acme := storagetest.NewOrg(t, st, "acme")
	appendEvents(t, st, acme, logins(2, time.Now().Add(-time.Hour))...)
	dir := t.TempDir()
	broken, _ := Open(ctx, "file://"+dir)
	broken.Close()
	reg := metrics.New(st.DB().DB)
	alerts := &recordingAlerter{}
	const interval = time.Second
	s := New(Config{Store: st, Bucket: broken, Interval: interval, Alerter: alerts, Metrics: reg.NewBucketSync()})
	s.tick(ctx)
	if len(alerts.stalls) != 0 || scrape(t, reg).Get("auditgraph_bucket_sync_stalled") != 0 {
		t.Fatalf("one failed run raised %v: want no alert yet", alerts.stalls)
	}
	time.Sleep(2 * interval)
	s.tick(ctx)
	s.tick(ctx)
	// Another server watching the same database does not alert again.
	New(Config{Store: st, Bucket: broken, Interval: interval, Alerter: alerts}).tick(ctx)
	if len(alerts.stalls) != 1 || alerts.stalls[0].Events != 2 || alerts.stalls[0].Err == nil {
		t.Fatalf("after two missed intervals the alerts are %+v, want one with 2 waiting events and the error", alerts.stalls)
	}
	if v := scrape(t, reg).Get("auditgraph_bucket_sync_stalled"); v != 1 {
		t.Errorf("auditgraph_bucket_sync_stalled = %v, want 1", v)
	}
	s.cfg.Bucket = openBucket(t, dir)
	s.tick(ctx)
	samples := scrape(t, reg)
	if samples.Get("auditgraph_bucket_sync_stalled") != 0 || samples.Get("auditgraph_bucket_sync_lag_events") != 0 ||
		samples.Get("auditgraph_bucket_sync_last_success_timestamp_seconds") < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("after a successful run: stalled %v, lag %v, last success %v",
			samples.Get("auditgraph_bucket_sync_stalled"), samples.Get("auditgraph_bucket_sync_lag_events"),
			samples.Get("auditgraph_bucket_sync_last_success_timestamp_seconds"))
	}
}

// TestGapLeftByRetention: when retention dropped a month before the events
// were exported, objects end before the gap and the next starts after it.
func TestGapLeftByRetention(t *testing.T) {
	ctx := context.Background()
	st := storagetest.New(t)
	acme := storagetest.NewOrg(t, st, "acme")
	at := time.Now().UTC().Add(-time.Hour)
	appendEvents(t, st, acme, logins(2, at)...)
	appendEvents(t, st, acme, audit.Event{Action: "user:login", Timestamp: time.Date(2016, 3, 1, 0, 0, 0, 0, time.UTC)})
	appendEvents(t, st, acme, logins(2, at)...)
	if _, err := st.ExpirePartitions(ctx, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), false); err != nil {
		t.Fatal(err)
	}
	b := openBucket(t, t.TempDir())
	if _, err := New(Config{Store: st, Bucket: b}).SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	var names []string
	for k := range objects(t, b) {
		names = append(names, k[strings.LastIndex(k, "/")+1:])
	}
	if want := []string{"000000000001-000000000002.ndjson.gz", "000000000004-000000000005.ndjson.gz"}; fmt.Sprint(slices.Sorted(slices.Values(names))) != fmt.Sprint(want) {
		t.Errorf("objects %v, want %v", slices.Sorted(slices.Values(names)), want)
	}
	if seq, _ := syncedSeq(t, st, acme); seq != 5 {
		t.Errorf("high-water mark %d, want 5", seq)
	}
}
