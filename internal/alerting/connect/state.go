package connect

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"
)

// StateTTL is how long an install's state is accepted.
const StateTTL = 10 * time.Minute

// stateKeyPurpose derives the state signing key from the instance key.
const stateKeyPurpose = "slack-oauth-state"

// state is what an install's OAuth state says: which organization the
// install is for, who started it, until when it is valid, an id that makes
// it single-use, and the browser that started it: the hash of the nonce
// that browser holds in its install cookie (the state travels in URLs, so
// it names the nonce without revealing it).
type state struct {
	ID      string `json:"id"`
	OrgID   int64  `json:"org"`
	UserID  int64  `json:"user"`
	Expires int64  `json:"exp"` // Unix seconds
	Browser string `json:"browser"`
}

// StateError is a refused state; the callback answers it with 400 before
// anything is sent to Slack.
type StateError struct{ Reason string }

func (e *StateError) Error() string { return "state " + e.Reason }

func newStateID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// newBrowserNonce returns the secret an install's cookie holds.
func newBrowserNonce() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// browserHash is how a state names a browser nonce.
func browserHash(nonce string) string {
	h := sha256.Sum256([]byte(nonce))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// fromBrowser checks that nonce, the callback's install cookie, is the one
// st was issued with: the install is finished in the browser that started
// it, so that a leaked install link cannot be finished elsewhere (with
// another Slack workspace), nor a victim's browser be made to finish an
// install someone else started.
func fromBrowser(st state, nonce string) error {
	if nonce == "" {
		return &StateError{"is not from this browser: the install must be finished in the browser that started it, " +
			"and this one holds no install cookie (cookies blocked, or the link came from elsewhere); start the install again from auditgraph"}
	}
	if !hmac.Equal([]byte(browserHash(nonce)), []byte(st.Browser)) {
		return &StateError{"belongs to an install this browser did not start (or it started another one since): start the install again from auditgraph"}
	}
	return nil
}

// sign returns st as base64url(JSON) "." base64url(HMAC-SHA256(key, first part)).
func sign(key []byte, st state) string {
	payload, _ := json.Marshal(st)
	p := base64.RawURLEncoding.EncodeToString(payload)
	return p + "." + base64.RawURLEncoding.EncodeToString(mac(key, p))
}

func mac(key []byte, payload string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// verify checks raw's signature and expiry at now; it does not look at
// whether the state was used.
func verify(key []byte, raw string, now time.Time) (state, error) {
	var st state
	if raw == "" {
		return st, &StateError{"is missing: start the install again from auditgraph"}
	}
	p, sig, ok := strings.Cut(raw, ".")
	gotMAC, err := base64.RawURLEncoding.DecodeString(sig)
	if !ok || err != nil || len(raw) > 1024 {
		return st, &StateError{"is malformed"}
	}
	if !hmac.Equal(gotMAC, mac(key, p)) {
		return st, &StateError{"has a bad signature: it was not issued by this server"}
	}
	payload, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil || json.Unmarshal(payload, &st) != nil || st.ID == "" || st.OrgID == 0 || st.UserID == 0 || st.Browser == "" {
		return st, &StateError{"is malformed"}
	}
	if !now.Before(time.Unix(st.Expires, 0)) {
		return st, &StateError{"has expired (an install link is valid for 10 minutes): start the install again"}
	}
	return st, nil
}
