package auth

import "context"

type recheckKey struct{}

// WithRecheck returns ctx carrying check, which reports whether the
// credentials a long-lived request (a WebSocket connection) authenticated
// with still hold, and ends the request when they do not.
func WithRecheck(ctx context.Context, check func(context.Context) bool) context.Context {
	return context.WithValue(ctx, recheckKey{}, check)
}

// StillValid runs ctx's credentials check (true when it has none). A
// subscription calls it before handing on an event that may have revoked
// its own credentials (user:deactivate, user:delete_api_key), so that the
// event that ends a user's access is not the first of many delivered after.
func StillValid(ctx context.Context) bool {
	check, ok := ctx.Value(recheckKey{}).(func(context.Context) bool)
	return !ok || check(ctx)
}
