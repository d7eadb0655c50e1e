package chain

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// CheckpointVersion is the format version a checkpoint carries.
const CheckpointVersion = 1

// Checkpoint vouches, with its signature, that an organization's chain had
// hash LastHash at sequence number LastSeq, and that it follows the
// checkpoint whose signature is PreviousSignature (empty for the first).
type Checkpoint struct {
	Org               string
	OrgID             int64
	FirstSeq, LastSeq int64
	LastHash          Hash
	Time              time.Time
	PreviousSignature []byte
	KeyID             string
	Signature         []byte
}

// SigningInput returns the bytes the signature covers: the checkpoint's JSON
// object without its signature, compact, keys in this fixed order:
//
//	{"version":1,"org":"default","org_id":1,"first_seq":1,"last_seq":42,
//	 "last_hash":"<64 hex digits>","time":"2026-01-02T03:04:05.000000Z",
//	 "previous_signature":"<base64, empty for the first>","key_id":"<16 hex digits>"}
//
// Every value is plain ASCII that needs no escaping (organization names are
// letters, digits, '_', '.' and '-'), so anyone can rebuild it.
func (c *Checkpoint) SigningInput() []byte {
	b := make([]byte, 0, 320)
	b = append(b, `{"version":`...)
	b = strconv.AppendInt(b, CheckpointVersion, 10)
	b = append(b, `,"org":"`...)
	b = append(b, c.Org...)
	b = append(b, `","org_id":`...)
	b = strconv.AppendInt(b, c.OrgID, 10)
	b = append(b, `,"first_seq":`...)
	b = strconv.AppendInt(b, c.FirstSeq, 10)
	b = append(b, `,"last_seq":`...)
	b = strconv.AppendInt(b, c.LastSeq, 10)
	b = append(b, `,"last_hash":"`...)
	b = hex.AppendEncode(b, c.LastHash[:])
	b = append(b, `","time":"`...)
	b = c.Time.UTC().AppendFormat(b, TimeFormat)
	b = append(b, `","previous_signature":"`...)
	b = base64.StdEncoding.AppendEncode(b, c.PreviousSignature)
	b = append(b, `","key_id":"`...)
	b = append(b, c.KeyID...)
	return append(b, `"}`...)
}

// Sign fills in the key id and signature. Time is kept to the microsecond,
// the precision the database and TimeFormat keep.
func (c *Checkpoint) Sign(key ed25519.PrivateKey) {
	c.Time = Time(c.Time)
	c.KeyID = KeyID(key.Public().(ed25519.PublicKey))
	c.Signature = ed25519.Sign(key, c.SigningInput())
}

// Verify reports whether the checkpoint is signed by pub.
func (c *Checkpoint) Verify(pub ed25519.PublicKey) bool {
	return len(c.Signature) == ed25519.SignatureSize && ed25519.Verify(pub, c.SigningInput(), c.Signature)
}

// MarshalJSON writes the signing input with "signature" (base64) as its
// last key: the file a bucket holds.
func (c *Checkpoint) MarshalJSON() ([]byte, error) {
	b := c.SigningInput()
	b = append(b[:len(b)-1], `,"signature":"`...)
	b = base64.StdEncoding.AppendEncode(b, c.Signature)
	return append(b, `"}`...), nil
}

type checkpointJSON struct {
	Version           int    `json:"version"`
	Org               string `json:"org"`
	OrgID             int64  `json:"org_id"`
	FirstSeq          int64  `json:"first_seq"`
	LastSeq           int64  `json:"last_seq"`
	LastHash          string `json:"last_hash"`
	Time              string `json:"time"`
	PreviousSignature string `json:"previous_signature"`
	KeyID             string `json:"key_id"`
	Signature         string `json:"signature"`
}

// ParseCheckpoint reads a checkpoint's JSON. It checks the form only; Verify
// checks the signature.
func ParseCheckpoint(data []byte) (Checkpoint, error) {
	var j checkpointJSON
	var c Checkpoint
	if err := json.Unmarshal(data, &j); err != nil {
		return c, fmt.Errorf("checkpoint: %w", err)
	}
	if j.Version != CheckpointVersion {
		return c, fmt.Errorf("checkpoint: version %d, want %d", j.Version, CheckpointVersion)
	}
	h, err := hex.DecodeString(j.LastHash)
	if err != nil || len(h) != len(c.LastHash) {
		return c, fmt.Errorf("checkpoint: last_hash %q is not %d hex bytes", j.LastHash, len(c.LastHash))
	}
	t, err := time.Parse(TimeFormat, j.Time)
	if err != nil {
		return c, fmt.Errorf("checkpoint: time %q: want the form %s", j.Time, TimeFormat)
	}
	prev, err := base64.StdEncoding.DecodeString(j.PreviousSignature)
	if err != nil {
		return c, errors.New("checkpoint: previous_signature is not base64")
	}
	sig, err := base64.StdEncoding.DecodeString(j.Signature)
	if err != nil {
		return c, errors.New("checkpoint: signature is not base64")
	}
	c = Checkpoint{Org: j.Org, OrgID: j.OrgID, FirstSeq: j.FirstSeq, LastSeq: j.LastSeq, Time: t,
		PreviousSignature: prev, KeyID: j.KeyID, Signature: sig}
	copy(c.LastHash[:], h)
	return c, nil
}

// KeyID names a public key: the first 8 bytes of its SHA-256, in hex.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}
