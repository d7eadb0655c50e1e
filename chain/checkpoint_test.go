package chain_test

import (
	"bytes"
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/chain"
)

var signer = ed25519.NewKeyFromSeed([]byte("auditgraph-chain-test-key-seed!!"))

func TestCheckpointRoundTrip(t *testing.T) {
	c := chain.Checkpoint{Org: "default", OrgID: 1, FirstSeq: 1, LastSeq: 42, LastHash: chain.Hash{0xab, 0xcd},
		Time: time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC), PreviousSignature: []byte{1, 2, 3}}
	c.Sign(signer)
	raw, err := c.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"version":1,"org":"default","org_id":1,"first_seq":1,"last_seq":42,"last_hash":"abcd` + strings.Repeat("0", 60) +
		`","time":"2026-01-02T03:04:05.123456Z","previous_signature":"AQID","key_id":"` + c.KeyID + `"}`
	if got := string(c.SigningInput()); got != want {
		t.Fatalf("SigningInput() =\n%s\nwant\n%s", got, want)
	}
	if !bytes.HasPrefix(raw, []byte(want[:len(want)-1]+`,"signature":"`)) {
		t.Fatalf("MarshalJSON() = %s, want the signing input with the signature last", raw)
	}
	p, err := chain.ParseCheckpoint(raw)
	if err != nil {
		t.Fatal(err)
	}
	pub := signer.Public().(ed25519.PublicKey)
	if !p.Verify(pub) || p.KeyID != chain.KeyID(pub) || p.LastSeq != 42 || !p.Time.Equal(c.Time) {
		t.Fatalf("ParseCheckpoint(MarshalJSON()) = %+v, want the same, verifying", p)
	}
	p.LastSeq = 43
	if p.Verify(pub) {
		t.Fatal("a changed checkpoint still verifies")
	}
}

func TestParseCheckpointErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{`, "checkpoint: unexpected end"},
		{`{"version":2}`, "version 2, want 1"},
		{`{"version":1,"last_hash":"xyz"}`, `last_hash "xyz" is not 32 hex bytes`},
		{`{"version":1,"last_hash":"` + strings.Repeat("0", 64) + `","time":"2026-01-02T03:04:05Z"}`, "time \"2026-01-02T03:04:05Z\": want the form"},
		{`{"version":1,"last_hash":"` + strings.Repeat("0", 64) + `","time":"2026-01-02T03:04:05.000000Z","previous_signature":"!"}`, "previous_signature is not base64"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			if _, err := chain.ParseCheckpoint([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseCheckpoint(%s) = %v, want an error containing %q", tc.in, err, tc.want)
			}
		})
	}
}
