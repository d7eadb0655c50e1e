// Package metricstest reads what a /metrics endpoint exposes, for tests.
package metricstest

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Samples are the values of one exposition in the text format, by series:
// a counter's or gauge's value, and a histogram's count under
// <name>_count.
type Samples map[string]float64

// Parse reads an exposition, failing t when it is not valid.
func Parse(t testing.TB, text []byte) Samples {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("parse exposition: %v\n%s", err, text)
	}
	s := Samples{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			var pairs []string
			for _, l := range m.GetLabel() {
				pairs = append(pairs, l.GetName(), l.GetValue())
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				s[key(name, pairs)] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				s[key(name, pairs)] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				s[key(name+"_count", pairs)] = float64(m.GetHistogram().GetSampleCount())
			case dto.MetricType_UNTYPED:
				s[key(name, pairs)] = m.GetUntyped().GetValue()
			}
		}
	}
	return s
}

// Get returns the value of the series name with the labels given as
// name, value pairs, or 0 when there is no such series.
func (s Samples) Get(name string, labels ...string) float64 {
	return s[key(name, labels)]
}

// Has reports whether the series exists.
func (s Samples) Has(name string, labels ...string) bool {
	_, ok := s[key(name, labels)]
	return ok
}

// Series returns the keys of every series of name, whatever their labels,
// for failure messages.
func (s Samples) Series(name string) []string {
	var out []string
	for k := range s {
		if k == name || strings.HasPrefix(k, name+"{") {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// key spells a series as name{a="1",b="2"}, labels sorted by name.
func key(name string, pairs []string) string {
	if len(pairs)%2 != 0 {
		panic(fmt.Sprintf("metricstest: odd label list %q", pairs))
	}
	var ls []string
	for i := 0; i < len(pairs); i += 2 {
		ls = append(ls, fmt.Sprintf("%s=%q", pairs[i], pairs[i+1]))
	}
	slices.Sort(ls)
	return name + "{" + strings.Join(ls, ",") + "}"
}
