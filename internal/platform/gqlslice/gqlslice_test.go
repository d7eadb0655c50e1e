package gqlslice

import (
	"bytes"
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

var schema = gqlparser.MustLoadSchema(&ast.Source{Input: `
type Query { members: [Member!]! }
type Team { name: String! }
type Member { name: String! email: String! org: String! teams: [Team!]! }`})

// selection is the selection set of the members field in query.
func selection(t *testing.T, query string) ast.SelectionSet {
	t.Helper()
	doc, err := gqlparser.LoadQueryWithRules(schema, query, nil)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return doc.Operations[0].SelectionSet[0].(*ast.Field).SelectionSet
}

func TestSequential(t *testing.T) {
	concurrent := map[string]bool{"org": true, "teams": true}
	for _, c := range []struct {
		query string
		want  bool
	}{
		{`{ members { name email } }`, true},
		{`{ members { __typename name } }`, true},
		{`{ members { renamed: name } }`, true},
		{`{ members { name org } }`, false},              // a concurrent field
		{`{ members { name renamed: org } }`, false},     // under an alias
		{`{ members { teams { name } } }`, false},        // a nested object
		{`{ members { ... on Member { name } } }`, true}, // through an inline fragment
		{`{ members { ... on Member { org } } }`, false}, // a concurrent field in one
		{`{ members { ...F } } fragment F on Member { email }`, true},
		{`{ members { ...F } } fragment F on Member { teams { name } }`, false},
	} {
		if got := Sequential(selection(t, c.query), concurrent); got != c.want {
			t.Errorf("Sequential(%s) = %v, want %v", c.query, got, c.want)
		}
	}
	deferred := ast.SelectionSet{&ast.InlineFragment{
		SelectionSet: ast.SelectionSet{&ast.Field{Name: "name"}},
		Directives:   ast.DirectiveList{{Name: "defer"}},
	}}
	if Sequential(deferred, concurrent) {
		t.Error("Sequential of a deferred fragment = true, want false")
	}
}

// goid is the calling goroutine's number, from its stack's first line.
func goid() string {
	b := make([]byte, 64)
	b = b[:runtime.Stack(b, false)]
	return string(bytes.Fields(b)[1])
}

func responseContext() context.Context {
	ctx := graphql.WithResponseContext(context.Background(), graphql.DefaultErrorPresenter, graphql.DefaultRecover)
	return graphql.WithFieldContext(ctx, &graphql.FieldContext{})
}

func TestMarshalGoesInOrderInTheCallersGoroutine(t *testing.T) {
	sel := selection(t, `{ members { name } }`)
	caller := goid()
	var order []int
	ret := Marshal(responseContext(), sel, map[string]bool{"org": true}, 5, 0, false, func(ctx context.Context, i int) graphql.Marshaler {
		if g := goid(); g != caller {
			t.Errorf("element %d marshalled in goroutine %s, want the caller's %s", i, g, caller)
		}
		if fc := graphql.GetFieldContext(ctx); fc == nil || fc.Index == nil || *fc.Index != i {
			t.Errorf("element %d: field context %+v, want its index", i, fc)
		}
		order = append(order, i)
		return graphql.MarshalInt(i * 10)
	})
	if len(ret) != 5 {
		t.Fatalf("Marshal returned %d elements, want 5", len(ret))
	}
	for i, m := range ret {
		var b bytes.Buffer
		m.MarshalGQL(&b)
		if want := []string{"0", "10", "20", "30", "40"}[i]; b.String() != want {
			t.Errorf("element %d = %s, want %s", i, b.String(), want)
		}
	}
	if len(order) != 5 || order[0] != 0 || order[4] != 4 {
		t.Errorf("elements marshalled in order %v, want 0..4", order)
	}
}

// TestMarshalKeepsConcurrencyForResolvers checks that a selection with a
// concurrent field still gets gqlgen's goroutine per element: element 0
// waits for element 1, which only a concurrent marshaller lets finish.
func TestMarshalKeepsConcurrencyForResolvers(t *testing.T) {
	sel := selection(t, `{ members { name org } }`)
	var both sync.WaitGroup
	both.Add(2)
	done := make(chan graphql.Array, 1)
	go func() {
		done <- Marshal(responseContext(), sel, map[string]bool{"org": true}, 2, 0, false, func(ctx context.Context, i int) graphql.Marshaler {
			both.Done()
			both.Wait()
			return graphql.MarshalInt(i)
		})
	}()
	select {
	case ret := <-done:
		if len(ret) != 2 {
			t.Errorf("Marshal returned %d elements, want 2", len(ret))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("elements of a selection with a concurrent field were not marshalled concurrently")
	}
}

func TestMarshalRecoversAPanickingElement(t *testing.T) {
	sel := selection(t, `{ members { name } }`)
	ctx := responseContext()
	ret := Marshal(ctx, sel, nil, 3, 0, false, func(ctx context.Context, i int) graphql.Marshaler {
		if i == 1 {
			panic("boom")
		}
		return graphql.MarshalInt(i)
	})
	if ret != nil {
		t.Errorf("Marshal with a panicking element = %v, want nil (the list becomes null)", ret)
	}
	if errs := graphql.GetErrors(ctx); len(errs) != 1 {
		t.Errorf("errors after a panicking element = %v, want one", errs)
	}
}
