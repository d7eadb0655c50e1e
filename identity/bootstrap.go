package identity

import (
	"context"
	"strconv"

	"github.com/auditgraph/auditgraph/access"
	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/auth"
	"github.com/auditgraph/auditgraph/storage"
)

// Bootstrap describes the first start of an empty database.
type Bootstrap struct {
	AdminUsername string
	// AdminAPIKey is used as the admin's key when set; otherwise one is generated.
	AdminAPIKey string
	// OrgName names the instance's own organization (self-managed, dedicated).
	OrgName string
}

// Bootstrap creates the instance admin, with an API key, and in self-managed
// and dedicated mode the instance's organization with that admin as its org
// admin. It does nothing when the database already has users. It returns the
// generated key, or "" when it generated none.
func (s *Service) Bootstrap(ctx context.Context, b Bootstrap) (generatedKey string, created bool, err error) {
	if err := CheckName("admin username", b.AdminUsername); err != nil {
		return "", false, err
	}
	if s.mode.HasInstanceOrg() {
		if err := CheckName("organization name", b.OrgName); err != nil {
			return "", false, err
		}
	}
	err = s.change(ctx, nil, func(tx *storage.Tx, rec *recorder) error {
		if err := tx.LockBootstrap(ctx); err != nil {
			return err
		}
		n, err := tx.CountUsers(ctx)
		if err != nil || n > 0 {
			return err
		}
		admin, err := tx.CreateUser(ctx, storage.NewUser{Username: b.AdminUsername, Name: "Instance admin", InstanceAdmin: true})
		if err != nil {
			return err
		}
		key := b.AdminAPIKey
		if key == "" {
			key, _, _ = auth.NewKey()
			generatedKey = key
		}
		if _, err := tx.CreateAPIKey(ctx, admin.ID, "bootstrap", auth.Prefix(key), auth.Hash(key)); err != nil {
			return err
		}
		created = true
		rec.actor = &auth.Principal{User: admin}
		if !s.mode.HasInstanceOrg() {
			return nil
		}
		org, err := tx.CreateOrganization(ctx, b.OrgName, "enterprise")
		if err != nil {
			return err
		}
		if err := tx.SetSetting(ctx, storage.SettingInstanceOrg, strconv.FormatInt(org.ID, 10)); err != nil {
			return err
		}
		if _, err := tx.AddMembership(ctx, storage.NewMembership{OrgID: org.ID, UserID: admin.ID,
			Role: access.RoleAdmin, ModelsSeat: "full", WeaveAccess: "full"}); err != nil {
			return err
		}
		rec.add(org.ID, audit.Event{Action: audit.TeamCreate, EntityAsset: "org-" + id(org.ID), EntityName: org.Name})
		rec.add(org.ID, userEvent(audit.UserCreate, admin))
		rec.add(org.ID, userEvent(audit.UserCreateAPIKey, admin))
		return nil
	})
	if err != nil {
		generatedKey = ""
	}
	return generatedKey, created, err
}
