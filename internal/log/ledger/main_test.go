package ledger_test

import (
	"context"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/log/ledger"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// newOrg creates an organization with one member, returning both ids.
func newOrg(t *testing.T, s *storage.Store, name, email string) (orgID, userID int64) {
	t.Helper()
	ctx := context.Background()
	err := s.InTx(ctx, func(tx *storage.Tx) error {
		o, err := tx.CreateOrganization(ctx, name, "enterprise")
		if err != nil {
			return err
		}
		u, err := tx.CreateUser(ctx, storage.NewUser{Username: name + "-user", Email: email})
		if err != nil {
			return err
		}
		orgID, userID = o.ID, u.ID
		_, err = tx.AddMembership(ctx, storage.NewMembership{OrgID: o.ID, UserID: u.ID, Role: "member", ModelsSeat: "full", WeaveAccess: "full"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return orgID, userID
}

func ev(id string, a audit.Action, ts time.Time) ledger.IngestEvent {
	return ledger.IngestEvent{ClientID: id, Event: audit.Event{Action: a, Timestamp: ts}}
}

func countEvents(t *testing.T, s *storage.Store, orgID int64) int {
	t.Helper()
	var n int
	if err := s.DB().Get(&n, `SELECT count(*) FROM audit_events WHERE org_id = $1`, orgID); err != nil {
		t.Fatal(err)
	}
	return n
}
