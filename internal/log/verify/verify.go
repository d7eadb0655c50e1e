// Package verify recomputes organizations' audit-log hash chains from the
// database or from a bucket's exported files and checks them against the
// signed checkpoints. The command line (auditgraph verify) and the GraphQL
// API both use it; the rules themselves are in package chain.
package verify

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/auditgraph/auditgraph/chain"
	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/identity/access"
	"github.com/auditgraph/auditgraph/internal/log/notary"
	"github.com/auditgraph/auditgraph/internal/platform/fault"
	"github.com/auditgraph/auditgraph/internal/platform/metrics"
	"github.com/auditgraph/auditgraph/storage"
)

// Bound is one end of the range to verify: a sequence number or a time,
// whichever is set; the zero Bound leaves that end open.
type Bound struct {
	Seq  int64
	Time time.Time
}

// IsZero reports whether b leaves its end open.
func (b Bound) IsZero() bool { return b.Seq == 0 && b.Time.IsZero() }

// ParseBound reads a sequence number, a date (2006-01-02, UTC) or an RFC
// 3339 time.
func ParseBound(s string) (Bound, error) {
	if s == "" {
		return Bound{}, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 1 {
			return Bound{}, fmt.Errorf("%q: sequence numbers start at 1", s)
		}
		return Bound{Seq: n}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return Bound{Time: t}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return Bound{Time: t}, nil
	}
	return Bound{}, fmt.Errorf("%q: want a sequence number, a date such as 2026-01-02 or an RFC 3339 time", s)
}

// Options say what to verify. The range widens to the checkpoints around
// it: verification starts after the last checkpoint before From (whose
// signature it checks and whose hash it continues from) and ends at the
// first checkpoint at or after To. A time bound refers to when checkpoints
// were signed.
type Options struct {
	From, To Bound
	// Keys are the public keys checkpoints may be signed with.
	Keys []ed25519.PublicKey
	// GapAfter is the time between two checkpoints reported as a gap; 0
	// reports none.
	GapAfter time.Duration
	// Overdue, when not 0, reports as missing (checkpoints missing) the
	// events no checkpoint covers that were stored longer ago than this:
	// the server signs every checkpoint interval, so such events should
	// have been covered long ago. Database only: exported files carry no
	// time of storage.
	Overdue time.Duration
	// Expect are checkpoints known from elsewhere (a bucket's copy, an
	// auditor's file), whose signatures the caller has checked: the
	// source verified must hold each of its organization's, or it has lost
	// (or rolled back) checkpoints, which the source alone cannot show.
	Expect []chain.Checkpoint
	// Match are another source's checkpoints (the database's, when the
	// bucket is verified with it): where both hold a checkpoint ending at
	// the same sequence number, the two must be the same; one signed again
	// means the signing key was used outside the server. One source lacking
	// the other's is not reported here (a sync lags the database).
	Match []chain.Checkpoint
	// Now defaults to time.Now.
	Now func() time.Time
}

// DefaultOverdue is how long after it was stored an event may go without a
// checkpoint before `auditgraph verify` reports it: the default checkpoint
// (and bucket sync) interval of 10 minutes plus 50 minutes' grace.
const DefaultOverdue = time.Hour

// DefaultGapAfter is three times the default checkpoint interval.
const DefaultGapAfter = 30 * time.Minute

// Database verifies an organization's chain as the database holds it.
func Database(ctx context.Context, store *storage.Store, org entity.Organization, opts Options) (*chain.Report, error) {
	var r *chain.Report
	err := store.InSnapshot(ctx, func(tx *storage.Tx) error {
		last, err := tx.OrgLastSeq(ctx, org.ID)
		if err != nil {
			return err
		}
		cfg := chain.VerifierConfig{Org: org.Name, OrgID: org.ID, Keys: opts.Keys, StoredHashes: true, GapAfter: opts.GapAfter}
		from, end := int64(1), last
		if !opts.From.IsZero() {
			c, err := tx.CheckpointBefore(ctx, org.ID, opts.From.Seq, opts.From.Time)
			switch {
			case err == nil:
				a := notary.ChainCheckpoint(c, org.Name)
				cfg.Anchor, from = &a, c.LastSeq+1
			case !errors.Is(err, fault.ErrNotFound):
				return err
			}
		}
		if !opts.To.IsZero() {
			c, err := tx.CheckpointAfter(ctx, org.ID, opts.To.Seq, opts.To.Time)
			switch {
			case err == nil:
				end = min(c.LastSeq, last)
			case !errors.Is(err, fault.ErrNotFound):
				return err
			case opts.To.Seq > 0:
				end = min(opts.To.Seq, last)
			}
		}
		// Without an upper bound, checkpoints past the log's end count too:
		// they vouch for events that are missing.
		// and so do events past it: they were never numbered by the server.
		upTo := int64(math.MaxInt64)
		if !opts.To.IsZero() {
			upTo = end
		}
		cps, err := tx.Checkpoints(ctx, org.ID, from, upTo)
		if err != nil {
			return err
		}
		for _, c := range cps {
			cfg.Checkpoints = append(cfg.Checkpoints, notary.ChainCheckpoint(c, org.Name))
		}
		v := chain.NewVerifier(cfg)
		err = tx.ChainEvents(ctx, org.ID, from, upTo, func(e *storage.ChainEvent) error {
			v.Event(e.Seq, &e.Event, e.Hash)
			return ctx.Err()
		})
		if err != nil {
			return err
		}
		r = v.End(end)
		if err := overdue(ctx, tx, org, r, opts); err != nil {
			return err
		}
		return expectDatabase(ctx, tx, org, r, opts.Expect)
	})
	if err != nil {
		return nil, fmt.Errorf("verify %s: %w", org.Name, err)
	}
	return r, nil
}

// Service verifies organizations for the GraphQL API and records the
// outcome in the metrics.
type Service struct {
	Store *storage.Store
	// Keys are the public keys checkpoints may be signed with; the first is
	// the key the server signs with.
	Keys    []ed25519.PublicKey
	Metrics *metrics.Metrics
	Now     func() time.Time
	// Setup is what the Integrity page shows of the server's configuration.
	Setup Setup
}

// Organization verifies org's chain in the database.
func (s *Service) Organization(ctx context.Context, org entity.Organization, from, to Bound) (*chain.Report, error) {
	// Verifying reads one snapshot of the log: the standby's, if any.
	r, err := Database(entity.ReadStandby(ctx), s.Store, org, Options{From: from, To: to, Keys: s.Keys, GapAfter: DefaultGapAfter})
	if err != nil {
		return nil, err
	}
	if s.Metrics != nil {
		s.Metrics.ChainVerified(org.ID, r.Intact(), s.now())
	}
	return r, nil
}

// Verifiable returns the organization called name if actor may verify its
// audit log: an instance admin, or an admin of it. To anyone who is not a
// member it reads as not found, like an organization that does not exist.
func (s *Service) Verifiable(ctx context.Context, actor entity.User, name string) (entity.Organization, error) {
	hidden := fault.New(fault.ErrNotFound, "no organization called %q", name)
	org, err := s.Store.OrganizationByName(ctx, name)
	if errors.Is(err, fault.ErrNotFound) {
		return org, hidden
	}
	if err != nil {
		return org, err
	}
	if err := access.RequireMember(ctx, s.Store, actor, org); errors.Is(err, access.ErrForbidden) {
		return org, hidden
	} else if err != nil {
		return org, err
	}
	return org, access.RequireOrgAdmin(ctx, s.Store, actor, org)
}
