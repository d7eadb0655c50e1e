package alerting

import (
	"slices"
	"time"

	"github.com/auditgraph/auditgraph/audit"
)

// A threshold rule fires once per crossing: when a matching event brings
// its actor's matches within the window to the threshold, and not again
// until the count has fallen below it. The state that takes is kept per
// rule and actor in a Counter, not recounted from the log: matching stays in
// Go, in one place, and the state is bounded by the threshold.

// CounterKey names the state of one rule and actor.
type CounterKey struct {
	Rule  int64
	Actor string
}

// Counter is what a threshold rule remembers of one actor: the times of the
// latest matches (at most the threshold's worth, all within a window of the
// newest) and whether the next crossing may fire.
type Counter struct {
	CounterKey
	Hits  []time.Time // oldest first
	Armed bool
}

// NewCounter is the state of an actor never seen: nothing counted, armed.
func NewCounter(k CounterKey) Counter { return Counter{CounterKey: k, Armed: true} }

// Fired is an event that raised an alert of a rule.
type Fired struct {
	Rule  *Rule
	Event int // index into the events given to Match
}

// Matched is the result of matching a batch of events against rules.
type Matched struct {
	rules  []Rule
	events []audit.Event
	plain  []Fired // matches of rules without a threshold: each fires
	counts []Fired // matches of threshold rules, to be counted
}

// Match matches events against the enabled ones of rules.
func Match(rules []Rule, events []audit.Event) *Matched {
	m := &Matched{rules: rules, events: events}
	for i, e := range events {
		for j := range rules {
			r := &rules[j]
			if !r.Enabled || !r.Matches(e) {
				continue
			}
			if r.Threshold > 1 {
				m.counts = append(m.counts, Fired{r, i})
			} else {
				m.plain = append(m.plain, Fired{r, i})
			}
		}
	}
	return m
}

// Empty reports whether nothing matched.
func (m *Matched) Empty() bool { return len(m.plain) == 0 && len(m.counts) == 0 }

// Keys returns the counters Fire needs, each once.
func (m *Matched) Keys() []CounterKey {
	var keys []CounterKey
	for _, f := range m.counts {
		k := CounterKey{f.Rule.ID, Actor(m.events[f.Event])}
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

// Fire returns the alerts the batch raises, in event order, and the
// counters it changed. stored holds the counters found for Keys; a missing
// one is NewCounter. Threshold matches are counted in time order, so a batch
// of old events counts as it happened.
func (m *Matched) Fire(stored map[CounterKey]Counter) (fired []Fired, changed []Counter) {
	fired = append(fired, m.plain...)
	counts := slices.Clone(m.counts)
	slices.SortStableFunc(counts, func(a, b Fired) int {
		return m.events[a.Event].Timestamp.Compare(m.events[b.Event].Timestamp)
	})
	state := map[CounterKey]*Counter{}
	var order []CounterKey
	for _, f := range counts {
		e := m.events[f.Event]
		k := CounterKey{f.Rule.ID, Actor(e)}
		c, ok := state[k]
		if !ok {
			s, found := stored[k]
			if !found {
				s = NewCounter(k)
			}
			s.Hits = slices.Clone(s.Hits)
			c = &s
			state[k] = c
			order = append(order, k)
		}
		if c.add(e.Timestamp, f.Rule.Threshold, f.Rule.Window) {
			fired = append(fired, f)
		}
	}
	slices.SortStableFunc(fired, func(a, b Fired) int { return a.Event - b.Event })
	for _, k := range order {
		changed = append(changed, *state[k])
	}
	return fired, changed
}

// add counts a match at t and reports whether it fires.
func (c *Counter) add(t time.Time, threshold int, window time.Duration) bool {
	i, _ := slices.BinarySearchFunc(c.Hits, t, func(h, t time.Time) int {
		if h.After(t) {
			return 1
		}
		return -1
	})
	c.Hits = slices.Insert(c.Hits, i, t)
	// Keep what can still count: the newest threshold's worth, within a
	// window of the newest.
	newest := c.Hits[len(c.Hits)-1]
	first := 0
	for first < len(c.Hits) && !c.Hits[first].After(newest.Add(-window)) {
		first++
	}
	first = max(first, len(c.Hits)-threshold)
	c.Hits = slices.Delete(c.Hits, 0, first)
	if len(c.Hits) < threshold {
		c.Armed = true
		return false
	}
	if c.Armed {
		c.Armed = false
		return true
	}
	return false
}
