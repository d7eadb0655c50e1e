// Package chain makes the audit log tamper-evident. Each organization's
// events form a hash chain, hash(n) = SHA-256(hash(n-1) || canon(event n))
// with hash(0) all zeros, and signed checkpoints vouch for the chain's head
// from time to time. The package holds the rules only: the canonical
// encoding, the checkpoint format and its signature, and the verification of
// a stream of events against checkpoints. Where the events come from is the
// caller's business.
package chain

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/auditgraph/auditgraph/audit"
)

// Hash is the chain hash of one event.
type Hash [sha256.Size]byte

// Genesis is the hash before an organization's first chained event.
var Genesis Hash

func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// TimeFormat is how the canonical encoding writes an event's timestamp: UTC
// with exactly six fractional digits, the precision PostgreSQL keeps.
const TimeFormat = "2006-01-02T15:04:05.000000Z"

// Time returns t as it is stored and hashed: in UTC, truncated to the
// microsecond. Events must be stored with this value, or the database would
// round what the hash truncated.
func Time(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// AppendCanon appends canon(e) for sequence number seq to b: the decimal
// sequence number, a newline, then e's documented keys that have values as a
// compact JSON object in alphabetical key order (audit.Keys), strings
// escaped by audit.AppendString, response_code an integer and timestamp in
// TimeFormat. It is audit.Event.Fields written without allocating: the walk
// over audit.Specs unrolled, because this encoding is frozen and hashing is
// ingest's hot path. TestAppendObjectFollowsSpecs holds it to the list.
func AppendCanon(b []byte, seq int64, e *audit.Event) []byte {
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, '\n')
	return AppendObject(b, e)
}

// AppendObject appends the JSON object part of canon(e) to b. It is also
// the line a bucket's export holds for e, so that the chain can be
// recomputed from the files alone.
func AppendObject(b []byte, e *audit.Event) []byte {
	b = append(b, '{')
	start := len(b)
	b = appendText(b, start, audit.KeyAction, string(e.Action))
	b = appendText(b, start, audit.KeyActorEmail, e.ActorEmail)
	b = appendText(b, start, audit.KeyActorIP, e.ActorIP)
	b = appendText(b, start, audit.KeyActorUserID, e.ActorUserID)
	b = appendText(b, start, audit.KeyArtifactAsset, e.ArtifactAsset)
	b = appendText(b, start, audit.KeyArtifactDigest, e.ArtifactDigest)
	b = appendText(b, start, audit.KeyArtifactQualifiedName, e.ArtifactQualifiedName)
	b = appendText(b, start, audit.KeyArtifactSequenceAsset, e.ArtifactSequenceAsset)
	b = appendText(b, start, audit.KeyCLIVersion, e.CLIVersion)
	b = appendText(b, start, audit.KeyEntityAsset, e.EntityAsset)
	b = appendText(b, start, audit.KeyEntityName, e.EntityName)
	b = appendText(b, start, audit.KeyProjectAsset, e.ProjectAsset)
	b = appendText(b, start, audit.KeyProjectName, e.ProjectName)
	b = appendText(b, start, audit.KeyReportAsset, e.ReportAsset)
	b = appendText(b, start, audit.KeyReportName, e.ReportName)
	if e.ResponseCode != 0 {
		b = appendKey(b, start, audit.KeyResponseCode)
		b = strconv.AppendInt(b, int64(e.ResponseCode), 10)
	}
	if !e.Timestamp.IsZero() {
		b = appendKey(b, start, audit.KeyTimestamp)
		b = append(b, '"')
		b = appendTime(b, e.Timestamp)
		b = append(b, '"')
	}
	b = appendText(b, start, audit.KeyUserAsset, e.UserAsset)
	b = appendText(b, start, audit.KeyUserEmail, e.UserEmail)
	return append(b, '}')
}

func appendText(b []byte, start int, k audit.Key, v string) []byte {
	if v == "" {
		return b
	}
	return audit.AppendString(appendKey(b, start, k), v)
}

// appendKey writes `"k":`, after a comma unless it is the object's first key.
func appendKey(b []byte, start int, k audit.Key) []byte {
	if len(b) > start {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, k...)
	return append(b, '"', ':')
}

// appendTime writes t in TimeFormat several times faster than
// time.AppendFormat, which matters at ingest.
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		return t.AppendFormat(b, TimeFormat)
	}
	h, mi, s := t.Clock()
	b = appendDigits(b, y, 4)
	b = appendDigits(append(b, '-'), int(mo), 2)
	b = appendDigits(append(b, '-'), d, 2)
	b = appendDigits(append(b, 'T'), h, 2)
	b = appendDigits(append(b, ':'), mi, 2)
	b = appendDigits(append(b, ':'), s, 2)
	b = appendDigits(append(b, '.'), t.Nanosecond()/1000, 6)
	return append(b, 'Z')
}

// appendDigits writes v, which is not negative, as exactly n (at most 6)
// decimal digits.
func appendDigits(b []byte, v, n int) []byte {
	var d [6]byte
	for i := n - 1; i >= 0; i-- {
		d[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, d[:n]...)
}

// Hasher computes chain hashes, reusing one buffer so that hashing an event
// does not allocate. The zero value is ready to use; it is not safe for
// concurrent use.
type Hasher struct{ buf []byte }

// Next returns the hash of event e with sequence number seq whose
// predecessor's hash is prev.
func (h *Hasher) Next(prev Hash, seq int64, e *audit.Event) Hash {
	h.buf = append(h.buf[:0], prev[:]...)
	h.buf = AppendCanon(h.buf, seq, e)
	return sha256.Sum256(h.buf)
}
