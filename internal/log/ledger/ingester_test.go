package ledger_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/identity/access"
	"github.com/auditgraph/auditgraph/internal/log/ledger"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

// The ingester checks the caller's right to report before it stores
// anything: a plain member is refused and the log stays empty; the
// organization's admin and an instance admin store.
func TestIngesterChecksBeforeStoring(t *testing.T) {
	s := storagetest.New(t)
	ctx := context.Background()
	orgID, userID := storagetest.NewOrgWithMember(t, s, "acme", "m@acme.io")
	org, err := s.Organization(ctx, orgID)
	if err != nil {
		t.Fatal(err)
	}
	member, err := s.User(ctx, userID)
	if err != nil {
		t.Fatal(err)
	}
	var admin entity.User
	if err := s.InTx(ctx, func(tx *storage.Tx) (err error) {
		if admin, err = tx.CreateUser(ctx, storage.NewUser{Username: "ada", Email: "ada@acme.io"}); err != nil {
			return err
		}
		_, err = tx.AddMembership(ctx, storage.NewMembership{OrgID: orgID, UserID: admin.ID, Role: access.RoleAdmin, ModelsSeat: "full", WeaveAccess: "full"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	in := ledger.NewIngester(s)
	batch := []ledger.IngestEvent{ev("", audit.RunStop, time.Now().Add(-time.Minute))}
	for _, tc := range []struct {
		name   string
		actor  entity.User
		stored int
	}{
		{"member", member, 0},
		{"org admin", admin, 1},
		{"instance admin", entity.User{ID: -1, Username: "root", InstanceAdmin: true}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := in.Ingest(ctx, tc.actor, org, batch, time.Time{})
			if forbidden := errors.Is(err, access.ErrForbidden); forbidden != (tc.name == "member") || err != nil && !forbidden {
				t.Errorf("Ingest as %s = %v", tc.name, err)
			}
			if n := storagetest.CountEvents(t, s, orgID); n != tc.stored {
				t.Errorf("events stored after %s = %d, want %d", tc.name, n, tc.stored)
			}
		})
	}
}
