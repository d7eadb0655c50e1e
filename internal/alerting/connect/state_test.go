package connect

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestStateVerify(t *testing.T) {
	key := bytes.Repeat([]byte{1}, 32)
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	good := state{ID: "abc", OrgID: 2, UserID: 3, Expires: now.Add(StateTTL).Unix(), Browser: browserHash("nonce")}
	signed := sign(key, good)
	payload, sig, _ := strings.Cut(signed, ".")
	// otherOrg keeps good's signature over a payload naming another organization.
	other := good
	other.OrgID = 9
	otherJSON, _ := json.Marshal(other)
	otherOrg := base64.RawURLEncoding.EncodeToString(otherJSON) + "." + sig
	unbound := good
	unbound.Browser = ""

	got, err := verify(key, signed, now.Add(StateTTL-time.Second))
	if err != nil || got != good {
		t.Fatalf("verify(good) = %+v, %v, want %+v", got, err, good)
	}
	for _, tc := range []struct {
		name, raw string
		at        time.Time
		want      string
	}{
		{"missing", "", now, "is missing"},
		{"garbage", "not a state", now, "is malformed"},
		{"no signature", payload, now, "is malformed"},
		{"bad signature encoding", payload + ".!!", now, "is malformed"},
		{"another key", sign(bytes.Repeat([]byte{2}, 32), good), now, "bad signature"},
		{"signature changed", payload + "." + flip(sig), now, "bad signature"},
		{"another organization", otherOrg, now, "bad signature"},
		{"signed garbage", "e30." + base64.RawURLEncoding.EncodeToString(mac(key, "e30")), now, "is malformed"},
		{"not bound to a browser", sign(key, unbound), now, "is malformed"},
		{"expired", signed, now.Add(StateTTL), "has expired"},
		{"long", strings.Repeat("a", 2000) + "." + sig, now, "is malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := verify(key, tc.raw, tc.at)
			var se *StateError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("verify(%s) err = %v, want a StateError with %q", tc.name, err, tc.want)
			}
		})
	}
}

// flip changes the first character of a base64 text.
func flip(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}

func TestStateFromBrowser(t *testing.T) {
	st := state{ID: "abc", OrgID: 2, UserID: 3, Browser: browserHash("n0nce")}
	if err := fromBrowser(st, "n0nce"); err != nil {
		t.Errorf("fromBrowser(its own nonce) = %v", err)
	}
	for _, tc := range []struct{ name, nonce, want string }{
		{"no cookie", "", "not from this browser"},
		{"another install's cookie", "other", "did not start"},
		{"the hash itself", browserHash("n0nce"), "did not start"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var se *StateError
			if err := fromBrowser(st, tc.nonce); !errors.As(err, &se) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("fromBrowser(%s) = %v, want a StateError with %q", tc.name, err, tc.want)
			}
		})
	}
}
