package resolvers

import (
	"time"

	"github.com/auditgraph/auditgraph/graph/model"
	"github.com/auditgraph/auditgraph/internal/alerting"
)

// ruleFromInput translates an AlertRuleInput; the service validates it.
func ruleFromInput(in model.AlertRuleInput) (alerting.Rule, error) {
	ids, err := parseIDs("integrations", in.Integrations)
	if err != nil {
		return alerting.Rule{}, err
	}
	r := alerting.Rule{Name: in.Name, Actions: in.Actions, Codes: in.ResponseCodes, Integrations: ids, Enabled: true,
		Actor: orZero(in.Actor), Target: orZero(in.Target), CodeMin: orZero(in.ResponseCodeMin), CodeMax: orZero(in.ResponseCodeMax),
		Threshold: orZero(in.Threshold), Window: time.Duration(orZero(in.WindowSeconds)) * time.Second}
	if in.Enabled != nil {
		r.Enabled = *in.Enabled
	}
	return r, nil
}

func parseIDs(field string, ss []string) ([]int64, error) {
	ids := make([]int64, len(ss))
	for i, s := range ss {
		id, err := parseID(field, s)
		if err != nil {
			return nil, err
		}
		ids[i] = id
	}
	return ids, nil
}

func orZero[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// unlessZero is nil for T's zero value, for optional fields stored as zero.
func unlessZero[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}
