package storage_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

// The routing of marked reads, without a real standby (internal/fleet has
// one): a read-only pool on the same database stands in for it.

// readOnly returns u with every transaction read-only, as on a standby.
func readOnly(t *testing.T, u string) string {
	t.Helper()
	if !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
		return u + " options='-c default_transaction_read_only=on'"
	}
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	q := p.Query()
	q.Set("options", "-c default_transaction_read_only=on")
	p.RawQuery = q.Encode()
	return p.String()
}

func TestStandbyMarkedReadsAndWhatTheStandbyRefuses(t *testing.T) {
	ctx := context.Background()
	dbURL := storagetest.URL(t)
	st, err := storage.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if got := st.Standby(); got.Configured {
		t.Fatalf("a store without a standby reports %+v", got)
	}
	if err := st.AttachStandby(ctx, storage.StandbyConfig{URL: readOnly(t, dbURL)}); err != nil {
		t.Fatal(err)
	}
	// Not in recovery: no lag, in use.
	if got := st.Standby(); !got.Configured || !got.Used || got.Lag != 0 || !got.LagKnown {
		t.Fatalf("Standby() = %+v, want used with lag 0", got)
	}
	marked := entity.ReadStandby(ctx)
	if _, err := st.OrganizationByName(marked, "no-such-org"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a marked read of a missing organization: %v, want not found", err)
	}
	// A write that reads its rows back (DELETE … RETURNING) under a marked
	// context: the read-only pool refuses it, the primary runs it.
	if _, err := st.DeleteSession(marked, []byte("no-such-hash")); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a marked DELETE … RETURNING: %v, want it run on the primary (not found)", err)
	}
	// A marked page and stream of an organization.
	var orgID int64
	if err := st.DB().GetContext(ctx, &orgID, `INSERT INTO organizations (name, plan) VALUES ('standby-test', 'enterprise') RETURNING id`); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := st.EventsPage(marked, orgID, now.Add(-time.Hour), now, 10, "", false); err != nil {
		t.Errorf("a marked page: %v", err)
	}
	if err := st.StreamEvents(marked, orgID, now.Add(-time.Hour), now, false, func([]byte) error { return nil }); err != nil {
		t.Errorf("a marked stream: %v", err)
	}
}

func TestStandbyUnreachableIsBypassed(t *testing.T) {
	ctx := context.Background()
	dbURL := storagetest.URL(t)
	st, err := storage.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// Nothing listens on port 1.
	if err := st.AttachStandby(ctx, storage.StandbyConfig{URL: "postgres://auditgraph:hunter2@127.0.0.1:1/auditgraph?sslmode=disable&connect_timeout=1"}); err != nil {
		t.Fatal(err)
	}
	got := st.Standby()
	if !got.Configured || got.Used || got.Reason != "unreachable" || got.Err == nil || strings.Contains(got.Reason, "hunter2") {
		t.Fatalf("Standby() = %+v, want bypassed as unreachable", got)
	}
	marked := entity.ReadStandby(ctx)
	if _, err := st.OrganizationByName(marked, "no-such-org"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a marked read with the standby down: %v, want the primary's answer (not found)", err)
	}
	if err := st.AttachStandby(ctx, storage.StandbyConfig{URL: "postgres://h/db?sslmode=bogus"}); err == nil {
		t.Error("AttachStandby accepted a malformed URL")
	}
}
