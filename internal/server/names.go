package server

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"

	"github.com/auditgraph/auditgraph/internal/identity"
)

// nameFields maps the @name directive's `of` to how an error names the
// value.
var nameFields = map[string]string{
	"organization": "organization name",
	"team":         "team name",
	"user":         "username",
}

// checkName implements the schema's @name directive: an argument or input
// field that names an organization, team or user is checked by identity's
// one name rule before any resolver reads anything, so that a NUL byte or
// invalid UTF-8 never reaches PostgreSQL. A nullable one may be null or
// empty: the field decides what that means.
func checkName(ctx context.Context, _ any, next graphql.Resolver, of string) (any, error) {
	v, err := next(ctx)
	if err != nil {
		return v, err
	}
	field, ok := nameFields[of]
	if !ok {
		return nil, fmt.Errorf("schema: @name(of: %q): want organization, team or user", of)
	}
	switch s := v.(type) {
	case string:
		return v, identity.CheckName(field, s)
	case *string:
		if s == nil || *s == "" {
			return v, nil
		}
		return v, identity.CheckName(field, *s)
	}
	return nil, fmt.Errorf("schema: @name on a %T, want a String", v)
}
