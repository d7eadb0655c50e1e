// Package layering holds a test of the module's import rules: storage
// imports nothing of the module but audit and internal/entity, the leaf of
// plain rows that imports nothing of the module at all; the GraphQL
// resolvers and the HTTP server (internal/server) reach the database only
// through the domain services (internal/app), never storage; and nothing
// imports a command. There are no exceptions. Run it with go test
// ./tools/layering.
package layering
