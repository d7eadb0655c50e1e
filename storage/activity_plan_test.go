package storage_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/lib/pq"

	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

// TestMembersByActorUsesIndexes checks the plan of ingest's member lookup
// (made with the log's lock, storage.LockLogSQL) on
// an instance with 100,000 users: whatever the number of actors in a batch,
// the users are found by index (users_pkey, users_email_lower) and their
// memberships by primary key, never by reading a whole table. (The query
// ingest used before, a join on "id = ANY OR lower(email) = ANY", was planned
// as a scan of users from 1,000 actors on.)
func TestMembersByActorUsesIndexes(t *testing.T) {
	s := storagetest.New(t)
	ctx := context.Background()
	org, _ := storagetest.NewOrgWithMember(t, s, "acme", "a@acme.io")
	db := s.DB()
	if _, err := db.ExecContext(ctx, `INSERT INTO users (username, email)
		SELECT 'u' || g, 'u' || g || '@example.com' FROM generate_series(1, 100000) g`); err != nil {
		t.Fatal(err)
	}
	// One user in ten is a member of the organization.
	if _, err := db.ExecContext(ctx, `INSERT INTO memberships (org_id, user_id, role)
		SELECT $1, id, 'member' FROM users WHERE username LIKE 'u%' AND id % 10 = 0`, org); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `ANALYZE users; ANALYZE memberships`); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 100, 1000, 10000} {
		ids := make(pq.Int64Array, 0, n)
		emails := make(pq.StringArray, 0, n)
		for i := range n {
			ids = append(ids, int64(i*7+1))
			emails = append(emails, fmt.Sprintf("u%d@example.com", i*13+1))
		}
		for _, c := range []struct {
			name   string
			ids    pq.Int64Array
			emails pq.StringArray
		}{{"ids and emails", ids, emails}, {"emails", nil, emails}, {"ids", ids, nil}} {
			var lines []string
			if err := db.SelectContext(ctx, &lines, `EXPLAIN `+storage.LockLogSQL, org, c.ids, c.emails, pq.StringArray{"id-1"}); err != nil {
				t.Fatal(err)
			}
			for i, l := range lines {
				if j := strings.Index(l, "'{"); j >= 0 {
					lines[i] = l[:j] + "'{…}'"
				}
			}
			plan := strings.Join(lines, "\n")
			if strings.Contains(plan, "Seq Scan on users") || strings.Contains(plan, "Seq Scan on memberships") ||
				c.emails != nil && !strings.Contains(plan, "users_email_lower") ||
				c.ids != nil && !strings.Contains(plan, "users_pkey") {
				t.Errorf("%d actors (%s): the lookup does not probe the indexes:\n%s", n, c.name, plan)
			} else if testing.Verbose() && n == 100 {
				t.Logf("%d actors (%s):\n%s", n, c.name, plan)
			}
		}
	}
}
