package verify

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/chain"
)

// TestLineEventReadsEveryKey reads back, for every documented key, an
// exported line holding that key alone, and a line holding them all.
func TestLineEventReadsEveryKey(t *testing.T) {
	var all audit.Event
	for i, k := range audit.Specs {
		t.Run(string(k.Key), func(t *testing.T) {
			var e audit.Event
			set(&e, i)
			set(&all, i)
			line := chain.AppendObject(nil, &e)
			got, err := lineEvent(line)
			if err != nil || got != e {
				t.Errorf("lineEvent(%s) = %+v, %v; want %+v", line, got, err, e)
			}
		})
	}
	line := chain.AppendObject(nil, &all)
	if got, err := lineEvent(line); err != nil || got != all {
		t.Errorf("lineEvent(%s) = %+v, %v; want %+v", line, got, err, all)
	}
}

func TestLineEventRefuses(t *testing.T) {
	for in, want := range map[string]string{
		`{"action":"user:login","colour":"red"}`: `"colour"`,
		`{"action":5}`:                           "action",
		`{"response_code":"200"}`:                "response_code",
		`{"timestamp":"yesterday"}`:              "timestamp",
		`{"action":`:                             "EOF",
	} {
		t.Run(in, func(t *testing.T) {
			if _, err := lineEvent([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("lineEvent(%s) error = %v, want one naming %s", in, err, want)
			}
		})
	}
}

// set gives the key audit.Specs[i] of e a value.
func set(e *audit.Event, i int) {
	f := reflect.ValueOf(e).Elem().Field(i)
	switch audit.Specs[i].Kind {
	case audit.Code:
		f.SetInt(201)
	case audit.Time:
		f.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)))
	default:
		f.SetString("v\"é\n")
	}
}

// BenchmarkLineEvent decodes one exported line, as verifying a bucket does
// for every event.
func BenchmarkLineEvent(b *testing.B) {
	e := audit.Event{Action: audit.RunUpdate, ActorEmail: "user17@example.com", ActorIP: "10.0.0.1", ActorUserID: "17",
		EntityName: "team-a", ProjectName: "project-3", ResponseCode: 200, CLIVersion: "0.19.1",
		Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)}
	line := chain.AppendObject(nil, &e)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := lineEvent(line); err != nil {
			b.Fatal(err)
		}
	}
}
