// Package layering holds a test of the module's import rules: storage is a
// leaf that imports nothing of the module but audit, the GraphQL resolvers and
// the HTTP server (internal/server) reach the database only through the
// domain packages, and nothing imports a command. Run it with go test ./tools/layering.
package layering
