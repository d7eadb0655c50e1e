package identity

import (
	"context"
	"fmt"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/storage"
)

// SessionChange runs fn, a change to actor's own sign-in sessions, in a
// transaction together with its audit event a (user:login or user:logout),
// recorded with actor as both actor and target in the logs of actor's
// organizations, as every change of a user is.
func (s *Service) SessionChange(ctx context.Context, actor *auth.Principal, a audit.Action, fn func(tx *storage.Tx) error) error {
	if a != audit.UserLogin && a != audit.UserLogout {
		return fmt.Errorf("identity: %s is not a session event", a)
	}
	return s.change(ctx, actor, func(tx *storage.Tx, rec *recorder) error {
		if err := fn(tx); err != nil {
			return err
		}
		return s.recordUser(ctx, tx, rec, a, actor.User)
	})
}
