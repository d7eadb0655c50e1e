package alerting_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/alerting"
)

func valid() alerting.Rule {
	return alerting.Rule{Name: "r", Actions: []string{"user:login"}, Integrations: []int64{1}, Enabled: true}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*alerting.Rule)
		want string // "" for valid
	}{
		{"valid", func(*alerting.Rule) {}, ""},
		{"prefix", func(r *alerting.Rule) { r.Actions = []string{"user:*", "run:*"} }, ""},
		{"threshold", func(r *alerting.Rule) { r.Threshold, r.Window = 5, 10*time.Minute }, ""},
		{"empty name", func(r *alerting.Rule) { r.Name = " " }, "name is empty"},
		{"control in name", func(r *alerting.Rule) { r.Name = "a\nb" }, "name holds a control character"},
		{"no actions", func(r *alerting.Rule) { r.Actions = nil }, `actions: give at least one action or prefix such as "user:*"`},
		{"unknown action", func(r *alerting.Rule) { r.Actions = []string{"user:fly"} }, `actions: unknown action "user:fly"`},
		{"prefix of nothing", func(r *alerting.Rule) { r.Actions = []string{"org:*"} }, `actions: prefix "org:*" matches no action of the catalog`},
		{"bare star", func(r *alerting.Rule) { r.Actions = []string{":*"} }, `actions: prefix ":*" matches no action of the catalog`},
		{"partial prefix", func(r *alerting.Rule) { r.Actions = []string{"us:*"} }, `actions: prefix "us:*" matches no action of the catalog`},
		{"bad code", func(r *alerting.Rule) { r.Codes = []int{401, 99} }, "responseCodes: 99 is not between 100 and 599"},
		{"bad range", func(r *alerting.Rule) { r.CodeMin, r.CodeMax = 500, 400 }, "responseCodeMin 500 is above responseCodeMax 400"},
		{"threshold without window", func(r *alerting.Rule) { r.Threshold = 5 }, "window: a threshold needs a window between 1 second and 24h0m0s, got 0s"},
		{"window without threshold", func(r *alerting.Rule) { r.Window = time.Minute }, "window: only a threshold above 1 takes a window"},
		{"fractional window", func(r *alerting.Rule) { r.Threshold, r.Window = 2, 1500*time.Millisecond }, "window: 1.5s is not whole seconds"},
		{"no integrations", func(r *alerting.Rule) { r.Integrations = nil }, "integrations: give at least one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := valid()
			tc.edit(&r)
			err := r.Validate()
			if tc.want == "" {
				if err != nil {
					t.Errorf("%s: Validate() = %v, want nil", tc.name, err)
				}
				return
			}
			if err == nil || !errors.Is(err, alerting.ErrInvalid) || err.Error() != "invalid alert rule: "+tc.want {
				t.Errorf("%s: Validate() = %v, want %q", tc.name, err, tc.want)
			}
		})
	}
}

func TestMatches(t *testing.T) {
	login := audit.Event{Action: audit.UserLogin, ActorEmail: "Eve@X.io", ActorUserID: "7", ResponseCode: 401,
		UserEmail: "Bob@x.io", UserAsset: "VXNlcjox"}
	for _, tc := range []struct {
		name string
		edit func(*alerting.Rule)
		e    audit.Event
		want bool
	}{
		{"exact", func(*alerting.Rule) {}, login, true},
		{"other action", func(r *alerting.Rule) { r.Actions = []string{"user:logout"} }, login, false},
		{"prefix", func(r *alerting.Rule) { r.Actions = []string{"run:*", "user:*"} }, login, true},
		{"other prefix", func(r *alerting.Rule) { r.Actions = []string{"run:*"} }, login, false},
		{"actor email ignoring case", func(r *alerting.Rule) { r.Actor = "eve@x.io" }, login, true},
		{"actor id", func(r *alerting.Rule) { r.Actor = "7" }, login, true},
		{"other actor", func(r *alerting.Rule) { r.Actor = "mallory@x.io" }, login, false},
		{"empty email does not match", func(r *alerting.Rule) { r.Actor = "x" }, audit.Event{Action: audit.UserLogin}, false},
		{"target email", func(r *alerting.Rule) { r.Target = "bob@X.IO" }, login, true},
		{"target asset", func(r *alerting.Rule) { r.Target = "VXNlcjox" }, login, true},
		{"other target", func(r *alerting.Rule) { r.Target = "eve@x.io" }, login, false},
		{"code listed", func(r *alerting.Rule) { r.Codes = []int{401, 403} }, login, true},
		{"code not listed", func(r *alerting.Rule) { r.Codes = []int{403} }, login, false},
		{"code in range", func(r *alerting.Rule) { r.CodeMin, r.CodeMax = 400, 499 }, login, true},
		{"code below range", func(r *alerting.Rule) { r.CodeMin = 402 }, login, false},
		{"code above range", func(r *alerting.Rule) { r.CodeMax = 400 }, login, false},
		{"no code fails a code condition", func(r *alerting.Rule) { r.CodeMax = 599 }, audit.Event{Action: audit.UserLogin}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := valid()
			tc.edit(&r)
			if got := r.Matches(tc.e); got != tc.want {
				t.Errorf("%s: Matches(%+v) = %v, want %v", tc.name, tc.e, got, tc.want)
			}
		})
	}
}

// fire runs events through Match and Fire, carrying the counters over as
// storage does, and returns the indexes that fired in each call.
func fire(t *testing.T, rules []alerting.Rule, batches ...[]audit.Event) [][]int {
	t.Helper()
	stored := map[alerting.CounterKey]alerting.Counter{}
	var out [][]int
	for _, b := range batches {
		m := alerting.Match(rules, b)
		fired, changed := m.Fire(stored)
		for _, c := range changed {
			stored[c.CounterKey] = c
			if len(c.Hits) > 5 {
				t.Errorf("counter %+v keeps %d hits, want at most the threshold", c.CounterKey, len(c.Hits))
			}
		}
		var idx []int
		for _, f := range fired {
			idx = append(idx, f.Event)
		}
		out = append(out, idx)
	}
	return out
}

func TestThreshold(t *testing.T) {
	r := valid()
	r.ID, r.Codes, r.Threshold, r.Window = 1, []int{401, 403}, 5, 10*time.Minute
	t0 := time.Date(2026, 10, 14, 12, 0, 0, 0, time.UTC)
	fail := func(actor string, min int) audit.Event {
		return audit.Event{Action: audit.UserLogin, ActorEmail: actor, ResponseCode: 401, Timestamp: t0.Add(time.Duration(min) * time.Minute)}
	}
	one := func(e audit.Event) []audit.Event { return []audit.Event{e} }

	// One event per batch: the 5th alerts, the 4th and 6th do not.
	got := fire(t, []alerting.Rule{r}, one(fail("eve", 0)), one(fail("eve", 1)), one(fail("eve", 2)), one(fail("eve", 3)),
		one(fail("eve", 4)), one(fail("eve", 5)))
	if want := "[[] [] [] [] [0] []]"; fmt.Sprint(got) != want {
		t.Errorf("one per batch: fired %s, want %s", fmt.Sprint(got), want)
	}

	// In one batch, with another actor and a success mixed in; then the
	// count falls below the threshold and a new crossing alerts again.
	ok := fail("eve", 2)
	ok.ResponseCode = 200
	batch := []audit.Event{fail("eve", 0), fail("bob", 0), fail("eve", 1), ok, fail("eve", 2), fail("bob", 1), fail("eve", 3),
		fail("eve", 4), fail("eve", 5), fail("eve", 9)}
	later := []audit.Event{fail("eve", 15), fail("eve", 16), fail("eve", 17), fail("eve", 18), fail("eve", 19)}
	got = fire(t, []alerting.Rule{r}, batch, later)
	// 9 still counts at 18: the crossing at 18 alerts.
	if want := "[[7] [3]]"; fmt.Sprint(got) != want {
		t.Errorf("mixed: fired %s, want %s", fmt.Sprint(got), want)
	}

	// Spread wider than the window: never 5 within 10 minutes.
	got = fire(t, []alerting.Rule{r}, []audit.Event{fail("eve", 0), fail("eve", 3), fail("eve", 6), fail("eve", 9), fail("eve", 12), fail("eve", 15)})
	if want := "[[]]"; fmt.Sprint(got) != want {
		t.Errorf("spread: fired %s, want %s", fmt.Sprint(got), want)
	}

	// Out of order within a batch: counted in time order.
	got = fire(t, []alerting.Rule{r}, []audit.Event{fail("eve", 4), fail("eve", 0), fail("eve", 3), fail("eve", 1), fail("eve", 2)})
	if want := "[[0]]"; fmt.Sprint(got) != want {
		t.Errorf("out of order: fired %s, want %s", fmt.Sprint(got), want)
	}
}

func TestSuggested(t *testing.T) {
	for _, s := range alerting.Suggestions {
		r, err := alerting.Suggested(s.Key, 1, []int64{2})
		if err != nil || r.Validate() != nil || !r.Enabled || r.Suggestion != s.Key {
			t.Errorf("Suggested(%s) = %+v, %v; Validate() = %v", s.Key, r, err, r.Validate())
		}
	}
	if _, err := alerting.Suggested("NOPE", 1, []int64{2}); err == nil || err.Error() != `invalid alert rule: suggestion "NOPE" does not exist` {
		t.Errorf("Suggested(NOPE) = %v", err)
	}
}

func TestEventURL(t *testing.T) {
	got := alerting.EventURL("https://ag.example/", "acme corp", time.Date(2026, 10, 14, 12, 0, 59, 999, time.UTC))
	want := "https://ag.example/admin/audit_logs?endDate=2026-10-14T12%3A01%3A00&org=acme+corp&startDate=2026-10-14T12%3A00%3A59"
	if got != want {
		t.Errorf("EventURL = %q, want %q", got, want)
	}
}
