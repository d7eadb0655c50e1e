package resolvers

import (
	"encoding/base64"
	"time"

	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/auditgraph/auditgraph/chain"
	"github.com/auditgraph/auditgraph/graph/model"
	"github.com/auditgraph/auditgraph/internal/identity"
	"github.com/auditgraph/auditgraph/internal/log/verify"
)

// oneVerification claims org's verification slot, or refuses with
// TOO_MANY_REQUESTS while another verification of it runs: each one reads
// the whole log, and a second at the same time, from this request (an
// alias) or another, would only repeat the work. release frees the slot.
func (r *Resolver) oneVerification(org identity.Organization) (release func(), err error) {
	if _, running := r.verifying.LoadOrStore(org.ID, struct{}{}); running {
		err := gqlerror.Errorf("the audit log of organization %q is being verified already: try again when that verification has finished", org.Name)
		err.Extensions = map[string]any{"code": "TOO_MANY_REQUESTS"}
		return nil, err
	}
	return func() { r.verifying.Delete(org.ID) }, nil
}

func verifyRange(from, to *int) (verify.Bound, verify.Bound, error) {
	var f, t verify.Bound
	for _, b := range []struct {
		name string
		v    *int
		dst  *verify.Bound
	}{{"from", from, &f}, {"to", to, &t}} {
		if b.v == nil {
			continue
		}
		if *b.v < 1 {
			return f, t, gqlerror.Errorf("%s must be a sequence number (1 or more), got %d", b.name, *b.v)
		}
		b.dst.Seq = int64(*b.v)
	}
	return f, t, nil
}

func chainVerification(r *chain.Report, at time.Time) *model.ChainVerification {
	v := &model.ChainVerification{
		Organization: r.Org, Intact: r.Intact(), FirstSequence: int(r.FirstSeq), LastSequence: int(r.LastSeq),
		Events: int(r.Events), Checkpoints: r.Checkpoints, Unsigned: int(r.Unsigned), Unchained: int(r.Unchained),
		Invalid: chainFindings(r.Invalid), Missing: chainFindings(r.Missing), Gaps: chainFindings(r.Gaps),
		InvalidCount: r.InvalidCount, MissingCount: r.MissingCount, GapCount: r.GapCount, VerifiedAt: at,
	}
	if !v.Intact {
		n := int(r.FirstBad())
		v.FirstBadSequence = &n
	}
	return v
}

func chainFindings(fs []chain.Finding) []model.ChainFinding {
	out := make([]model.ChainFinding, len(fs))
	for i, f := range fs {
		out[i] = model.ChainFinding{Kind: model.ChainFindingKind(f.Kind), Description: f.What}
		if f.Seq > 0 {
			first, last := int(f.Seq), int(f.LastSeq)
			out[i].FirstSequence, out[i].LastSequence = &first, &last
		}
		if f.Kind == chain.Gap {
			from, to := f.From, f.To
			out[i].From, out[i].To = &from, &to
		}
	}
	return out
}

func auditLogIntegrity(in verify.Integrity, now time.Time) *model.AuditLogIntegrity {
	out := &model.AuditLogIntegrity{
		Organization: in.Org.Name, LastSequence: int(in.LastSeq), NotCheckpointed: int(in.NotCheckpointed),
		CheckpointsSigned: in.Key != nil,
		Retention:         &model.Retention{Setting: in.Retention.String(), Hipaa: in.HIPAA},
	}
	if in.Key != nil {
		out.SigningKey = &model.SigningKey{KeyID: chain.KeyID(in.Key), PublicKey: base64.StdEncoding.EncodeToString(in.Key)}
		out.VerifyCommand = &in.Command
	}
	if c := in.Checkpoint; c != nil {
		out.LatestCheckpoint = &model.Checkpoint{FirstSequence: int(c.FirstSeq), LastSequence: int(c.LastSeq), SignedAt: c.CreatedAt.UTC(), KeyID: c.KeyID}
	}
	if in.CheckpointInterval > 0 {
		s := int(in.CheckpointInterval / time.Second)
		out.CheckpointIntervalSeconds = &s
	}
	if !in.Retention.Forever() {
		cutoff := in.Retention.Cutoff(now)
		out.Retention.Cutoff = &cutoff
	}
	if in.RetentionFloor != "" {
		f := in.RetentionFloor
		out.Retention.Floor = &f
	}
	if s := in.Sync; s != nil {
		out.BucketSync = &model.BucketSyncStatus{SyncedSequence: int(s.SyncedSeq), LagEvents: int(s.Events),
			LagSeconds: int(s.Lag / time.Second), IntervalSeconds: int(s.Interval / time.Second), Stalled: s.Stalled}
		if !s.LastSuccess.IsZero() {
			t := s.LastSuccess.UTC()
			out.BucketSync.LastSuccess = &t
		}
	}
	return out
}
