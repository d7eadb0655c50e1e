package chain

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/auditgraph/auditgraph/audit"
)

// Kind sorts what verification finds, as CloudTrail's validate-logs does.
type Kind string

const (
	// Invalid: something is there but wrong: an event that does not match
	// its hash, a sequence number seen twice, a checkpoint whose signature,
	// link or hash does not hold, or one found at the wrong path.
	Invalid Kind = "INVALID"
	// Missing: something that must exist is not there: events absent from
	// the sequence, or checkpoints absent from the chain of checkpoints.
	Missing Kind = "MISSING"
	// Gap: consecutive checkpoints link correctly but are further apart in
	// time than expected, as when the server was down. Not a failure.
	Gap Kind = "GAP"
)

// Finding is one thing verification found. Seq..LastSeq is the range of
// sequence numbers concerned (Seq is 0 when none is); From and To bound a
// gap.
type Finding struct {
	Kind     Kind
	Seq      int64
	LastSeq  int64
	From, To time.Time
	What     string
}

func (f Finding) String() string {
	switch {
	case f.Kind == Gap:
		return fmt.Sprintf("%s %s .. %s: %s", f.Kind, f.From.UTC().Format(time.RFC3339), f.To.UTC().Format(time.RFC3339), f.What)
	case f.LastSeq > f.Seq:
		return fmt.Sprintf("%s seq %d..%d: %s", f.Kind, f.Seq, f.LastSeq, f.What)
	}
	return fmt.Sprintf("%s seq %d: %s", f.Kind, f.Seq, f.What)
}

// maxFindings bounds how many findings of each kind a report lists; the
// counts go on.
const maxFindings = 1000

// Report is the outcome of verifying one organization's log.
type Report struct {
	Org string
	// FirstSeq and LastSeq bound the events read; Events counts them.
	FirstSeq, LastSeq int64
	Events            int64
	// Unchained counts events stored before the chain existed (a database
	// upgraded from a version without it); the chain starts after them.
	Unchained int64
	// Checkpoints counts the checkpoints checked; Unsigned the events after
	// the last of them, which no checkpoint vouches for yet.
	Checkpoints int
	Unsigned    int64
	// LastCheckpoint is the last sequence number of the newest valid
	// checkpoint, 0 when there is none.
	LastCheckpoint int64

	Invalid, Missing, Gaps               []Finding
	InvalidCount, MissingCount, GapCount int
}

// Intact reports whether nothing invalid or missing was found. Gaps do not
// count against it.
func (r *Report) Intact() bool { return r.InvalidCount == 0 && r.MissingCount == 0 }

// FirstBad returns the lowest sequence number an invalid or missing finding
// names, or 0.
func (r *Report) FirstBad() int64 {
	var first int64
	for _, fs := range [][]Finding{r.Invalid, r.Missing} {
		for _, f := range fs {
			if f.Seq > 0 && (first == 0 || f.Seq < first) {
				first = f.Seq
			}
		}
	}
	return first
}

// Add records a finding.
func (r *Report) Add(f Finding) {
	list, count := &r.Invalid, &r.InvalidCount
	switch f.Kind {
	case Missing:
		list, count = &r.Missing, &r.MissingCount
	case Gap:
		list, count = &r.Gaps, &r.GapCount
	}
	*count++
	if len(*list) < maxFindings {
		*list = append(*list, f)
	}
}

// VerifierConfig says what a Verifier checks against.
type VerifierConfig struct {
	Org   string
	OrgID int64
	// Keys are the public keys checkpoints may be signed with.
	Keys []ed25519.PublicKey
	// Checkpoints are the organization's checkpoints after Anchor, ordered
	// by LastSeq.
	Checkpoints []Checkpoint
	// Anchor, when set, is the checkpoint the events follow: verification
	// starts at its LastSeq+1 from its LastHash. Nil starts at sequence 1.
	Anchor *Checkpoint
	// StoredHashes says the events come with the hash stored beside them
	// (the database); events with none before the first that has one are
	// counted as unchained.
	StoredHashes bool
	// GapAfter is how far apart in time two checkpoints may be before the
	// time between them is reported as a gap; 0 reports none.
	GapAfter time.Duration
}

// Verifier checks a stream of events, in sequence order, against the chain
// rule and the checkpoints. Feed it with Event and finish with End.
type Verifier struct {
	cfg  VerifierConfig
	keys map[string]ed25519.PublicKey
	r    Report
	h    Hasher

	started, chained bool
	chainStart       int64
	next             int64 // the sequence number expected next
	prev             Hash  // the hash of next-1, when linked
	linked           bool
	ci               int // the next checkpoint in cfg.Checkpoints
	last             *Checkpoint
}

// NewVerifier returns a Verifier for one organization.
func NewVerifier(cfg VerifierConfig) *Verifier {
	v := &Verifier{cfg: cfg, keys: map[string]ed25519.PublicKey{}, next: 1, chainStart: 1, linked: true}
	v.r.Org = cfg.Org
	for _, k := range cfg.Keys {
		v.keys[KeyID(k)] = k
	}
	if a := cfg.Anchor; a != nil {
		if v.checkSignature(a) {
			v.next, v.chainStart, v.prev, v.last, v.chained = a.LastSeq+1, a.LastSeq+1, a.LastHash, a, true
			v.r.LastCheckpoint = a.LastSeq
		}
		v.r.Checkpoints++
	}
	return v
}

// Event checks the event with sequence number seq. stored is the hash kept
// with it, nil when the source has none.
func (v *Verifier) Event(seq int64, e *audit.Event, stored []byte) {
	if !v.started {
		v.started = true
		v.r.FirstSeq = seq
	}
	if seq > v.r.LastSeq {
		v.r.LastSeq = seq
	}
	if seq < v.next {
		v.r.Events++
		v.r.Add(Finding{Kind: Invalid, Seq: seq, LastSeq: seq, What: "sequence number appears again or out of order"})
		return
	}
	if v.cfg.StoredHashes && stored == nil && !v.chained {
		v.r.Events++
		v.r.Unchained++
		v.next, v.chainStart = seq+1, seq+1
		return
	}
	v.chained = true
	if seq > v.next {
		v.r.Add(Finding{Kind: Missing, Seq: v.next, LastSeq: seq - 1, What: "events are missing from the sequence"})
		v.linked = false
	}
	// Checkpoints whose last event is among the missing ones cannot be
	// compared; a valid one that ends just before seq anchors it again.
	for v.ci < len(v.cfg.Checkpoints) && v.cfg.Checkpoints[v.ci].LastSeq < seq {
		c := &v.cfg.Checkpoints[v.ci]
		v.ci++
		if v.checkpoint(c, false) && c.LastSeq == seq-1 {
			v.prev, v.linked = c.LastHash, true
		}
	}
	v.next = seq + 1
	v.r.Events++
	switch {
	case !v.linked && stored != nil:
		copy(v.prev[:], stored)
		v.linked = len(stored) == len(v.prev)
	case !v.linked:
	default:
		h := v.h.Next(v.prev, seq, e)
		switch {
		case stored == nil && v.cfg.StoredHashes:
			v.r.Add(Finding{Kind: Invalid, Seq: seq, LastSeq: seq, What: "event has no hash"})
		case stored != nil && !bytes.Equal(h[:], stored):
			v.r.Add(Finding{Kind: Invalid, Seq: seq, LastSeq: seq, What: "event does not match its hash (modified, replaced or reordered)"})
			// Go on from the stored hash, so one bad event is reported once.
			copy(h[:], stored)
		}
		v.prev = h
	}
	if v.ci < len(v.cfg.Checkpoints) && v.cfg.Checkpoints[v.ci].LastSeq == seq {
		c := &v.cfg.Checkpoints[v.ci]
		v.ci++
		if v.checkpoint(c, v.linked) {
			v.prev, v.linked = c.LastHash, true
		}
	}
}

// End finishes verification and returns the report. last is the sequence
// number the log should end at (the database knows it); -1 when unknown.
func (v *Verifier) End(last int64) *Report {
	end := v.next - 1
	if last >= v.next {
		v.r.Add(Finding{Kind: Missing, Seq: v.next, LastSeq: last, What: "events are missing from the end of the log"})
		end = last
	} else if last >= 0 && last < end {
		v.r.Add(Finding{Kind: Invalid, Seq: last + 1, LastSeq: end, What: "events beyond the log's last sequence number"})
	}
	for ; v.ci < len(v.cfg.Checkpoints); v.ci++ {
		c := &v.cfg.Checkpoints[v.ci]
		if c.LastSeq > end {
			v.r.Add(Finding{Kind: Missing, Seq: end + 1, LastSeq: c.LastSeq, What: "events a checkpoint vouches for are missing"})
			end = c.LastSeq
		}
		v.checkpoint(c, false)
	}
	v.r.Unsigned = v.next - v.chainStart
	if v.last != nil {
		v.r.Unsigned = max(0, v.next-1-v.last.LastSeq)
	}
	return &v.r
}

// checkSignature checks c's signature, recording it when invalid.
func (v *Verifier) checkSignature(c *Checkpoint) bool {
	key, ok := v.keys[c.KeyID]
	switch {
	case !ok:
		v.r.Add(Finding{Kind: Invalid, Seq: c.FirstSeq, LastSeq: c.LastSeq, What: fmt.Sprintf("checkpoint is signed with unknown key %q", c.KeyID)})
		return false
	case !c.Verify(key):
		v.r.Add(Finding{Kind: Invalid, Seq: c.FirstSeq, LastSeq: c.LastSeq, What: "checkpoint signature does not verify"})
		return false
	}
	return true
}

// checkpoint checks c: its signature, its organization, its link to the
// previous checkpoint and, when compare is set, that the chain reached its
// LastHash. It reports whether c may anchor the chain.
func (v *Verifier) checkpoint(c *Checkpoint, compare bool) bool {
	v.r.Checkpoints++
	if !v.checkSignature(c) {
		return false // what an unsigned checkpoint says about its links means nothing
	}
	valid := true
	if c.Org != v.cfg.Org || c.OrgID != v.cfg.OrgID {
		v.r.Add(Finding{Kind: Invalid, Seq: c.FirstSeq, LastSeq: c.LastSeq,
			What: fmt.Sprintf("checkpoint belongs to organization %q (id %d)", c.Org, c.OrgID)})
		valid = false
	}
	if p := v.last; p == nil {
		switch {
		case c.FirstSeq > v.chainStart:
			v.r.Add(Finding{Kind: Missing, Seq: v.chainStart, LastSeq: c.FirstSeq - 1, What: "no checkpoint covers these events (checkpoints missing)"})
		case c.FirstSeq < v.chainStart:
			v.r.Add(Finding{Kind: Invalid, Seq: c.FirstSeq, LastSeq: c.LastSeq, What: fmt.Sprintf("checkpoint covers events before the chain's start at %d", v.chainStart)})
		case len(c.PreviousSignature) > 0:
			v.r.Add(Finding{Kind: Invalid, Seq: c.FirstSeq, LastSeq: c.LastSeq, What: "the chain's first checkpoint names a previous checkpoint"})
		}
	} else {
		switch {
		case c.FirstSeq > p.LastSeq+1:
			v.r.Add(Finding{Kind: Missing, Seq: p.LastSeq + 1, LastSeq: c.FirstSeq - 1, What: "no checkpoint covers these events (checkpoints missing)"})
		case c.FirstSeq != p.LastSeq+1:
			v.r.Add(Finding{Kind: Invalid, Seq: c.FirstSeq, LastSeq: c.LastSeq, What: fmt.Sprintf("checkpoint overlaps the previous one, which ends at %d", p.LastSeq)})
		case !bytes.Equal(c.PreviousSignature, p.Signature):
			v.r.Add(Finding{Kind: Invalid, Seq: c.FirstSeq, LastSeq: c.LastSeq, What: "checkpoint does not link to the previous checkpoint's signature"})
		case v.cfg.GapAfter > 0 && c.Time.Sub(p.Time) > v.cfg.GapAfter:
			v.r.Add(Finding{Kind: Gap, Seq: c.FirstSeq, LastSeq: c.LastSeq, From: p.Time, To: c.Time,
				What: "no checkpoint for this long (server down, or no new events); the chain links across it"})
		}
	}
	if compare && valid && v.prev != c.LastHash {
		v.r.Add(Finding{Kind: Invalid, Seq: c.FirstSeq, LastSeq: c.LastSeq, What: "events do not hash to the checkpoint's last_hash (rewritten)"})
	}
	if valid {
		v.last = c
		v.r.LastCheckpoint = c.LastSeq
	}
	return valid
}
