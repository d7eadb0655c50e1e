package resolvers

import "github.com/auditgraph/auditgraph/audit"

// revokesAccess reports whether an event of action may have taken away a
// subscriber's own access, so that its credentials are checked again
// before the event is handed on (user:logout: the dashboard's sign-in
// session the subscription was opened with may have ended).
func revokesAccess(a audit.Action) bool {
	switch a {
	case audit.UserDeactivate, audit.UserDeleteAPIKey, audit.UserPermanentlyDelete, audit.UserLogout:
		return true
	}
	return false
}
