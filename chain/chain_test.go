package chain_test

import (
	"bytes"
	"crypto/sha256"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/chain"
)

// canonFromFields is the contract's definition of canon(e), built from
// audit.Event.Fields with the timestamp in chain.TimeFormat.
func canonFromFields(seq int64, e audit.Event) []byte {
	b := []byte(strconv.FormatInt(seq, 10) + "\n{")
	for i, f := range e.Fields() {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, f.Key...)
		b = append(b, '"', ':')
		if f.Key == audit.KeyTimestamp {
			b = audit.AppendString(b, e.Timestamp.UTC().Format(chain.TimeFormat))
		} else {
			b = append(b, f.Value...)
		}
	}
	return append(b, '}')
}

func randomEvent(r *rand.Rand) audit.Event {
	acts := audit.Actions()
	pick := func(vs ...string) string { return vs[r.IntN(len(vs))] }
	odd := []string{"", "", "a", "ünï\"c\\ode", "tab\there", "nl\nx\x01", "<html>&", "x@y.io"}
	e := audit.Event{
		Action: acts[r.IntN(len(acts))], ActorEmail: pick(odd...), ActorIP: pick(odd...), ActorUserID: pick(odd...),
		ArtifactAsset: pick(odd...), ArtifactDigest: pick(odd...), ArtifactQualifiedName: pick(odd...),
		ArtifactSequenceAsset: pick(odd...), CLIVersion: pick(odd...), EntityAsset: pick(odd...), EntityName: pick(odd...),
		ProjectAsset: pick(odd...), ProjectName: pick(odd...), ReportAsset: pick(odd...), ReportName: pick(odd...),
		UserAsset: pick(odd...), UserEmail: pick(odd...),
		Timestamp: time.Unix(1_700_000_000+r.Int64N(100_000_000), r.Int64N(1e9)).In(time.FixedZone("x", 3600)),
	}
	if r.IntN(3) > 0 {
		e.ResponseCode = 100 + r.IntN(500)
	}
	return e
}

func TestAppendCanonMatchesFields(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		e := randomEvent(r)
		seq := int64(i*7919 + 1)
		got, want := chain.AppendCanon(nil, seq, &e), canonFromFields(seq, e)
		if !bytes.Equal(got, want) {
			t.Fatalf("AppendCanon(%d, %+v) =\n%s\nwant\n%s", seq, e, got, want)
		}
	}
}

func TestCanonExample(t *testing.T) {
	e := audit.Event{Action: audit.UserLogin, ActorEmail: "ada@example.com", ResponseCode: 200,
		Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)}
	got := string(chain.AppendCanon(nil, 42, &e))
	want := "42\n{\"action\":\"user:login\",\"actor_email\":\"ada@example.com\",\"response_code\":200,\"timestamp\":\"2026-01-02T03:04:05.123456Z\"}"
	if got != want {
		t.Fatalf("AppendCanon = %q, want %q", got, want)
	}
	var h chain.Hasher
	sum := sha256.Sum256(append(make([]byte, 32), want...))
	if got := h.Next(chain.Genesis, 42, &e); got != chain.Hash(sum) {
		t.Fatalf("Next = %s, want %x", got, sum)
	}
}

func TestTimeTruncatesToMicroseconds(t *testing.T) {
	in := time.Date(2026, 1, 2, 3, 4, 5, 999_999_999, time.FixedZone("x", -7200))
	want := time.Date(2026, 1, 2, 5, 4, 5, 999_999_000, time.UTC)
	if got := chain.Time(in); !got.Equal(want) || got.Location() != time.UTC {
		t.Fatalf("Time(%v) = %v, want %v", in, got, want)
	}
}

func TestHasherDoesNotAllocate(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	e := randomEvent(r)
	var h chain.Hasher
	prev := h.Next(chain.Genesis, 1, &e)
	if n := testing.AllocsPerRun(100, func() { prev = h.Next(prev, 2, &e) }); n != 0 {
		t.Fatalf("Hasher.Next allocates %v times per event, want 0", n)
	}
}

// BenchmarkHasherNext is the chain's cost per stored event at ingest.
func BenchmarkHasherNext(b *testing.B) {
	e := audit.Event{Action: audit.RunUpdate, ActorEmail: "user17@example.com", ActorIP: "10.0.0.1", ActorUserID: "17",
		EntityName: "team-a", ProjectName: "project-3", ResponseCode: 200, CLIVersion: "0.19.1", Timestamp: time.Now()}
	var h chain.Hasher
	prev := chain.Genesis
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		prev = h.Next(prev, int64(i), &e)
	}
}

// TestAppendObjectFollowsSpecs pins AppendObject's unrolled walk to
// audit.Specs: an event with only one key set encodes as an object of that
// key alone, and an event with every key set holds them in Specs' order.
func TestAppendObjectFollowsSpecs(t *testing.T) {
	typ := reflect.TypeFor[audit.Event]()
	if typ.NumField() != audit.NumKeys {
		t.Fatalf("audit.Event has %d fields, audit.Specs %d keys", typ.NumField(), audit.NumKeys)
	}
	var all audit.Event
	for i, s := range audit.Specs {
		var e audit.Event
		setKey(&e, i)
		setKey(&all, i)
		got := string(chain.AppendObject(nil, &e))
		if prefix := `{"` + string(s.Key) + `":`; !strings.HasPrefix(got, prefix) || strings.Count(got, `":`) != 1 {
			t.Errorf("AppendObject(only %s set) = %s, want %s…}", s.Key, got, prefix)
		}
	}
	got := string(chain.AppendObject(nil, &all))
	last := -1
	for _, k := range audit.Keys {
		at := strings.Index(got, `"`+string(k)+`":`)
		if at <= last {
			t.Fatalf("AppendObject(every key set) = %s: %s missing or out of audit.Keys' order", got, k)
		}
		last = at
	}
}

// setKey gives field i of e (the key audit.Specs[i]) a value.
func setKey(e *audit.Event, i int) {
	f := reflect.ValueOf(e).Elem().Field(i)
	switch audit.Specs[i].Kind {
	case audit.Code:
		f.SetInt(404)
	case audit.Time:
		f.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)))
	default:
		f.SetString("v")
	}
}
