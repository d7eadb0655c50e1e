package identity

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/identity/access"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/internal/platform/fault"
	"github.com/auditgraph/auditgraph/storage"
)

// Bootstrap describes the first start of an empty database.
type Bootstrap struct {
	AdminUsername string
	// AdminAPIKey is used as the admin's key when set; otherwise one is
	// generated. Callers taking it from an operator check it with CheckAPIKey.
	AdminAPIKey string
	// OrgName names the instance's own organization (self-managed, dedicated).
	OrgName string
}

// Check validates the names b gives for a server in mode, so that a
// command can refuse them before it starts anything.
func (b Bootstrap) Check(mode deployment.Mode) error {
	if err := CheckName("admin username", b.AdminUsername); err != nil {
		return err
	}
	if mode.HasInstanceOrg() {
		return CheckName("organization name", b.OrgName)
	}
	return nil
}

// Bootstrap creates the instance admin, with an API key, and in self-managed
// and dedicated mode the instance's organization with that admin as its org
// admin. It does nothing when the database already has users. It returns the
// generated key, or "" when it generated none.
func (s *Service) Bootstrap(ctx context.Context, b Bootstrap) (generatedKey string, created bool, err error) {
	if err := b.Check(s.mode); err != nil {
		return "", false, err
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

// minKeyHexDigits is the shortest API key accepted from outside rather than
// generated: 32 hexadecimal digits carry 128 bits. Generated keys have 40
// (160 bits). Only hexadecimal is accepted because the bits of any other
// string (a password, a phrase) cannot be told from its length.
const minKeyHexDigits = 32

// CheckAPIKey refuses an API key chosen by an operator
// (AUDITGRAPH_ADMIN_API_KEY) that is weaker than 128 bits: anything but at
// least 32 hexadecimal digits. The error never includes the key.
func CheckAPIKey(key string) error {
	const rule = "want at least 32 hexadecimal characters (128 bits), such as the 40 that `openssl rand -hex 20` prints"
	if strings.Trim(key, "0123456789abcdefABCDEF") != "" {
		return fmt.Errorf("%s; got %d characters, not all hexadecimal", rule, len(key))
	}
	if len(key) < minKeyHexDigits {
		return fmt.Errorf("%s; got %d (%d bits)", rule, len(key), 4*len(key))
	}
	return nil
}

// AdminKeyRecovery asks for a new API key for an instance admin who lost
// theirs, on behalf of someone who reached the database directly (the
// `auditgraph keys create-admin-key` command) rather than with a key.
type AdminKeyRecovery struct {
	Username string
	KeyName  string
	// CLIVersion is recorded as the event's cli_version, which tells this
	// key's creation from one made through the API.
	CLIVersion string
}

// RecoverAdminKey creates a new API key for an active instance admin and
// returns it (shown this once; only its hash is kept) with the number of
// organizations whose audit logs recorded it. No principal is checked: access
// to the database is the authority. The user:create_api_key event names the
// admin as both actor and target, with no actor IP since no request made it,
// and is written in the same transaction as the key, in every organization
// the admin belongs to (else the instance's own organization; in
// multi-tenant an admin in no organization leaves no event, as for any key
// they create).
func (s *Service) RecoverAdminKey(ctx context.Context, r AdminKeyRecovery) (key string, recordedIn int, err error) {
	if len(r.KeyName) > 200 {
		return "", 0, invalid("key name is longer than 200 characters")
	}
	err = s.change(ctx, nil, func(tx *storage.Tx, rec *recorder) error {
		u, err := tx.UserByUsername(ctx, r.Username)
		if errors.Is(err, fault.ErrNotFound) {
			return invalid("no user %q", r.Username)
		}
		if err != nil {
			return err
		}
		if !u.InstanceAdmin {
			return invalid("user %q is not an instance admin", r.Username)
		}
		if u.Deactivated() {
			return invalid("instance admin %q is deactivated: a key would not let them in", r.Username)
		}
		var prefix string
		var hash []byte
		key, prefix, hash = auth.NewKey()
		if _, err := tx.CreateAPIKey(ctx, u.ID, r.KeyName, prefix, hash); err != nil {
			return err
		}
		rec.actor = &auth.Principal{User: u}
		orgs, err := s.userOrgs(ctx, tx, u)
		if err != nil {
			return err
		}
		for _, o := range orgs {
			e := userEvent(audit.UserCreateAPIKey, u)
			e.CLIVersion = r.CLIVersion
			rec.add(o, e)
		}
		recordedIn = len(orgs)
		return nil
	})
	if err != nil {
		return "", 0, err
	}
	return key, recordedIn, nil
}
