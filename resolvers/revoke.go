package resolvers

import "github.com/auditgraph/auditgraph/audit"

// revokesAccess reports whether an event of action may have taken away a
// subscriber's own access, so that its credentials are checked again
// before the event is handed on.
func revokesAccess(a audit.Action) bool {
	switch a {
	case audit.UserDeactivate, audit.UserDeleteAPIKey, audit.UserPermanentlyDelete:
		return true
	}
	return false
}
