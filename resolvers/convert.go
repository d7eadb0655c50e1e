package resolvers

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/auditgraph/auditgraph/graph/model"
	"github.com/auditgraph/auditgraph/internal/alerting/connect"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
)

// MaxPageSize caps `first` on every connection.
const MaxPageSize = 100

// principal returns the authenticated caller. The HTTP layer refuses
// unauthenticated requests, so a missing principal is a wiring bug.
func principal(ctx context.Context) (*auth.Principal, error) {
	p := auth.FromContext(ctx)
	if p == nil {
		return nil, fmt.Errorf("not authenticated")
	}
	return p, nil
}

// pageSize validates a connection's `first` argument.
func pageSize(first *int) (int, error) {
	n := 50
	if first != nil {
		n = *first
	}
	if n < 0 || n > MaxPageSize {
		return 0, gqlerror.Errorf("first must be between 0 and %d, got %d (maximum page size)", MaxPageSize, n)
	}
	return n, nil
}

// Cursors are opaque to clients: base64 of a kind prefix and an id, so that
// a cursor of one list is refused by another.
func cursor(kind string, id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + strconv.FormatInt(id, 10)))
}

func parseCursor(kind string, c *string) (int64, error) {
	if c == nil || *c == "" {
		return 0, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(*c)
	k, v, ok := strings.Cut(string(raw), ":")
	n, perr := strconv.ParseInt(v, 10, 64)
	if err != nil || !ok || k != kind || perr != nil {
		return 0, gqlerror.Errorf("after: %q is not a cursor of this list", *c)
	}
	return n, nil
}

// page trims a result fetched with limit+1 rows and says whether more follow.
func page[T any](rows []T, limit int) ([]T, bool) {
	if len(rows) > limit {
		return rows[:limit], true
	}
	return rows, false
}

func pageInfo(startCursor, endCursor string, hasNext, hasPrev bool) *model.PageInfo {
	pi := &model.PageInfo{HasNextPage: hasNext, HasPreviousPage: hasPrev}
	if startCursor != "" {
		pi.StartCursor, pi.EndCursor = &startCursor, &endCursor
	}
	return pi
}

func parseID(field, s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, gqlerror.Errorf("%s: %q is not an id", field, s)
	}
	return n, nil
}

func formatID(n int64) string { return strconv.FormatInt(n, 10) }

// GraphQL enums are upper case; the store keeps the lower-case names.
func lower[T ~string](v T) string { return strings.ToLower(string(v)) }

func lowerPtr[T ~string](v *T) *string {
	if v == nil {
		return nil
	}
	s := lower(*v)
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func orgRole(s string) model.OrgRole { return model.OrgRole(strings.ToUpper(s)) }

func edgesPageInfo[E any](edges []E, cursorOf func(E) string, hasNext, hasPrev bool) *model.PageInfo {
	if len(edges) == 0 {
		return pageInfo("", "", hasNext, hasPrev)
	}
	return pageInfo(cursorOf(edges[0]), cursorOf(edges[len(edges)-1]), hasNext, hasPrev)
}

// slackOnly returns v for a Slack integration and null for the others.
func slackOnly(in *connect.Integration, v string) *string {
	if in.Kind != "slack" {
		return nil
	}
	return &v
}

// idPage is one page of a list ordered by id.
type idPage[T any] struct {
	rows       []T
	total      int
	more, prev bool // whether rows follow and precede the page
}

// forwardPage reads one page of a list ordered by id: it checks first and
// after (a cursor of kind), asks list for the rows after that id, one more
// than the page holds to learn whether more follow, and count for the total.
func forwardPage[T any](kind string, first *int, after *string,
	list func(afterID int64, limit int) ([]T, error), count func() (int, error),
) (idPage[T], error) {
	var p idPage[T]
	limit, err := pageSize(first)
	if err != nil {
		return p, err
	}
	afterID, err := parseCursor(kind, after)
	if err != nil {
		return p, err
	}
	rows, err := list(afterID, limit+1)
	if err != nil {
		return p, err
	}
	if p.total, err = count(); err != nil {
		return p, err
	}
	p.rows, p.more = page(rows, limit)
	p.prev = afterID != 0
	return p, nil
}

// selects reports whether the field being resolved selects the field path
// (each name a field of the one before), fragments included.
func selects(ctx context.Context, path ...string) bool {
	if graphql.GetFieldContext(ctx) == nil {
		return true // outside a query: assume everything is asked for
	}
	return selectsIn(graphql.GetOperationContext(ctx), graphql.CollectFieldsCtx(ctx, nil), path)
}

func selectsIn(op *graphql.OperationContext, fields []graphql.CollectedField, path []string) bool {
	for _, f := range fields {
		if f.Name != path[0] {
			continue
		}
		if len(path) == 1 || selectsIn(op, graphql.CollectFields(op, f.Selections, nil), path[1:]) {
			return true
		}
	}
	return false
}
