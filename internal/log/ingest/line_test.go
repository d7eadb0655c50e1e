package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestParseLineKeepsEveryKey(t *testing.T) {
	in := `{"id":"e-1","action":"artifact:create","actor_email":"a@x.io","actor_ip":"10.0.0.1","actor_user_id":"7",` +
		`"artifact_asset":"aa","artifact_digest":"ad","artifact_qualified_name":"aq","artifact_sequence_asset":"as",` +
		`"cli_version":"0.19.0","entity_asset":"ea","entity_name":"en","project_asset":"pa","project_name":"pn",` +
		`"report_asset":"ra","report_name":"rn","response_code":201,"timestamp":"2026-02-03T04:05:06+01:00",` +
		`"user_asset":"ua","user_email":"u@x.io","project_public":false,"org_scoped":true}`
	l, err := ParseLine([]byte(in), 1, now)
	if err != nil {
		t.Fatal(err)
	}
	want := audit.Event{Action: audit.ArtifactCreate, ActorEmail: "a@x.io", ActorIP: "10.0.0.1", ActorUserID: "7",
		ArtifactAsset: "aa", ArtifactDigest: "ad", ArtifactQualifiedName: "aq", ArtifactSequenceAsset: "as",
		CLIVersion: "0.19.0", EntityAsset: "ea", EntityName: "en", ProjectAsset: "pa", ProjectName: "pn",
		ReportAsset: "ra", ReportName: "rn", ResponseCode: 201, Timestamp: time.Date(2026, 2, 3, 3, 5, 6, 0, time.UTC),
		UserAsset: "ua", UserEmail: "u@x.io"}
	if l.Event != want {
		t.Errorf("ParseLine event = %+v, want %+v", l.Event, want)
	}
	if l.ClientID != "e-1" || l.ProjectPublic || !l.OrgScoped {
		t.Errorf("ParseLine context = id %q public %v scoped %v, want e-1 false true", l.ClientID, l.ProjectPublic, l.OrgScoped)
	}
}

func TestParseLineDefaults(t *testing.T) {
	l, err := ParseLine([]byte(`{"action":"user:login"}`), 1, now)
	if err != nil {
		t.Fatal(err)
	}
	if !l.Timestamp.Equal(now) || !l.OrgScoped || l.ResponseCode != 0 {
		t.Errorf("ParseLine defaults = ts %v scoped %v code %d, want %v true 0", l.Timestamp, l.OrgScoped, l.ResponseCode, now)
	}
}

func TestParseLineRejects(t *testing.T) {
	for _, tc := range []struct {
		line, field string
	}{
		{`{"action":"user:fly"}`, "action"},
		{`{"actor_email":"a@x.io"}`, "action"},
		{`{"action":""}`, "action"},
		{`{"action":5}`, "action"},
		{`{"action":"user:login","timestamp":"2026-02-03 04:05:06"}`, "timestamp"},
		{`{"action":"user:login","timestamp":"1999-12-31T23:59:59Z"}`, "timestamp"},
		{`{"action":"user:login","timestamp":"2026-03-03T12:00:00Z"}`, "timestamp"},
		{`{"action":"user:login","response_code":99}`, "response_code"},
		{`{"action":"user:login","response_code":600}`, "response_code"},
		{`{"action":"user:login","response_code":200.5}`, "response_code"},
		{`{"action":"user:login","response_code":"200"}`, "response_code"},
		{`{"action":"user:login","colour":"red"}`, "colour"},
		{`{"action":"user:login","actor_email":["a"]}`, "actor_email"},
		{`{"action":"user:login","project_public":"yes"}`, "project_public"},
		{`{"action":"user:login","actor_ip":"` + strings.Repeat("9", MaxValueBytes+1) + `"}`, "actor_ip"},
		{`{"action":"user:login"`, ""},
		{`{"action":"user:login"} {"action":"user:login"}`, ""},
		{`[1,2]`, ""},
		{"{\"action\":\"user:login\",\"actor_ip\":\"\xff\"}", ""},
	} {
		t.Run(tc.line, func(t *testing.T) {
			_, err := ParseLine([]byte(tc.line), 3, now)
			var le *LineError
			if !errors.As(err, &le) {
				t.Errorf("ParseLine(%q) error = %v, want a *LineError", tc.line, err)
				return
			}
			if le.Line != 3 || le.Field != tc.field {
				t.Errorf("ParseLine(%q) = line %d field %q, want line 3 field %q (%v)", tc.line, le.Line, le.Field, tc.field, err)
			}
		})
	}
}

func TestReadBatchNamesTheBadLine(t *testing.T) {
	body := "{\"action\":\"user:login\"}\n\n{\"action\":\"run:stop\"}\n{\"action\":\"nope\"}\n"
	_, err := ReadBatch(strings.NewReader(body), now)
	var le *LineError
	if !errors.As(err, &le) || le.Line != 4 || le.Field != "action" {
		t.Fatalf("ReadBatch = %v, want a LineError for line 4, field action", err)
	}
}

func TestReadBatchRefusesRepeatedKeys(t *testing.T) {
	body := "{\"action\":\"user:login\"}\n \t\r\n\n{\"action\":\"user:login\",\"actor_email\":\"a@x.io\",\"action\":\"user:logout\"}\n"
	_, err := ReadBatch(strings.NewReader(body), now)
	var le *LineError
	if !errors.As(err, &le) || le.Line != 4 || le.Field != "action" || !strings.Contains(le.Error(), "repeated key") {
		t.Fatalf("ReadBatch = %v, want a repeated-key LineError for line 4, field action", err)
	}
}

// TestReadBatchReadError checks that an error reading the body, after blank
// lines as before a line, fails the batch with that error.
func TestReadBatchReadError(t *testing.T) {
	boom := errors.New("boom")
	for name, prefix := range map[string]string{
		"after blank lines": "\n\n  \n",
		"within a line":     "{\"action\":\"user:login\"}\n{\"action\":",
	} {
		t.Run(name, func(t *testing.T) {
			r := io.MultiReader(strings.NewReader(prefix), iotest.ErrReader(boom))
			if _, err := ReadBatch(r, now); !errors.Is(err, boom) {
				t.Errorf("ReadBatch = %v, want %v", err, boom)
			}
		})
	}
}

// TestReadBatchSkipsPadding reads a body of many blank lines, several
// buffers long, and still numbers the lines after it.
func TestReadBatchSkipsPadding(t *testing.T) {
	body := strings.Repeat("\n", 200_000) + strings.Repeat(" \r\n", 50_000) + "{\"action\":\"nope\"}\n"
	_, err := ReadBatch(strings.NewReader(body), now)
	var le *LineError
	if !errors.As(err, &le) || le.Line != 250_001 || le.Field != "action" {
		t.Fatalf("ReadBatch = %v, want a LineError for line 250001, field action", err)
	}
}

func TestReadBatch(t *testing.T) {
	body := "{\"action\":\"user:login\"}\r\n\n  \n{\"action\":\"run:stop\"}" // CRLF, blank lines, no final newline
	batch, err := ReadBatch(strings.NewReader(body), now)
	if err != nil {
		t.Fatal(err)
	}
	lines := batch.Lines
	if len(lines) != 2 || lines[0].Action != audit.UserLogin || lines[1].Action != audit.RunStop {
		t.Errorf("ReadBatch = %+v, want user:login and run:stop", lines)
	}
}

func TestReadBatchLimits(t *testing.T) {
	long := `{"action":"user:login","cli_version":"` + strings.Repeat("x", MaxLineBytes) + `"}` + "\n"
	if _, err := ReadBatch(strings.NewReader(long), now); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("ReadBatch(long line) = %v, want a line-length error", err)
	}
	many := strings.Repeat("{\"action\":\"user:login\"}\n", MaxBatch+1)
	_, err := ReadBatch(strings.NewReader(many), now)
	var le *LineError
	if !errors.As(err, &le) || le.Line != MaxBatch+1 {
		t.Errorf("ReadBatch(%d lines) = %v, want an error on line %d", MaxBatch+1, err, MaxBatch+1)
	}
}

func TestCollected(t *testing.T) {
	for _, tc := range []struct {
		line string
		mt   bool
	}{
		{`{"action":"run:update"}`, true},
		{`{"action":"report:read"}`, false},
		{`{"action":"run:update","project_public":true}`, false},
		{`{"action":"user:login","org_scoped":false}`, false},
	} {
		t.Run(tc.line, func(t *testing.T) {
			l, err := ParseLine([]byte(tc.line), 1, now)
			if err != nil {
				t.Fatal(err)
			}
			if got := Collected(deployment.MultiTenant, l); got != tc.mt {
				t.Errorf("Collected(multi-tenant, %s) = %v, want %v", tc.line, got, tc.mt)
			}
			if !Collected(deployment.SelfManaged, l) {
				t.Errorf("Collected(self-managed, %s) = false, want true", tc.line)
			}
		})
	}
}

func FuzzParseLine(f *testing.F) {
	for _, s := range []string{
		`{"action":"user:login"}`,
		`{"id":"x","action":"run:update","timestamp":"2026-01-01T00:00:00Z","response_code":200}`,
		`{"action":"user:login","project_public":true,"org_scoped":false}`,
		`{"action":"user:login","response_code":1e3}`,
		`{}`, `null`, `"str"`, `{"action":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseLine(b, 1, now)
		if err != nil {
			var le *LineError
			if !errors.As(err, &le) || le.Line != 1 || le.Reason == "" {
				t.Fatalf("ParseLine(%q) error %v is not a LineError for line 1", b, err)
			}
			return
		}
		if !l.Action.Valid() || l.Timestamp.IsZero() || (l.ResponseCode != 0 && (l.ResponseCode < 100 || l.ResponseCode > 599)) {
			t.Fatalf("ParseLine(%q) accepted an invalid event %+v", b, l)
		}
	})
}

// BenchmarkReadBatch reads a 10,000-line batch shaped like the platform's
// events (bench/ sends the same kind).
func BenchmarkReadBatch(b *testing.B) {
	var body []byte
	for i := range 10_000 {
		body = fmt.Appendf(body, `{"id":"evt-%08d","action":"artifact:read","actor_email":"maya.chen@example.com","actor_ip":"10.1.%d.%d","actor_user_id":"%d",`+
			`"artifact_asset":"QXJ0aWZhY3Q6%08d","artifact_digest":"4b2c0f6e8a1d3b5c7e9f","artifact_qualified_name":"vision/resnet-ablation/model-weights:v%d",`+
			`"entity_name":"vision","project_name":"resnet-ablation","cli_version":"0.19.8","response_code":200,"timestamp":"2026-02-27T12:%02d:%02dZ"}`+"\n",
			i, i%256, i%200, 1000+i%2000, i, i%50, i%60, i%60)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		batch, err := ReadBatch(bytes.NewReader(body), now)
		if err != nil {
			b.Fatal(err)
		}
		batch.Release()
	}
}

// ReadBatch reuses its buffered readers: what one call returned must not
// change when the next call reads other bytes through the same buffer.
func TestReadBatchResultsOutliveTheBuffer(t *testing.T) {
	line := func(c byte) string {
		s := strings.Repeat(string(c), 40)
		return `{"id":"` + s + `","action":"run:update","actor_email":"` + s + `@x.io","project_name":"` + s + `"}` + "\n"
	}
	batch, err := ReadBatch(strings.NewReader(line('a')+line('b')), now)
	if err != nil {
		t.Fatal(err)
	}
	first := slices.Clone(batch.Lines)
	batch.Release()
	for range 4 { // the pools may hand out any of their readers and slices
		next, err := ReadBatch(strings.NewReader(line('z')+line('y')), now)
		if err != nil {
			t.Fatal(err)
		}
		next.Release()
	}
	for i, c := range []string{"a", "b"} {
		want := strings.Repeat(c, 40)
		if l := first[i]; l.ClientID != want || l.ActorEmail != want+"@x.io" || l.ProjectName != want {
			t.Errorf("line %d after later reads = id %q actor %q project %q, want %s…", i+1, l.ClientID, l.ActorEmail, l.ProjectName, c)
		}
	}
}

// A released batch's slice serves the next batch, which must hold its own
// lines only, however many lines the earlier one had.
func TestReadBatchReusesReleasedSlices(t *testing.T) {
	lines := func(action string, n int) string {
		return strings.Repeat(`{"action":"`+action+`","project_name":"p"}`+"\n", n)
	}
	for _, n := range []int{1, 300, 2, 1000, 1} {
		for range 3 { // the pool may hand out any of its slices
			batch, err := ReadBatch(strings.NewReader(lines("run:stop", n)+`{"action":"user:login"}`), now)
			if err != nil {
				t.Fatal(err)
			}
			got := batch.Lines
			if len(got) != n+1 || got[0].Action != audit.RunStop || got[n-1].ProjectName != "p" || got[n].Action != audit.UserLogin || got[n].ProjectName != "" {
				t.Fatalf("ReadBatch(%d run:stop lines and a user:login) = %d lines, first %q, last %+v", n, len(got), got[0].Action, got[len(got)-1].Event)
			}
			batch.Release()
			if len(batch.Lines) != 0 || (cap(batch.Lines) > 0 && batch.Lines[:1][0].ProjectName != "") {
				t.Fatalf("a released batch keeps %d lines or their values", len(batch.Lines))
			}
		}
	}
}
