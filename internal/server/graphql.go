package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/auditgraph/auditgraph/graph"
	"github.com/auditgraph/auditgraph/graph/model"
	"github.com/auditgraph/auditgraph/internal/alerting"
	"github.com/auditgraph/auditgraph/internal/alerting/connect"
	"github.com/auditgraph/auditgraph/internal/identity"
	"github.com/auditgraph/auditgraph/internal/identity/access"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/platform/fault"
	"github.com/auditgraph/auditgraph/internal/platform/metrics"
	"github.com/auditgraph/auditgraph/resolvers"
	"github.com/auditgraph/auditgraph/storage"
)

// Query cost limits: a query's parse size and its estimated cost are bounded
// so that one request cannot take the server down.
const (
	parserTokenLimit = 15_000
	complexityLimit  = 10_000
	depthLimitMax    = 12
	// verifyCost is what one verifyAuditLog costs: it reads every event of
	// an organization's log (seconds for a few hundred thousand), which no
	// argument bounds, so it is priced at a quarter of the limit and at
	// most three fit in one request.
	verifyCost = complexityLimit / 4
)

// WebSocket settings: how long a client has to send connection_init, how
// often the server pings, and the close codes of a refused connection (as
// the graphql-transport-ws protocol uses them).
const (
	websocketInitTimeout = 10 * time.Second
	websocketKeepAlive   = 10 * time.Second
	closeForbidden       = 4403
	closeTooManyRequests = 4429
	closeInternalError   = 4500
)

func newGraphQL(res *resolvers.Resolver, log *slog.Logger, initWebsocket transport.WebsocketInitFunc, m *metrics.Metrics, maxBody int64) *handler.Server {
	srv := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: res, Complexity: complexity(), Directives: graph.DirectiveRoot{Name: checkName}}))
	// First, so that every upgrade request, which websocketOr lets past
	// authn.Require, is served by this transport and authenticated by
	// initWebsocket. The default implementation refuses cross-origin
	// upgrades, so another site cannot ride on a browser's credentials.
	srv.AddTransport(transport.Websocket{
		Implementation:        closableWebsocket{},
		InitFunc:              initWebsocket,
		InitTimeout:           websocketInitTimeout,
		KeepAlivePingInterval: websocketKeepAlive,
		PingPongInterval:      websocketKeepAlive,
		// A WebSocket message is bounded as a POST body is.
		PayloadReadLimit: &maxBody,
	})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(httpTransport{maxBody: maxBody})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.SetParserTokenLimit(parserTokenLimit)
	srv.Use(m.GraphQL())
	srv.Use(extension.Introspection{})
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](100)})
	srv.Use(depthLimit{max: depthLimitMax})
	srv.Use(extension.FixedComplexityLimit(complexityLimit))
	srv.Use(subscriptionsOverWebsocket{})
	// A query changes nothing, so its fields may share one reading of the
	// caller's memberships.
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		if op := graphql.GetOperationContext(ctx); op.Operation != nil && op.Operation.Operation == ast.Query {
			ctx = access.WithMemo(ctx)
		}
		return next(ctx)
	})
	srv.SetRecoverFunc(func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in GraphQL resolver", "panic", p)
		return errors.New("internal server error")
	})
	srv.SetErrorPresenter(func(ctx context.Context, err error) *gqlerror.Error {
		return presentError(ctx, log, err)
	})
	return srv
}

// upgrade is what the WebSocket transport needs of the upgrade request:
// its Authorization header, its session cookie's token and the client's
// address.
type upgrade struct{ authorization, session, ip string }

type upgradeKey struct{}

// websocketOr sends WebSocket upgrade requests to gql without credentials
// checked, since a browser cannot set headers on them: initWebsocket
// authenticates the connection instead. An upgrade a browser sends from
// another site's page is refused first (403), since it carries the
// browser's session cookie (trusted is --public-url's origin, which passes).
// Every other request goes to next.
func websocketOr(gql, next http.Handler, trusted string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			next.ServeHTTP(w, r)
			return
		}
		if crossSiteUpgrade(r, trusted) {
			auth.WriteError(w, http.StatusForbidden, errCrossSiteUpgrade.Error())
			return
		}
		up := upgrade{authorization: r.Header.Get("Authorization"), ip: auth.ClientIP(r)}
		if c, err := r.Cookie(auth.CookieName); err == nil {
			up.session = c.Value
		}
		ctx := context.WithValue(r.Context(), upgradeKey{}, up)
		gql.ServeHTTP(w, r.WithContext(context.WithValue(ctx, connSlotKey{}, &connSlot{})))
	})
}

// websocketInit authenticates a WebSocket connection with the Authorization
// of its connection_init payload (`Authorization` or `authorization`: Basic
// or Bearer, as in the HTTP header), or else the upgrade request's
// Authorization header, or else the upgrade request's session cookie (the
// dashboard's). Without valid credentials the connection is closed
// with code 4403. seen, when not nil, counts the user as active. A
// connection whose user is deactivated or whose key is deleted later is
// closed with 4403 within seconds (ss).
func websocketInit(authn *auth.Authenticator, log *slog.Logger, seen func(userID int64), ss *sessions) transport.WebsocketInitFunc {
	return func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
		up, _ := ctx.Value(upgradeKey{}).(upgrade)
		h := payload.Authorization()
		if h == "" {
			h = up.authorization
		}
		var p *auth.Principal
		var err error
		if h == "" && up.session != "" {
			p, err = authn.SessionToken(ctx, up.session, up.ip)
		} else {
			p, err = authn.AuthenticateHeader(ctx, h, up.ip)
		}
		if err != nil && !auth.IsAuthError(err) {
			log.ErrorContext(ctx, "authentication failed", "err", err)
			err = errors.New("authentication is unavailable, try again")
			return transport.AppendCloseReason(transport.WithWebsocketCloseCode(ctx, closeInternalError), err.Error()), nil, err
		}
		if err != nil {
			if wait := authn.Failed(ctx, up.ip, err); wait > 0 {
				err = errors.New(auth.ThrottledMessage(wait))
				return transport.AppendCloseReason(transport.WithWebsocketCloseCode(ctx, closeTooManyRequests), err.Error()), nil, err
			}
			return transport.AppendCloseReason(transport.WithWebsocketCloseCode(ctx, closeForbidden), err.Error()), nil, err
		}
		if seen != nil {
			seen(p.User.ID)
		}
		return auth.WithPrincipal(endWhenRevoked(ctx, ss, p), p), nil, nil
	}
}

// subscriptionsOverWebsocket refuses subscriptions sent over plain HTTP,
// which would hold the request open until the first event and could not
// report why a feed ended.
type subscriptionsOverWebsocket struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = subscriptionsOverWebsocket{}

func (subscriptionsOverWebsocket) ExtensionName() string                   { return "SubscriptionsOverWebsocket" }
func (subscriptionsOverWebsocket) Validate(graphql.ExecutableSchema) error { return nil }
func (subscriptionsOverWebsocket) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil || oc.Operation.Operation != ast.Subscription || ctx.Value(upgradeKey{}) != nil {
		return nil
	}
	err := gqlerror.Errorf("subscriptions are served over WebSocket (graphql-transport-ws) at /graphql")
	err.Extensions = map[string]any{"code": "BAD_REQUEST"}
	return err
}

// errorKinds gives each kind of failure a client is told about its code.
// The message is the error's public one (fault.Message), never its wrap
// chain, which may hold details of the database.
var errorKinds = []struct {
	kind error
	code string
}{
	{access.ErrForbidden, "FORBIDDEN"},
	{access.ErrMultipleOrgs, "BAD_USER_INPUT"},
	{access.ErrNoOrg, "BAD_USER_INPUT"},
	{identity.ErrInvalid, "BAD_USER_INPUT"},
	{storage.ErrInvalid, "BAD_USER_INPUT"},
	{storage.ErrBadCursor, "BAD_USER_INPUT"},
	{alerting.ErrInvalid, "BAD_USER_INPUT"},
	{connect.ErrInvalid, "BAD_USER_INPUT"},
	{connect.ErrNoKey, "FAILED_PRECONDITION"},
	{connect.ErrNotConfigured, "FAILED_PRECONDITION"},
	{storage.ErrNotFound, "NOT_FOUND"},
	{storage.ErrConflict, "CONFLICT"},
}

// presentError gives each known kind of failure a code in the error's
// extensions and its public message, and hides the text of unexpected
// ones. The internal wrap chain goes to the log only.
func presentError(ctx context.Context, log *slog.Logger, err error) *gqlerror.Error {
	gerr := graphql.DefaultErrorPresenter(ctx, err)
	// Parse and validation errors quote names from the query, which a client
	// can make as long as its body: an error says what is wrong, it need not
	// repeat the request.
	gerr.Message = shorten(gerr.Message, maxErrorMessage)
	// gqlgen wraps what a resolver returned in a *gqlerror.Error carrying the
	// path; look at what is inside.
	inner := err
	var wrapper *gqlerror.Error
	if errors.As(err, &wrapper) && wrapper.Err != nil {
		inner = wrapper.Err
	}
	var written *gqlerror.Error
	code := ""
	for _, k := range errorKinds {
		if errors.Is(inner, k.kind) {
			code = k.code
			gerr.Message = shorten(fault.Message(inner, k.kind), maxErrorMessage)
			log.DebugContext(ctx, "GraphQL request refused", "code", code, "err", inner, "path", gerr.Path.String())
			break
		}
	}
	switch {
	case code != "":
	case errors.As(inner, &written):
		// Written for the client: gqlgen's validation errors and the
		// resolvers' argument errors.
		if written.Extensions["code"] != nil {
			gerr.Extensions = written.Extensions
			return gerr
		}
		code = "BAD_USER_INPUT"
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

// maxErrorMessage bounds the text of an error, in bytes.
const maxErrorMessage = 512

// shorten cuts s to at most n bytes, on a rune boundary, marking the cut.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// complexity makes a connection cost its page size times what each item
// asks for, so that nested pages multiply: users(first: 100) inside
// users(first: 100) costs ten thousand items, not two.
func complexity() graph.ComplexityRoot {
	var c graph.ComplexityRoot
	page := func(child int, first, last *int) int {
		n := 50
		if first != nil {
			n = *first
		} else if last != nil {
			n = *last
		}
		return 1 + max(n, 1)*child
	}
	c.Organization.Users = func(child int, first *int, _ *string, last *int, _ *string, _ *model.UserFilter, _ *model.UserOrder) int {
		return page(child, first, last)
	}
	c.Organization.Teams = func(child int, first *int, _ *string) int { return page(child, first, nil) }
	c.Organization.AuditEvents = func(child int, first *int, _ *string, _ *model.AuditEventFilter, _ *model.AuditEventOrder, _ *bool) int {
		return page(child, first, nil)
	}
	c.Query.Organizations = func(child int, first *int, _ *string) int { return page(child, first, nil) }
	c.Team.Members = func(child int, first *int, _ *string) int { return page(child, first, nil) }
	c.Organization.Integrations = func(child int, first *int, _ *string) int { return page(child, first, nil) }
	c.Organization.ConfigChanges = func(child int, first *int, _ *string) int { return page(child, first, nil) }
	c.Query.InstanceConfigChanges = func(child int, first *int, _ *string) int { return page(child, first, nil) }
	c.Organization.AlertRules = func(child int, first *int, _ *string) int { return page(child, first, nil) }
	c.IntegrationDelivery.Recent = func(child int, first *int, _ *string) int { return page(child, first, nil) }
	c.Query.VerifyAuditLog = func(child int, _ string, _, _ *int) int { return verifyCost + child }
	return c
}
