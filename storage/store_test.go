package storage_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/log/ledger"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

// createOrg creates an organization in its own transaction.
func createOrg(t *testing.T, s *storage.Store, name string) entity.Organization {
	t.Helper()
	var o entity.Organization
	err := s.InTx(context.Background(), func(tx *storage.Tx) (err error) {
		o, err = tx.CreateOrganization(context.Background(), name, "enterprise")
		return err
	})
	if err != nil {
		t.Fatalf("CreateOrganization(%q): %v", name, err)
	}
	return o
}

// appendEvents appends events to org's log in one transaction.
func appendEvents(t *testing.T, s *storage.Store, orgID int64, es ...audit.Event) {
	t.Helper()
	ctx := context.Background()
	if err := s.InTx(ctx, func(tx *storage.Tx) error { return ledger.Append(ctx, tx, orgID, es) }); err != nil {
		t.Fatalf("AppendEvents(%d, %d events): %v", orgID, len(es), err)
	}
}

func TestAuditEventsAreAppendOnly(t *testing.T) {
	t.Parallel()
	s := storagetest.New(t)
	ctx := context.Background()
	org := createOrg(t, s, "acme")
	now := time.Now().UTC()
	appendEvents(t, s, org.ID,
		audit.Event{Action: audit.UserLogin, Timestamp: now, ActorEmail: "a@acme.io"},
		audit.Event{Action: audit.RunUpdate, Timestamp: now, ProjectName: "p"})
	partition := "audit_events_" + now.Format("2006_01")

	// The test connects as the tables' owner (and, on a test cluster, a
	// superuser): privileges cannot be what stops it, only the triggers.
	var owner bool
	if err := s.DB().Get(&owner, `SELECT pg_get_userbyid(relowner) = current_user FROM pg_class WHERE relname = $1`, partition); err != nil {
		t.Fatalf("owner of %s: %v", partition, err)
	}
	if !owner {
		t.Fatalf("test role does not own %s; the test would not show that the owner is refused", partition)
	}

	// A partition the test writes nothing to must refuse TRUNCATE as well.
	next := "audit_events_" + time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, time.UTC).Format("2006_01")
	for _, tc := range []struct{ name, stmt string }{
		{"update parent", `UPDATE audit_events SET action = 'user:logout'`},
		{"update one column", `UPDATE audit_events SET actor_email = NULL WHERE actor_email IS NOT NULL`},
		{"delete parent", `DELETE FROM audit_events`},
		{"delete some", `DELETE FROM audit_events WHERE action = 'user:login'`},
		{"truncate parent", `TRUNCATE audit_events`},
		{"upsert", `INSERT INTO audit_events (org_id, seq, ts, action) SELECT org_id, seq, ts, action FROM audit_events
			ON CONFLICT (org_id, ts, seq) DO UPDATE SET action = 'user:logout'`},
		{"update partition", `UPDATE ` + partition + ` SET action = 'user:logout'`},
		{"delete partition", `DELETE FROM ` + partition},
		{"truncate partition", `TRUNCATE ` + partition},
		{"truncate empty partition", `TRUNCATE ` + next},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Each statement runs in a transaction that is rolled back, so one
			// that wrongly succeeds cannot hide the next one's failure.
			tx, err := s.DB().BeginTxx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			_, err = tx.ExecContext(ctx, tc.stmt)
			if err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("Exec(%q) error = %v, want an error containing %q", tc.stmt, err, "append-only")
			}
		})
	}
	if n := storagetest.CountEvents(t, s, org.ID); n != 2 {
		t.Errorf("events after refused statements = %d, want 2", n)
	}
}

func TestAppendEventsSequencePerOrg(t *testing.T) {
	t.Parallel()
	s := storagetest.New(t)
	ctx := context.Background()
	a, b := createOrg(t, s, "a"), createOrg(t, s, "b")
	ts := time.Now().UTC().Add(-time.Minute)
	e := audit.Event{Action: audit.RunUpdate, Timestamp: ts}
	appendEvents(t, s, a.ID, e, e)
	appendEvents(t, s, b.ID, e)
	appendEvents(t, s, a.ID, e)
	appendEvents(t, s, b.ID, e, e)

	for _, tc := range []struct {
		org  entity.Organization
		want []int64
	}{
		{a, []int64{1, 2, 3}},
		{b, []int64{1, 2, 3}},
	} {
		t.Run(tc.org.Name, func(t *testing.T) {
			es, err := s.OrgEvents(ctx, tc.org.ID, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, e := range es {
				got = append(got, e.Seq)
				if e.OrgID != tc.org.ID {
					t.Errorf("OrgEvents(%d) returned an event of organization %d", tc.org.ID, e.OrgID)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("OrgEvents(%q) sequence numbers = %v, want %v", tc.org.Name, got, tc.want)
			}
		})
	}
	// afterSeq and limit page through the log.
	es, err := s.OrgEvents(ctx, a.ID, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].Seq != 2 {
		t.Errorf("OrgEvents(a, after 1, limit 1) = %+v, want the event with seq 2", es)
	}
}

func TestAppendEventsConcurrently(t *testing.T) {
	t.Parallel()
	s := storagetest.New(t)
	ctx := context.Background()
	org := createOrg(t, s, "acme")
	const writers, batch = 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Go(func() {
			es := make([]audit.Event, batch)
			for i := range es {
				es[i] = audit.Event{Action: audit.RunUpdate, Timestamp: time.Now()}
			}
			errs <- s.InTx(ctx, func(tx *storage.Tx) error { return ledger.Append(ctx, tx, org.ID, es) })
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent AppendEvents: %v", err)
		}
	}
	es, err := s.OrgEvents(ctx, org.ID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range es {
		if e.Seq != int64(i+1) {
			t.Fatalf("OrgEvents()[%d].Seq = %d, want %d: sequence numbers must have no gaps or repeats", i, e.Seq, i+1)
		}
	}
	if len(es) != writers*batch {
		t.Errorf("OrgEvents returned %d events, want %d", len(es), writers*batch)
	}
}

func TestAppendEventsRoundTrip(t *testing.T) {
	t.Parallel()
	s := storagetest.New(t)
	ctx := context.Background()
	org := createOrg(t, s, "acme")
	// PostgreSQL keeps microseconds; the time is given in another zone to
	// check that it comes back in UTC.
	ts := time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.FixedZone("X", 3600))
	if err := s.EnsurePartitions(ctx, ts, ts); err != nil {
		t.Fatal(err)
	}
	full := audit.Event{
		Action:                audit.ArtifactCreate,
		ActorEmail:            "actor@acme.io",
		ActorIP:               "192.0.2.7",
		ActorUserID:           "17",
		ArtifactAsset:         "artifact-1",
		ArtifactDigest:        "sha256:abc",
		ArtifactQualifiedName: "acme/proj/model:v3",
		ArtifactSequenceAsset: "seq-9",
		CLIVersion:            "0.19.1",
		EntityAsset:           "entity-2",
		EntityName:            "ml-team",
		ProjectAsset:          "project-3",
		ProjectName:           "proj",
		ReportAsset:           "report-4",
		ReportName:            "Weekly",
		ResponseCode:          201,
		Timestamp:             ts,
		UserAsset:             "user-5",
		UserEmail:             "user@acme.io",
	}
	bare := audit.Event{Action: audit.UserLogout, Timestamp: ts.Add(time.Second)}
	appendEvents(t, s, org.ID, full, bare)

	got, err := s.OrgEvents(ctx, org.ID, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("OrgEvents returned %d events, want 2", len(got))
	}
	for i, want := range []audit.Event{full, bare} {
		want.Timestamp = want.Timestamp.UTC()
		if got[i].Event != want {
			t.Errorf("OrgEvents()[%d] = %+v, want %+v", i, got[i].Event, want)
		}
		if got[i].Timestamp.Location() != time.UTC {
			t.Errorf("OrgEvents()[%d].Timestamp location = %v, want UTC", i, got[i].Timestamp.Location())
		}
	}
}

func TestAppendEventsRejects(t *testing.T) {
	t.Parallel()
	s := storagetest.New(t)
	ctx := context.Background()
	org := createOrg(t, s, "acme")
	for _, tc := range []struct {
		name    string
		orgID   int64
		event   audit.Event
		wantIs  error
		wantMsg string
	}{
		{"unknown action", org.ID, audit.Event{Action: "user:explode"}, nil, `"user:explode"`},
		{"unknown organization", org.ID + 1000, audit.Event{Action: audit.UserLogin}, storage.ErrNotFound, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.InTx(ctx, func(tx *storage.Tx) error { return ledger.Append(ctx, tx, tc.orgID, []audit.Event{tc.event}) })
			if err == nil {
				t.Fatalf("AppendEvents(%d, %+v) succeeded, want an error", tc.orgID, tc.event)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("AppendEvents(%d, %+v) = %v, want errors.Is %v", tc.orgID, tc.event, err, tc.wantIs)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("AppendEvents(%d, %+v) = %v, want it to name %s", tc.orgID, tc.event, err, tc.wantMsg)
			}
		})
	}
	if n := storagetest.CountEvents(t, s, org.ID); n != 0 {
		t.Errorf("events after rejected appends = %d, want 0", n)
	}
	var last int64
	if err := s.DB().Get(&last, `SELECT last_seq FROM organizations WHERE id = $1`, org.ID); err != nil {
		t.Fatal(err)
	}
	if last != 0 {
		t.Errorf("last_seq after a rejected append = %d, want 0 (rolled back)", last)
	}
}

func TestInTx(t *testing.T) {
	t.Parallel()
	s := storagetest.New(t)
	ctx := context.Background()
	errStop := errors.New("stop")

	create := func(name string) func(*storage.Tx) error {
		return func(tx *storage.Tx) error {
			_, err := tx.CreateOrganization(ctx, name, "free")
			return err
		}
	}
	exists := func(t *testing.T, name string) bool {
		t.Helper()
		_, err := s.OrganizationByName(ctx, name)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}

	t.Run("commit", func(t *testing.T) {
		if err := s.InTx(ctx, create("committed")); err != nil {
			t.Fatalf("InTx = %v, want nil", err)
		}
		if !exists(t, "committed") {
			t.Error("organization created in a committed transaction is missing")
		}
	})

	t.Run("error", func(t *testing.T) {
		err := s.InTx(ctx, func(tx *storage.Tx) error {
			if err := create("failed")(tx); err != nil {
				return err
			}
			return errStop
		})
		if !errors.Is(err, errStop) {
			t.Errorf("InTx = %v, want %v", err, errStop)
		}
		if exists(t, "failed") {
			t.Error("organization created in a transaction that returned an error was committed")
		}
	})

	t.Run("panic", func(t *testing.T) {
		var recovered any
		func() {
			defer func() { recovered = recover() }()
			s.InTx(ctx, func(tx *storage.Tx) error {
				if err := create("panicked")(tx); err != nil {
					return err
				}
				panic("boom")
			})
		}()
		if recovered != "boom" {
			t.Errorf("InTx re-panicked with %v, want %q", recovered, "boom")
		}
		if exists(t, "panicked") {
			t.Error("organization created in a transaction that panicked was committed")
		}
	})

	// A failed or panicking transaction must not keep its connection busy:
	// many more of them than the pool holds still leave the store usable.
	t.Run("connections released", func(t *testing.T) {
		for i := 0; i < 50; i++ {
			func() {
				defer func() { recover() }()
				s.InTx(ctx, func(tx *storage.Tx) error { panic("boom") })
			}()
			s.InTx(ctx, func(tx *storage.Tx) error { return errStop })
		}
		tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := s.InTx(tctx, create("after")); err != nil {
			t.Fatalf("InTx after 100 rolled-back transactions = %v, want nil", err)
		}
	})
}

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	s := storagetest.New(t)
	ctx := context.Background()
	files, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("migration files: %v, %v", files, err)
	}

	// The database comes migrated; migrating again changes nothing.
	if n, err := s.Migrate(ctx); err != nil || n != 0 {
		t.Errorf("Migrate on a migrated database = %d, %v; want 0, nil", n, err)
	}
	if n, err := s.Pending(ctx); err != nil || n != 0 {
		t.Errorf("Pending on a migrated database = %d, %v; want 0, nil", n, err)
	}

	// From an empty schema, two servers migrating at once apply every
	// migration exactly once between them.
	if _, err := s.DB().ExecContext(ctx, `DROP SCHEMA public CASCADE; CREATE SCHEMA public`); err != nil {
		t.Fatal(err)
	}
	var (
		wg      sync.WaitGroup
		applied [2]int
		errs    [2]error
	)
	for i := range applied {
		wg.Go(func() { applied[i], errs[i] = s.Migrate(ctx) })
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("concurrent Migrate errors = %v, %v", errs[0], errs[1])
	}
	if got := applied[0] + applied[1]; got != len(files) {
		t.Errorf("concurrent Migrate applied %d + %d, want %d in all", applied[0], applied[1], len(files))
	}
	if n, err := s.Migrate(ctx); err != nil || n != 0 {
		t.Errorf("second Migrate = %d, %v; want 0, nil", n, err)
	}
	if n, err := s.Pending(ctx); err != nil || n != 0 {
		t.Errorf("Pending after Migrate = %d, %v; want 0, nil", n, err)
	}

	// A missing migration shows up in Pending.
	if _, err := s.DB().ExecContext(ctx, `DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)`); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Pending(ctx); err != nil || n != 1 {
		t.Errorf("Pending with one migration unrecorded = %d, %v; want 1, nil", n, err)
	}
}

func TestConstraintErrorsAreClassified(t *testing.T) {
	t.Parallel()
	s := storagetest.New(t)
	ctx := context.Background()
	createOrg(t, s, "acme")
	if err := s.InTx(ctx, func(tx *storage.Tx) error {
		_, err := tx.CreateUser(ctx, storage.NewUser{Username: "ann", Email: "ann@acme.io"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		fn   func(tx *storage.Tx) error
		want error
	}{
		{"duplicate organization name", func(tx *storage.Tx) error {
			_, err := tx.CreateOrganization(ctx, "acme", "free")
			return err
		}, storage.ErrConflict},
		{"duplicate username", func(tx *storage.Tx) error {
			_, err := tx.CreateUser(ctx, storage.NewUser{Username: "ann"})
			return err
		}, storage.ErrConflict},
		{"duplicate email", func(tx *storage.Tx) error {
			_, err := tx.CreateUser(ctx, storage.NewUser{Username: "ann2", Email: "ann@acme.io"})
			return err
		}, storage.ErrConflict},
		{"bad organization name", func(tx *storage.Tx) error {
			_, err := tx.CreateOrganization(ctx, "-x", "free")
			return err
		}, storage.ErrInvalid},
		{"unknown plan", func(tx *storage.Tx) error {
			_, err := tx.CreateOrganization(ctx, "beta", "gold")
			return err
		}, storage.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.InTx(ctx, tc.fn)
			if !errors.Is(err, tc.want) {
				t.Errorf("%s: error = %v, want errors.Is %v", tc.name, err, tc.want)
			}
		})
	}
}

// Ingest matches actors by email without regard to case, so two users may
// not hold emails that differ only in case: the match must never be ambiguous.
func TestIngestWithCaseVariantEmails(t *testing.T) {
	t.Parallel()
	s := storagetest.New(t)
	ctx := context.Background()
	org, user := storagetest.NewOrgWithMember(t, s, "acme", "ann@acme.io")
	err := s.InTx(ctx, func(tx *storage.Tx) error {
		_, err := tx.CreateUser(ctx, storage.NewUser{Username: "ann2", Email: "Ann@acme.io"})
		return err
	})
	if !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("CreateUser(Ann@acme.io) next to ann@acme.io = %v, want ErrConflict", err)
	}
	batch := []ledger.IngestEvent{{Event: audit.Event{Action: audit.RunUpdate, Timestamp: time.Now(), ActorEmail: "ANN@acme.io"}}}
	if res, err := ledger.Ingest(ctx, s, org, batch, time.Time{}); err != nil || res.Stored != 1 {
		t.Errorf("Ingest(event by ANN@acme.io) = %+v, %v; want 1 stored", res, err)
	}
	if m, _ := s.Membership(ctx, org, user); m.ActiveDays != 1 {
		t.Errorf("active days of ann after an event by ANN@acme.io = %d, want 1", m.ActiveDays)
	}
}
