// Package gqlslice marshals GraphQL lists of objects without a goroutine per
// element when no element can wait on anything.
//
// gqlgen v0.17.95 marshals every list of objects with
// graphql.MarshalSliceConcurrently: one goroutine per element, so that
// resolver fields of the elements (a team list through a dataloader) wait
// together and are batched. A page of 50 members or 100 audit events whose
// query selects only plain fields (username, email, lastActiveAt) pays for
// 50–100 goroutines that never wait: about a tenth of the server's CPU per
// page (issue 17). tools/gqlgen rewrites the generated list marshallers of
// object types to call Marshal with the element type's concurrent fields;
// Marshal goes element by element when the selection holds only leaf fields
// outside that set, and hands the list to gqlgen's concurrent marshaller
// otherwise.
package gqlslice

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// Marshal marshals length elements with marshalElement, as
// graphql.MarshalSliceConcurrently does, but in the calling goroutine when
// Sequential(sel, concurrent) holds.
func Marshal(ctx context.Context, sel ast.SelectionSet, concurrent map[string]bool, length int, workerLimit int64, omitPanicHandler bool,
	marshalElement func(ctx context.Context, i int) graphql.Marshaler) graphql.Array {
	if length < 2 || !Sequential(sel, concurrent) {
		return graphql.MarshalSliceConcurrently(ctx, length, workerLimit, omitPanicHandler, marshalElement)
	}
	ret := make(graphql.Array, length)
	for i := range length {
		if !marshalOne(ctx, ret, i, omitPanicHandler, marshalElement) {
			return nil
		}
	}
	return ret
}

// marshalOne marshals element i into ret under its own field context, and
// reports false when it panicked (the error is on the response, as gqlgen's
// marshaller records it, and the list becomes null).
func marshalOne(ctx context.Context, ret graphql.Array, i int, omitPanicHandler bool,
	marshalElement func(ctx context.Context, i int) graphql.Marshaler) (ok bool) {
	childCtx := graphql.WithFieldContext(ctx, &graphql.FieldContext{Index: &i})
	if !omitPanicHandler {
		defer func() {
			if r := recover(); r != nil {
				graphql.AddError(childCtx, graphql.Recover(childCtx, r))
				ok = false
			}
		}()
	}
	ret[i] = marshalElement(childCtx, i)
	return true
}

// Sequential reports whether a selection on an object can be marshalled
// without goroutines: every field it selects, directly or through
// fragments, is a leaf (no selection of its own, so no nested object whose
// resolvers could wait) and not one of the object's concurrent fields
// (resolvers, methods taking a context), and nothing is deferred.
func Sequential(sel ast.SelectionSet, concurrent map[string]bool) bool {
	for _, s := range sel {
		switch s := s.(type) {
		case *ast.Field:
			if len(s.SelectionSet) > 0 || concurrent[s.Name] {
				return false
			}
		case *ast.InlineFragment:
			if s.Directives.ForName("defer") != nil || !Sequential(s.SelectionSet, concurrent) {
				return false
			}
		case *ast.FragmentSpread:
			if s.Directives.ForName("defer") != nil || s.Definition == nil || !Sequential(s.Definition.SelectionSet, concurrent) {
				return false
			}
		default:
			return false
		}
	}
	return true
}
