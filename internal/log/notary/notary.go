package notary

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/auditgraph/auditgraph/chain"
	"github.com/auditgraph/auditgraph/internal/platform/fault"
	"github.com/auditgraph/auditgraph/internal/platform/metrics"
	"github.com/auditgraph/auditgraph/storage"
)

// Notary signs checkpoints with one key.
type Notary struct {
	store    *storage.Store
	key      ed25519.PrivateKey
	log      *slog.Logger
	metrics  *metrics.Metrics
	now      func() time.Time
	interval time.Duration
}

// Config is what a Notary needs; Metrics and Now may be nil, and Interval
// is needed only by Run.
type Config struct {
	Store   *storage.Store
	Key     ed25519.PrivateKey
	Log     *slog.Logger
	Metrics *metrics.Metrics
	Now     func() time.Time
	// Interval is how often Run signs the checkpoints of the logs that
	// grew; 0: never.
	Interval time.Duration
}

// New returns a Notary.
func New(cfg Config) *Notary {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Notary{store: cfg.Store, key: cfg.Key, log: cfg.Log, metrics: cfg.Metrics, now: cfg.Now, interval: cfg.Interval}
}

// BrokenError says the chain does not recompute, so no checkpoint was signed.
type BrokenError struct {
	OrgID int64
	Seq   int64
	What  string
}

func (e *BrokenError) Error() string {
	return fmt.Sprintf("notary: chain of organization %d broken at sequence %d: %s; not signing", e.OrgID, e.Seq, e.What)
}

// Checkpoint signs a checkpoint of the organization's chain up to lastSeq,
// records it and returns its JSON, the file a bucket keeps under
// wandb-audit-logs/<org>/checkpoints/. It first recomputes the events since
// the previous checkpoint, and signs nothing when they do not hash to what
// is stored (a *BrokenError). Asked again for a lastSeq a checkpoint already
// ends at, it returns that checkpoint.
func (n *Notary) Checkpoint(ctx context.Context, orgID int64, org string, lastSeq int64) ([]byte, error) {
	var c chain.Checkpoint
	err := n.store.InTx(ctx, func(tx *storage.Tx) error {
		var err error
		c, err = n.checkpoint(ctx, tx, orgID, org, lastSeq)
		return err
	})
	if err != nil {
		return nil, err
	}
	return c.MarshalJSON()
}

func (n *Notary) checkpoint(ctx context.Context, tx *storage.Tx, orgID int64, org string, lastSeq int64) (chain.Checkpoint, error) {
	if err := tx.LockCheckpoints(ctx, orgID); err != nil {
		return chain.Checkpoint{}, err
	}
	prev, err := tx.LastCheckpoint(ctx, orgID)
	havePrev := err == nil
	if err != nil && !errors.Is(err, fault.ErrNotFound) {
		return chain.Checkpoint{}, err
	}
	if havePrev && lastSeq <= prev.LastSeq {
		old, err := tx.CheckpointAt(ctx, orgID, lastSeq)
		if errors.Is(err, fault.ErrNotFound) {
			return chain.Checkpoint{}, fmt.Errorf("notary: no checkpoint of organization %d ends at %d; the newest ends at %d", orgID, lastSeq, prev.LastSeq)
		}
		return ChainCheckpoint(old, org), err
	}
	c := chain.Checkpoint{Org: org, OrgID: orgID, LastSeq: lastSeq, Time: n.now()}
	if havePrev {
		c.FirstSeq, c.PreviousSignature = prev.LastSeq+1, prev.Signature
		copy(c.LastHash[:], prev.LastHash)
	} else if c.FirstSeq, err = tx.ChainStart(ctx, orgID); err != nil {
		return chain.Checkpoint{}, err
	}
	if c.LastHash, err = recompute(ctx, tx, orgID, c.FirstSeq, lastSeq, c.LastHash); err != nil {
		var broken *BrokenError
		if errors.As(err, &broken) && n.metrics != nil {
			n.metrics.ChainVerified(orgID, false, n.now())
		}
		return chain.Checkpoint{}, err
	}
	if n.metrics != nil {
		n.metrics.ChainVerified(orgID, true, n.now())
	}
	c.Sign(n.key)
	err = tx.InsertCheckpoint(ctx, storage.Checkpoint{OrgID: orgID, FirstSeq: c.FirstSeq, LastSeq: c.LastSeq,
		LastHash: c.LastHash[:], CreatedAt: c.Time, PreviousSignature: c.PreviousSignature, Signature: c.Signature, KeyID: c.KeyID})
	return c, err
}

// ChainCheckpoint returns a stored checkpoint in the form package chain signs
// and checks; org is the organization's name, which the database keeps
// elsewhere.
func ChainCheckpoint(c storage.Checkpoint, org string) chain.Checkpoint {
	cc := chain.Checkpoint{Org: org, OrgID: c.OrgID, FirstSeq: c.FirstSeq, LastSeq: c.LastSeq, Time: c.CreatedAt.UTC(),
		PreviousSignature: c.PreviousSignature, KeyID: c.KeyID, Signature: c.Signature}
	copy(cc.LastHash[:], c.LastHash)
	return cc
}

// recompute hashes the events first..last onto prev, checking each against
// its stored hash, and returns the last hash.
func recompute(ctx context.Context, tx *storage.Tx, orgID, first, last int64, prev chain.Hash) (chain.Hash, error) {
	var h chain.Hasher
	next := first
	err := tx.ChainEvents(ctx, orgID, first, last, func(e *storage.ChainEvent) error {
		if e.Seq != next {
			return &BrokenError{orgID, min(e.Seq, next), "sequence numbers do not follow each other"}
		}
		prev = h.Next(prev, e.Seq, &e.Event)
		if !bytes.Equal(prev[:], e.Hash) {
			return &BrokenError{orgID, e.Seq, "event does not match its stored hash"}
		}
		next++
		return nil
	})
	if err == nil && next != last+1 {
		err = &BrokenError{orgID, next, fmt.Sprintf("events up to %d are not stored", last)}
	}
	return prev, err
}

// CheckpointAll signs a checkpoint for every organization whose log grew
// since its last one, unless another process is doing so right now (an
// advisory lock decides). A broken chain is logged and skipped, so that one
// organization does not hold up the others. It returns how many it signed.
func (n *Notary) CheckpointAll(ctx context.Context) (int, error) {
	signed := 0
	err := n.store.InTx(ctx, func(tx *storage.Tx) error {
		ok, err := tx.TryLockCheckpointJob(ctx)
		if err != nil || !ok {
			return err
		}
		heads, err := tx.ChainHeads(ctx)
		if err != nil {
			return err
		}
		for _, h := range heads {
			_, err := n.checkpoint(ctx, tx, h.OrgID, h.Org, h.LastSeq)
			var broken *BrokenError
			if errors.As(err, &broken) {
				n.log.Error("audit-log chain does not verify; no checkpoint signed", "org", h.Org, "seq", broken.Seq, "problem", broken.What)
				continue
			}
			if err != nil {
				return err
			}
			signed++
		}
		return nil
	})
	return signed, err
}

// Run calls CheckpointAll every Config.Interval until ctx ends; one
// interrupted by the end is rolled back, not reported. At the end it signs
// once more (within finalTimeout), so that a server stopped cleanly leaves
// no event without a checkpoint, which verify would report once it is old.
// It returns nil then (failures are logged and retried at the next tick).
// With no Interval there is no periodic job: it returns nil at once.
func (n *Notary) Run(ctx context.Context) error {
	if n.interval <= 0 {
		return nil
	}
	tick := time.NewTicker(n.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			n.final(context.WithoutCancel(ctx))
			return nil
		case <-tick.C:
			if k, err := n.CheckpointAll(ctx); err != nil && ctx.Err() == nil {
				n.log.Error("writing audit-log checkpoints", "err", err)
			} else if k > 0 {
				n.log.Debug("wrote audit-log checkpoints", "count", k)
			}
		}
	}
}

// finalTimeout bounds the checkpoint Run signs as it ends.
const finalTimeout = 5 * time.Second

func (n *Notary) final(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, finalTimeout)
	defer cancel()
	if k, err := n.CheckpointAll(ctx); err != nil {
		n.log.Warn("writing audit-log checkpoints at shutdown", "err", err)
	} else if k > 0 {
		n.log.Debug("wrote audit-log checkpoints at shutdown", "count", k)
	}
}
