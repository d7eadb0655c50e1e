package identity

import (
	"context"
	"errors"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/identity/access"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/platform/fault"
	"github.com/auditgraph/auditgraph/storage"
)

// CreateAPIKey creates a key for a user (the actor when username is empty)
// and returns it; the key itself is shown this once and only its hash is kept.
func (s *Service) CreateAPIKey(ctx context.Context, actor *auth.Principal, username, name string) (string, entity.APIKey, error) {
	var (
		key string
		k   entity.APIKey
	)
	if len(name) > 200 {
		return key, k, invalid("key name is longer than 200 characters")
	}
	err := s.change(ctx, actor, func(tx *storage.Tx, rec *recorder) error {
		u, err := s.keyOwner(ctx, tx, actor, username)
		if err != nil {
			return err
		}
		var prefix string
		var hash []byte
		key, prefix, hash = auth.NewKey()
		if k, err = tx.CreateAPIKey(ctx, u.ID, name, prefix, hash); err != nil {
			return err
		}
		return s.recordUser(ctx, tx, rec, audit.UserCreateAPIKey, u)
	})
	if err != nil {
		key = ""
	}
	return key, k, err
}

// keyOwner returns the user whose keys actor wants to manage: themselves, or
// a user they manage.
func (s *Service) keyOwner(ctx context.Context, tx *storage.Tx, actor *auth.Principal, username string) (entity.User, error) {
	if username == "" || username == actor.User.Username {
		return tx.User(ctx, actor.User.ID)
	}
	u, err := s.managedUser(ctx, tx, actor, username, false)
	if err != nil {
		return u, err
	}
	// A key for another person would let its creator act as them.
	if !u.IsServiceAccount() && !actor.User.InstanceAdmin {
		return u, access.Forbidden("only %s or an instance admin may create keys for %s", u.Username, u.Username)
	}
	return u, nil
}

// APIKeys lists a user's keys (without the keys themselves).
func (s *Service) APIKeys(ctx context.Context, actor *auth.Principal, u entity.User) ([]entity.APIKey, error) {
	if err := s.canManage(ctx, s.store, actor, u, false); err != nil {
		return nil, err
	}
	return s.store.UserAPIKeys(ctx, u.ID)
}

// DeleteAPIKey deletes a key by id.
func (s *Service) DeleteAPIKey(ctx context.Context, actor *auth.Principal, keyID int64) error {
	return s.change(ctx, actor, func(tx *storage.Tx, rec *recorder) error {
		// A missing key and someone else's key the actor may not delete
		// are refused alike, without naming the key's owner.
		refused := access.Forbidden("%s may not delete API key %d", actor.User.Username, keyID)
		k, err := tx.APIKey(ctx, keyID)
		if errors.Is(err, fault.ErrNotFound) {
			if !actor.User.InstanceAdmin {
				return refused
			}
			return fault.Wrap(fault.ErrNotFound, err, "no API key %d", keyID)
		}
		if err != nil {
			return err
		}
		u, err := tx.User(ctx, k.UserID)
		if err != nil {
			return err
		}
		// Keys are a user's only credential: deleting another person's keys
		// needs what deactivating them needs, so that one organization's
		// admin cannot lock a user out of another organization.
		if u.ID != actor.User.ID {
			if err := s.canManage(ctx, tx, actor, u, true); errors.Is(err, access.ErrForbidden) {
				return refused
			} else if err != nil {
				return err
			}
		}
		if err := tx.DeleteAPIKey(ctx, k.ID); err != nil {
			return err
		}
		return s.recordUser(ctx, tx, rec, audit.UserDeleteAPIKey, u)
	})
}
