package metrics

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// Operation labels that are not field names: GraphQL names never hold
// parentheses, so they cannot collide with a field.
const (
	// invalidOperation is a request refused before an operation could be
	// read from it: bad JSON, a parse or validation error, an unknown
	// operation name, a persisted query the server does not have.
	invalidOperation = "(invalid)"
	// manyFields stands for an operation with more than maxOperationFields
	// distinct top-level fields, so that the combinations a client can send
	// do not multiply the series.
	manyFields         = "(many)"
	maxOperationFields = 3
)

// GraphQL returns the gqlgen extension that counts every operation, by its
// top-level fields and outcome, and times queries and mutations.
func (m *Metrics) GraphQL() graphql.HandlerExtension { return graphqlExtension{m} }

type graphqlExtension struct{ m *Metrics }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
	graphql.ResponseInterceptor
} = graphqlExtension{}

func (graphqlExtension) ExtensionName() string                   { return "Metrics" }
func (graphqlExtension) Validate(graphql.ExecutableSchema) error { return nil }

// executedKey marks the context of an operation InterceptOperation counts.
type executedKey struct{}

// InterceptOperation counts an operation that passed validation at its
// first response: a query's or mutation's answer, or a subscription's first
// event or the error that refused it (one that ends with no event is
// counted then).
func (e graphqlExtension) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	operation := operationLabel(oc)
	subscription := oc.Operation.Operation == ast.Subscription
	responses := next(context.WithValue(ctx, executedKey{}, true))
	counted := false
	// The transports call responses from one goroutine, one call at a time.
	return func(ctx context.Context) *graphql.Response {
		resp := responses(ctx)
		if !counted {
			counted = true
			// A query or mutation without a response was cut short: its
			// client went away.
			failed := (resp == nil && !subscription) || (resp != nil && len(resp.Errors) > 0)
			e.m.graphqlOperation(operation, failed, oc.Stats.OperationStart, !subscription)
		}
		return resp
	}
}

// InterceptResponse counts the requests refused before an operation ran:
// only they reach it without InterceptOperation's mark.
func (e graphqlExtension) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if ctx.Value(executedKey{}) == nil {
		operation, start := invalidOperation, time.Time{}
		// A body that is not a GraphQL request never gets an operation
		// context.
		if graphql.HasOperationContext(ctx) {
			oc := graphql.GetOperationContext(ctx)
			operation, start = operationLabel(oc), oc.Stats.OperationStart
		}
		e.m.graphqlOperation(operation, true, start, true)
	}
	return resp
}

// graphqlOperation counts an operation, and times it from start unless
// timed is false or start is unknown.
func (m *Metrics) graphqlOperation(operation string, failed bool, start time.Time, timed bool) {
	outcome := "ok"
	if failed {
		outcome = "error"
	}
	m.graphqlOperations.WithLabelValues(operation, outcome).Inc()
	if timed && !start.IsZero() {
		m.graphqlDuration.WithLabelValues(operation).Observe(time.Since(start).Seconds())
	}
}

// operationLabel names an operation by its distinct top-level fields,
// sorted and joined with ",": the schema bounds them, where the operation
// name is the client's choice. Aliases are not names either.
func operationLabel(oc *graphql.OperationContext) string {
	if oc.Operation == nil {
		return invalidOperation
	}
	names := topLevelFields(oc.Operation.SelectionSet, nil)
	slices.Sort(names)
	names = slices.Compact(names)
	switch {
	case len(names) == 0:
		return invalidOperation
	case len(names) > maxOperationFields:
		return manyFields
	}
	return strings.Join(names, ",")
}

// topLevelFields appends the names of the fields set selects, looking into
// fragments, which validation has resolved.
func topLevelFields(set ast.SelectionSet, names []string) []string {
	for _, s := range set {
		switch s := s.(type) {
		case *ast.Field:
			names = append(names, s.Name)
		case *ast.InlineFragment:
			names = topLevelFields(s.SelectionSet, names)
		case *ast.FragmentSpread:
			if s.Definition != nil {
				names = topLevelFields(s.Definition.SelectionSet, names)
			}
		}
	}
	return names
}
