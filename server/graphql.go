package server

import (
	"context"
	"errors"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/auditgraph/auditgraph/access"
	"github.com/auditgraph/auditgraph/graph"
	"github.com/auditgraph/auditgraph/identity"
	"github.com/auditgraph/auditgraph/resolvers"
	"github.com/auditgraph/auditgraph/storage"
)

// Query cost limits: a query's parse size and its estimated cost are bounded
// so that one request cannot take the server down.
const (
	parserTokenLimit = 15_000
	complexityLimit  = 2_000
	depthLimitMax    = 12
)

func newGraphQL(res *resolvers.Resolver, log *slog.Logger) *handler.Server {
	srv := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: res}))
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.SetParserTokenLimit(parserTokenLimit)
	srv.Use(extension.Introspection{})
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](100)})
	srv.Use(extension.FixedComplexityLimit(complexityLimit))
	srv.Use(depthLimit{max: depthLimitMax})
	srv.SetRecoverFunc(func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in GraphQL resolver", "panic", p)
		return errors.New("internal server error")
	})
	srv.SetErrorPresenter(func(ctx context.Context, err error) *gqlerror.Error {
		return presentError(ctx, log, err)
	})
	return srv
}

// presentError gives each known kind of failure a code in the error's
// extensions, and hides the text of unexpected ones, which may hold details
// of the database.
func presentError(ctx context.Context, log *slog.Logger, err error) *gqlerror.Error {
	gerr := graphql.DefaultErrorPresenter(ctx, err)
	var already *gqlerror.Error
	if errors.As(err, &already) && already.Extensions["code"] != nil {
		return gerr
	}
	code := ""
	switch {
	case errors.Is(err, access.ErrForbidden):
		code = "FORBIDDEN"
	case errors.Is(err, access.ErrMultipleOrgs), errors.Is(err, access.ErrNoOrg),
		errors.Is(err, identity.ErrInvalid), errors.Is(err, storage.ErrInvalid):
		code = "BAD_USER_INPUT"
	case errors.Is(err, storage.ErrNotFound):
		code = "NOT_FOUND"
	case errors.Is(err, storage.ErrConflict):
		code = "CONFLICT"
	case errors.As(err, &already):
		return gerr // validation and argument errors written by gqlgen or resolvers
	default:
		log.ErrorContext(ctx, "GraphQL resolver failed", "err", err, "path", gerr.Path.String())
		gerr.Message = "internal server error"
		code = "INTERNAL_SERVER_ERROR"
	}
	if gerr.Extensions == nil {
		gerr.Extensions = map[string]any{}
	}
	gerr.Extensions["code"] = code
	return gerr
}
