package access_test

import (
	"context"
	"errors"
	"testing"

	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/identity/access"
	"github.com/auditgraph/auditgraph/internal/platform/fault"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

// counting is a Reader over a real store that counts membership reads.
type counting struct {
	*storage.Store
	reads int
}

func (c *counting) Membership(ctx context.Context, orgID, userID int64) (entity.Membership, error) {
	c.reads++
	return c.Store.Membership(ctx, orgID, userID)
}

func TestMemoReadsEachMembershipOnce(t *testing.T) {
	ctx := context.Background()
	st := storagetest.New(t)
	var org entity.Organization
	var member, outsider entity.User
	err := st.InTx(ctx, func(tx *storage.Tx) error {
		var err error
		if org, err = tx.CreateOrganization(ctx, "acme", "enterprise"); err != nil {
			return err
		}
		if member, err = tx.CreateUser(ctx, storage.NewUser{Username: "mia", Email: "mia@x.io"}); err != nil {
			return err
		}
		if outsider, err = tx.CreateUser(ctx, storage.NewUser{Username: "otto", Email: "otto@x.io"}); err != nil {
			return err
		}
		_, err = tx.AddMembership(ctx, storage.NewMembership{OrgID: org.ID, UserID: member.ID, Role: "admin", ModelsSeat: "full", WeaveAccess: "full"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	r := &counting{Store: st}
	for _, tc := range []struct {
		name  string
		ctx   context.Context
		reads int
	}{
		{"without a memo", ctx, 6},
		{"with a memo", access.WithMemo(ctx), 2}, // each of the two memberships once
	} {
		t.Run(tc.name, func(t *testing.T) {
			r.reads = 0
			for range 3 {
				if ok, err := access.IsOrgAdmin(tc.ctx, r, member, org.ID); !ok || err != nil {
					t.Fatalf("%s: IsOrgAdmin(mia) = %v, %v, want true", tc.name, ok, err)
				}
				if err := access.RequireMember(tc.ctx, r, outsider, org); err == nil {
					t.Fatalf("%s: RequireMember(otto) = nil, want forbidden", tc.name)
				}
			}
			if r.reads != tc.reads {
				t.Errorf("%s: membership reads = %d, want %d", tc.name, r.reads, tc.reads)
			}
		})
	}
}

// What the caller read along with something else answers the rules without
// another read, inside a memo only.
func TestRemember(t *testing.T) {
	ctx := context.Background()
	st := storagetest.New(t)
	r := &counting{Store: st}
	u := entity.User{ID: 7, Username: "mia"}
	org := entity.Organization{ID: 3, Name: "acme"}
	memo := access.WithMemo(ctx)
	access.Remember(memo, org.ID, u.ID, &entity.Membership{OrgID: org.ID, UserID: u.ID, Role: access.RoleAdmin, AcceptedAt: &org.CreatedAt})
	if ok, err := access.IsOrgAdmin(memo, r, u, org.ID); !ok || err != nil || r.reads != 0 {
		t.Errorf("IsOrgAdmin after Remember(admin) = %v, %v with %d reads, want true with none", ok, err, r.reads)
	}
	access.Remember(memo, org.ID, u.ID, nil)
	if err := access.RequireMember(memo, r, u, org); err == nil || r.reads != 0 {
		t.Errorf("RequireMember after Remember(none) = %v with %d reads, want forbidden with none", err, r.reads)
	}
	access.Remember(ctx, org.ID, u.ID, &entity.Membership{Role: access.RoleAdmin, AcceptedAt: &org.CreatedAt})
	if ok, _ := access.IsOrgAdmin(ctx, r, u, org.ID); ok || r.reads != 1 {
		t.Errorf("IsOrgAdmin without a memo = %v with %d reads, want the database's answer (false) from 1 read", ok, r.reads)
	}
}

// orgCounting is a Reader over a real store that counts organization reads.
type orgCounting struct {
	*storage.Store
	reads int
}

func (c *orgCounting) Organization(ctx context.Context, id int64) (entity.Organization, error) {
	c.reads++
	return c.Store.Organization(ctx, id)
}

// A panel query reads the organization by name (Remembered) and then each
// panel asks for it by id: inside a memo, no read at all; a missing one is
// read every time and not kept.
func TestMemoReadsEachOrganizationOnce(t *testing.T) {
	ctx := context.Background()
	st := storagetest.New(t)
	var org entity.Organization
	if err := st.InTx(ctx, func(tx *storage.Tx) (err error) {
		org, err = tx.CreateOrganization(ctx, "acme", "enterprise")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		ctx      context.Context
		remember bool
		reads    int
	}{
		{"without a memo", ctx, false, 3},
		{"with a memo", access.WithMemo(ctx), false, 1},
		{"with a memo and Remembered", access.WithMemo(ctx), true, 0},
		{"Remembered without a memo", ctx, true, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &orgCounting{Store: st}
			if tc.remember {
				access.RememberOrg(tc.ctx, org)
			}
			for range 3 {
				got, err := access.Organization(tc.ctx, r, org.ID)
				if err != nil || got.Name != "acme" {
					t.Fatalf("Organization(%d) = %+v, %v, want acme", org.ID, got, err)
				}
			}
			if r.reads != tc.reads {
				t.Errorf("organization reads = %d, want %d", r.reads, tc.reads)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		r := &orgCounting{Store: st}
		memo := access.WithMemo(ctx)
		for range 2 {
			if _, err := access.Organization(memo, r, org.ID+100); !errors.Is(err, fault.ErrNotFound) {
				t.Fatalf("Organization(missing) = %v, want ErrNotFound", err)
			}
		}
		if r.reads != 2 {
			t.Errorf("organization reads = %d, want 2", r.reads)
		}
	})
}
