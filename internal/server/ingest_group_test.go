package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/auditgraph/auditgraph/chain"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/storage"
)

// Many clients posting small batches to one organization at once, with
// overlapping ids and some invalid batches among them: every valid request is
// answered 200 with counts that add up, the invalid ones 400 with nothing of
// them stored, each id is stored once, and the organization's chain verifies
// (the server groups concurrent batches into one transaction; the answers
// must not tell).
func TestConcurrentIngestIsGrouped(t *testing.T) {
	e := newRestEnv(t, deployment.SelfManaged)
	ctx := context.Background()
	org, err := e.store.OrganizationByName(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	var before int
	e.store.DB().Get(&before, `SELECT count(*) FROM audit_events WHERE org_id = $1`, org.ID)

	const clients, perClient, idPool = 32, 15, 200
	var (
		mu                             sync.Mutex
		received, stored, dups, failed int
		ids                            = map[string]bool{}
		noID                           int
		wg                             sync.WaitGroup
	)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(c), 2))
			for range perClient {
				var body strings.Builder
				n := 1 + rnd.IntN(3)
				bad := rnd.IntN(10) == 0
				var batchIDs []string
				for i := range n {
					id := ""
					if rnd.IntN(4) > 0 {
						id = fmt.Sprint("c-", rnd.IntN(idPool))
					}
					line := map[string]any{"action": "run:update", "actor_email": "bob@x.io"}
					if id != "" {
						line["id"] = id
						batchIDs = append(batchIDs, id)
					}
					if bad && i == n-1 {
						line["response_code"] = 700
					}
					b, _ := json.Marshal(line)
					body.Write(b)
					body.WriteByte('\n')
				}
				req, _ := http.NewRequest("POST", e.url+"/api/v1/audit_events", strings.NewReader(body.String()))
				req.SetBasicAuth("alice", e.keys["alice"])
				req.Header.Set("Content-Type", "application/x-ndjson")
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				var res map[string]int
				var raw bytes.Buffer
				raw.ReadFrom(resp.Body)
				resp.Body.Close()
				json.Unmarshal(raw.Bytes(), &res)
				mu.Lock()
				switch {
				case bad && resp.StatusCode == http.StatusBadRequest:
					failed++
				case !bad && resp.StatusCode == http.StatusOK:
					if res["received"] != n || res["stored"]+res["duplicates"] != n || res["dropped"] != 0 {
						t.Errorf("answer %s for %d lines", raw.String(), n)
					}
					received += res["received"]
					stored += res["stored"]
					dups += res["duplicates"]
					for _, id := range batchIDs {
						ids[id] = true
					}
					noID += n - len(batchIDs)
				default:
					t.Errorf("batch (invalid: %v): %d %s", bad, resp.StatusCode, raw.String())
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if want := len(ids) + noID; stored != want {
		t.Errorf("stored %d (of %d received, %d duplicates), want %d: %d distinct ids and %d lines without one", stored, received, dups, want, len(ids), noID)
	}
	var after int
	e.store.DB().Get(&after, `SELECT count(*) FROM audit_events WHERE org_id = $1`, org.ID)
	if after-before != stored {
		t.Errorf("the log grew by %d events; the answers say %d stored", after-before, stored)
	}
	var bad int
	e.store.DB().Get(&bad, `SELECT count(*) FROM audit_events WHERE org_id = $1 AND response_code = 700`, org.ID)
	if bad != 0 || failed == 0 {
		t.Errorf("%d events of invalid batches stored (%d invalid batches refused)", bad, failed)
	}
	var h chain.Hasher
	prev, next := chain.Genesis, int64(1)
	err = e.store.InSnapshot(ctx, func(tx *storage.Tx) error {
		return tx.ChainEvents(ctx, org.ID, 1, 1<<62, func(ev *storage.ChainEvent) error {
			prev = h.Next(prev, ev.Seq, &ev.Event)
			if ev.Seq != next || !bytes.Equal(prev[:], ev.Hash) {
				return fmt.Errorf("event %d (want %d): stored hash %x, recomputed %s", ev.Seq, next, ev.Hash, prev)
			}
			next++
			return nil
		})
	})
	if err != nil || next-1 != int64(after) {
		t.Errorf("chain: %d events verified of %d, %v", next-1, after, err)
	}
	bob, _ := e.store.UserByUsername(ctx, "bob")
	if m, _ := e.store.Membership(ctx, org.ID, bob.ID); m.ActiveDays != 1 {
		t.Errorf("bob's active days = %d, want 1", m.ActiveDays)
	}
}
