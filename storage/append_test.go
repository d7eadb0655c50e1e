package storage_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

// TestAppendEventsBothWays appends the same events through the one-statement
// INSERT (small batches) and through COPY (large ones) and checks that the
// stored rows, hashes and heads are the same, empty keys stored as NULL
// either way, that the batch's activity rows reach the rollup, the
// membership and the day's bitmap either way, and that each append is
// announced once with its range.
func TestAppendEventsBothWays(t *testing.T) {
	s := storagetest.New(t)
	ctx := context.Background()
	ts := time.Date(2026, 11, 5, 10, 0, 0, 123456000, time.UTC)
	event := func(i int) audit.Event {
		e := audit.Event{Action: audit.RunUpdate, Timestamp: ts.Add(time.Duration(i) * time.Second), ActorEmail: fmt.Sprintf("u%d@x.io", i%7)}
		if i%3 == 0 {
			e.ResponseCode = 200 + i%5
			e.ProjectName = "p'\"{},\\ \u00e9\t\n\r\\N\\x00"
			e.EntityName = `\N` // COPY's NULL, as text
		}
		if i%4 == 0 {
			e.ActorIP = "10.0.0.1"
		}
		return e
	}
	for _, n := range []int{1, 3, storage.UnnestMax, storage.UnnestMax + 1, 1200} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			org, member := storagetest.NewOrgWithMember(t, s, fmt.Sprintf("append-%d", n), fmt.Sprintf("m%d@x.io", n))
			// Activity rows go with the events: in the insert's statement up
			// to UnnestMax, after the COPY above it.
			day := time.Now().UTC().Truncate(24 * time.Hour)
			activity := []storage.ActivityDay{{UserID: member, Day: day, Last: day.Add(time.Hour), Runs: int64(n)}}
			events := make([]audit.Event, n)
			hashes := make([][]byte, n)
			for i := range events {
				events[i] = event(i)
				h := sha256.Sum256([]byte(fmt.Sprint(n, i)))
				hashes[i] = h[:]
			}
			if err := s.EnsureEventPartitions(ctx, events); err != nil {
				t.Fatal(err)
			}
			var l storage.LockedLog
			err := s.InTx(ctx, func(tx *storage.Tx) error {
				var err error
				if l, err = tx.LockLog(ctx, org, nil, nil, nil); err != nil {
					return err
				}
				return tx.AppendEvents(ctx, org, l.Seq+1, events, hashes, activity)
			})
			if err != nil {
				t.Fatal(err)
			}
			var act struct {
				Days     int `db:"days"`
				Runs     int `db:"runs"`
				BitUsers int `db:"bit_users"`
			}
			if err := s.DB().GetContext(ctx, &act, `SELECT
					(SELECT count(*) FROM activity_days WHERE org_id = $1 AND user_id = $2 AND day = $3) AS days,
					(SELECT run_events FROM memberships WHERE org_id = $1 AND user_id = $2) AS runs,
					COALESCE((SELECT users FROM activity_day_bits WHERE org_id = $1 AND day = $3), 0) AS bit_users`,
				org, member, day); err != nil {
				t.Fatal(err)
			}
			if act.Days != 1 || act.Runs != n || act.BitUsers != 1 {
				t.Errorf("activity after the append: %d rollup rows, %d run events, %d in the day's bitmap; want 1, %d, 1", act.Days, act.Runs, act.BitUsers, n)
			}
			got, err := s.EventsBySeq(ctx, org, 1, int64(n)+5)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != n {
				t.Fatalf("%d events stored, want %d", len(got), n)
			}
			for i, g := range got {
				if g.Seq != int64(i+1) || !reflect.DeepEqual(g.Event, events[i]) {
					t.Fatalf("event %d stored as seq %d %+v, want seq %d %+v", i, g.Seq, g.Event, i+1, events[i])
				}
			}
			var nulls int
			if err := s.DB().GetContext(ctx, &nulls, `SELECT count(*) FROM audit_events WHERE org_id = $1
				AND (user_email = '' OR actor_ip = '' OR response_code = 0)`, org); err != nil {
				t.Fatal(err)
			}
			if nulls != 0 {
				t.Errorf("%d rows keep an empty key as '' or 0, want NULL", nulls)
			}
			var stored [][]byte
			if err := s.DB().SelectContext(ctx, &stored, `SELECT hash FROM audit_events WHERE org_id = $1 ORDER BY seq`, org); err != nil {
				t.Fatal(err)
			}
			for i := range stored {
				if !bytes.Equal(stored[i], hashes[i]) {
					t.Fatalf("hash of seq %d is %x, want %x", i+1, stored[i], hashes[i])
				}
			}
			err = s.InTx(ctx, func(tx *storage.Tx) error {
				var err error
				l, err = tx.LockLog(ctx, org, nil, nil, nil)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if l.Seq != int64(n) || !bytes.Equal(l.Hash, hashes[n-1]) {
				t.Errorf("head after the append: seq %d hash %x, want %d %x", l.Seq, l.Hash, n, hashes[n-1])
			}
		})
	}
}

// TestLockLogFindsMembersAndRules checks what LockLog reads with the lock:
// the members among the actors asked for (by id, or by email in lower case)
// and the count of enabled rules only.
func TestLockLogFindsMembersAndRules(t *testing.T) {
	s := storagetest.New(t)
	ctx := context.Background()
	org, member := storagetest.NewOrgWithMember(t, s, "acme", "a@acme.io")
	_, other := storagetest.NewOrgWithMember(t, s, "other", "b@other.io")
	if _, err := s.DB().ExecContext(ctx, `WITH i AS (
			INSERT INTO integrations (org_id, name, kind, url_sealed, signing_secret_sealed) VALUES ($1, 'hook', 'webhook', '\x00', '\x00') RETURNING id
		)
		INSERT INTO alert_rules (org_id, name, actions, enabled, integration_ids)
		SELECT $1, n, '{user:login}', n = 'on', ARRAY[i.id] FROM i, unnest('{on,off}'::text[]) n`, org); err != nil {
		t.Fatal(err)
	}
	var l storage.LockedLog
	err := s.InTx(ctx, func(tx *storage.Tx) error {
		var err error
		l, err = tx.LockLog(ctx, org, []int64{member, other, 999999}, []string{"a@acme.io", "b@other.io", "nobody@x.io"}, nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []storage.Member{{ID: member, Email: "a@acme.io"}}
	if !reflect.DeepEqual(l.Members, want) {
		t.Errorf("members = %+v, want %+v (the other organization's member and unknown actors left out)", l.Members, want)
	}
	if l.Rules != 1 {
		t.Errorf("enabled rules = %d, want 1", l.Rules)
	}
	err = s.InTx(ctx, func(tx *storage.Tx) error {
		_, err := tx.LockLog(ctx, 424242, nil, nil, nil)
		return err
	})
	if err == nil {
		t.Error("LockLog of a missing organization: no error")
	}
}

// TestLockLogRecordsClientIDs checks the client ids LockLog records with the
// lock: those the log had not seen come back in Fresh (a repeat within the
// call once), those it had do not, another organization's ids do not count,
// and a transaction that rolls back records none.
func TestLockLogRecordsClientIDs(t *testing.T) {
	s := storagetest.New(t)
	ctx := context.Background()
	org, _ := storagetest.NewOrgWithMember(t, s, "acme", "a@acme.io")
	other, _ := storagetest.NewOrgWithMember(t, s, "other", "b@other.io")
	// lock returns the fresh ids, whichever way LockLog says them, and
	// checks that it says AllFresh exactly when every id is new and none
	// repeats.
	lock := func(org int64, ids ...string) (map[string]bool, error) {
		t.Helper()
		var l storage.LockedLog
		err := s.InTx(ctx, func(tx *storage.Tx) error {
			var err error
			l, err = tx.LockLog(ctx, org, nil, nil, ids)
			return err
		})
		fresh := l.Fresh
		if l.AllFresh {
			if fresh != nil {
				t.Errorf("LockLog(%q) says AllFresh and Fresh %v", ids, fresh)
			}
			if len(ids) > 0 {
				fresh = map[string]bool{}
				for _, id := range ids {
					fresh[id] = true
				}
			}
		}
		if all := len(fresh) == len(ids); l.AllFresh != all {
			t.Errorf("LockLog(%q) AllFresh = %v; %d of %d ids fresh", ids, l.AllFresh, len(fresh), len(ids))
		}
		return fresh, err
	}
	fresh, err := lock(org, "a", "b", "a")
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]bool{"a": true, "b": true}; !reflect.DeepEqual(fresh, want) {
		t.Errorf("first ids: fresh = %v, want %v", fresh, want)
	}
	if fresh, _ = lock(org, "b", "c"); !reflect.DeepEqual(fresh, map[string]bool{"c": true}) {
		t.Errorf("second ids: fresh = %v, want only c", fresh)
	}
	if fresh, _ = lock(other, "a"); !reflect.DeepEqual(fresh, map[string]bool{"a": true}) {
		t.Errorf("another organization's a: fresh = %v, want a", fresh)
	}
	if fresh, _ = lock(org); fresh != nil {
		t.Errorf("no ids: fresh = %v, want nil", fresh)
	}
	err = s.InTx(ctx, func(tx *storage.Tx) error {
		if _, err := tx.LockLog(ctx, org, nil, nil, []string{"d"}); err != nil {
			return err
		}
		return errors.New("roll back")
	})
	if err == nil || err.Error() != "roll back" {
		t.Fatalf("rolled-back LockLog: %v", err)
	}
	if fresh, _ = lock(org, "d"); !reflect.DeepEqual(fresh, map[string]bool{"d": true}) {
		t.Errorf("after a rollback: fresh = %v, want d", fresh)
	}
}

// The append path's statements run prepared inside the transaction once
// they have run before: the lock statement, after a first unprepared run and
// its preparation in the background, is found among the statements prepared
// on the connection of a later transaction that runs it.
func TestAppendStatementsRunPrepared(t *testing.T) {
	s := storagetest.New(t)
	ctx := context.Background()
	org, _ := storagetest.NewOrgWithMember(t, s, "acme", "a@acme.io")
	for i := range 50 {
		var n int
		err := s.InTx(ctx, func(tx *storage.Tx) error {
			if _, err := tx.LockLog(ctx, org, nil, nil, []string{fmt.Sprint("p-", i)}); err != nil {
				return err
			}
			var err error
			n, err = tx.PreparedHere(ctx, "INSERT INTO audit_event_ids")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		time.Sleep(20 * time.Millisecond) // the background preparation
	}
	t.Fatal("after 50 transactions the lock statement is still not prepared on their connection")
}

// TestAppendEventsRecordsActorPairs checks that both of AppendEvents' ways
// (one statement, COPY) record each distinct (actor_user_id, actor_email)
// pair with the events, once, and that a search by user id then finds the
// events under every email the user id came with, and those without email.
func TestAppendEventsRecordsActorPairs(t *testing.T) {
	s := storagetest.New(t)
	ctx := context.Background()
	ts := time.Date(2026, 11, 6, 10, 0, 0, 0, time.UTC)
	for _, n := range []int{4, storage.UnnestMax + 1} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			org := storagetest.NewOrg(t, s, fmt.Sprintf("actors-%d", n))
			// Two appends: user 1 with its old email, then with its new one;
			// user 2 without email; a guest with email and no user id.
			var want []int64
			count := map[string]int{} // events per actor searched for
			seq := int64(1)
			for round, email := range []string{"old@x.io", "new@x.io"} {
				events := make([]audit.Event, n)
				hashes := make([][]byte, n)
				for i := range events {
					e := audit.Event{Action: audit.RunUpdate, Timestamp: ts.Add(time.Duration(round*n+i) * time.Second)}
					switch i % 4 {
					case 0, 1:
						e.ActorUserID, e.ActorEmail = "1", email
						want = append(want, seq+int64(i))
						count["1"]++
						count[email]++
					case 2:
						e.ActorUserID = "2"
						count["2"]++
					case 3:
						e.ActorEmail = "guest@x.io"
						count["guest@x.io"]++
					}
					events[i] = e
					h := sha256.Sum256([]byte(fmt.Sprint(n, round, i)))
					hashes[i] = h[:]
				}
				if err := s.EnsureEventPartitions(ctx, events); err != nil {
					t.Fatal(err)
				}
				if err := s.InTx(ctx, func(tx *storage.Tx) error {
					l, err := tx.LockLog(ctx, org, nil, nil, nil)
					if err != nil {
						return err
					}
					seq = l.Seq + 1
					return tx.AppendEvents(ctx, org, seq, events, hashes, nil)
				}); err != nil {
					t.Fatal(err)
				}
				if round == 0 {
					seq += int64(n)
				}
			}
			var pairs []string
			if err := s.DB().SelectContext(ctx, &pairs, `SELECT user_id || ' ' || email FROM audit_event_actors
				WHERE org_id = $1 ORDER BY 1`, org); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(pairs) != "[1 new@x.io 1 old@x.io]" {
				t.Errorf("recorded actor pairs %q, want [1 new@x.io 1 old@x.io]", pairs)
			}
			for _, actor := range []string{"1", "2", "old@x.io", "new@x.io", "guest@x.io", "nobody@x.io"} {
				wantN := count[actor]
				f := storage.EventFilter{OrgID: org, Actor: actor, Start: ts.Add(-time.Hour), End: ts.Add(time.Hour + time.Duration(2*n)*time.Second), Limit: 2 * n}
				got, _, _, err := s.Events(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != wantN {
					t.Errorf("actor %q: %d events, want %d", actor, len(got), wantN)
				}
				if actor == "1" {
					var seqs []int64
					for _, e := range got {
						seqs = append(seqs, e.Seq)
					}
					if fmt.Sprint(seqs) != fmt.Sprint(want) {
						t.Errorf("actor 1: events %v, want %v", head(seqs), head(want))
					}
				}
			}
		})
	}
}
