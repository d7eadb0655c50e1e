package verify

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/auditgraph/auditgraph/chain"
	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/log/notary"
	"github.com/auditgraph/auditgraph/internal/platform/fault"
	"github.com/auditgraph/auditgraph/storage"
)

// overdue adds to r the events no checkpoint covers that were stored longer
// ago than opts.Overdue.
func overdue(ctx context.Context, tx *storage.Tx, org entity.Organization, r *chain.Report, opts Options) error {
	if opts.Overdue <= 0 || r.Unsigned <= 0 {
		return nil
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	first := r.LastSeq - r.Unsigned + 1
	s, err := tx.EventsStoredBefore(ctx, org.ID, first, r.LastSeq, now().Add(-opts.Overdue))
	if err != nil || s.Events == 0 {
		return err
	}
	r.Add(chain.Finding{Kind: chain.Missing, Seq: first, LastSeq: s.LastSeq, What: fmt.Sprintf(
		"no checkpoint covers these events, stored from %s on, more than %s ago: the server signs checkpoints every few minutes, so they were deleted, or the server has not been signing (--checkpoint-overdue)",
		s.Oldest.UTC().Format(time.RFC3339), opts.Overdue)})
	return nil
}

// expectDatabase checks that the database holds every checkpoint of org in
// exp.
func expectDatabase(ctx context.Context, tx *storage.Tx, org entity.Organization, r *chain.Report, exp []chain.Checkpoint) error {
	if len(exp) == 0 {
		return nil
	}
	var newest int64
	switch c, err := tx.LastCheckpoint(ctx, org.ID); {
	case err == nil:
		newest = c.LastSeq
	case !errors.Is(err, fault.ErrNotFound):
		return err
	}
	var lookupErr error
	expect(r, "the database", org.Name, org.ID, newest, exp, func(seq int64) (chain.Checkpoint, bool) {
		c, err := tx.CheckpointAt(ctx, org.ID, seq)
		if err != nil {
			if !errors.Is(err, fault.ErrNotFound) {
				lookupErr = err
			}
			return chain.Checkpoint{}, false
		}
		return notary.ChainCheckpoint(c, org.Name), true
	})
	return lookupErr
}

// expect adds to r what a source (where) lacks of the expected checkpoints
// of org: newest is the last sequence number of the source's newest
// checkpoint, at finds the source's checkpoint ending at a sequence number.
func expect(r *chain.Report, where, org string, orgID, newest int64, exp []chain.Checkpoint, at func(int64) (chain.Checkpoint, bool)) {
	for _, e := range exp {
		if e.Org != org {
			continue
		}
		if orgID != 0 && e.OrgID != orgID {
			r.Add(chain.Finding{Kind: chain.Invalid, Seq: e.FirstSeq, LastSeq: e.LastSeq, What: fmt.Sprintf(
				"the expected checkpoint ending at %d is of organization id %d, %s's %q has id %d (recreated?)", e.LastSeq, e.OrgID, where, org, orgID)})
			continue
		}
		c, ok := at(e.LastSeq)
		switch {
		case !ok && newest < e.LastSeq:
			r.Add(chain.Finding{Kind: chain.Missing, Seq: newest + 1, LastSeq: e.LastSeq, What: fmt.Sprintf(
				"%s's checkpoints end at %d, but the expected checkpoint (signed %s) vouches for events up to %d: checkpoints deleted, or the log rolled back",
				where, newest, e.Time.UTC().Format(time.RFC3339), e.LastSeq)})
		case !ok:
			r.Add(chain.Finding{Kind: chain.Missing, Seq: e.FirstSeq, LastSeq: e.LastSeq, What: fmt.Sprintf(
				"%s has no checkpoint ending at %d, which the expected checkpoint (signed %s) shows was written: checkpoints deleted or replaced",
				where, e.LastSeq, e.Time.UTC().Format(time.RFC3339))})
		case !bytes.Equal(c.Signature, e.Signature):
			r.Add(chain.Finding{Kind: chain.Invalid, Seq: e.FirstSeq, LastSeq: e.LastSeq, What: fmt.Sprintf(
				"%s's checkpoint ending at %d differs from the expected one (replaced)", where, e.LastSeq)})
		}
	}
}

// ReadCheckpoints reads checkpoint files: one checkpoint per line, as a
// bucket keeps them (wandb-audit-logs/<org>/checkpoints/<seq>.json) or as
// `auditgraph verify --save-checkpoint` writes them. Each must be signed
// by one of keys.
func ReadCheckpoints(r io.Reader, keys []ed25519.PublicKey) ([]chain.Checkpoint, error) {
	byID := map[string]ed25519.PublicKey{}
	for _, k := range keys {
		byID[chain.KeyID(k)] = k
	}
	var cps []chain.Checkpoint
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		c, err := chain.ParseCheckpoint(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		k, ok := byID[c.KeyID]
		if !ok {
			return nil, fmt.Errorf("line %d: checkpoint of %s ending at %d is signed with unknown key %q", n, c.Org, c.LastSeq, c.KeyID)
		}
		if !c.Verify(k) {
			return nil, fmt.Errorf("line %d: checkpoint of %s ending at %d: signature does not verify", n, c.Org, c.LastSeq)
		}
		cps = append(cps, c)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(cps) == 0 {
		return nil, errors.New("no checkpoint in it")
	}
	return cps, nil
}
