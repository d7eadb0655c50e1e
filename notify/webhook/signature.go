package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/auditgraph/auditgraph/notify"
)

// Why Verify refuses a request, for errors.Is.
var (
	ErrSignature = errors.New("webhook: no signature matches")
	ErrTimestamp = errors.New("webhook: bad timestamp")
)

// Sign returns the X-Auditgraph-Signature value for a body sent at
// timestamp (Unix seconds, as in X-Auditgraph-Timestamp).
func Sign(secret notify.Secret, timestamp string, body []byte) string {
	return "v1=" + hex.EncodeToString(mac(secret, timestamp, body))
}

func mac(secret notify.Secret, timestamp string, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret.Reveal()))
	h.Write([]byte(timestamp))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a received request: timestamp and signature are the
// X-Auditgraph-Timestamp and X-Auditgraph-Signature headers, body the raw
// body. The signature header may list several comma-separated v1= values (a
// sender rotating its secret); one match is enough. A timestamp further
// than tolerance from now is refused even with a good signature, so a
// captured request cannot be replayed later.
func Verify(secret notify.Secret, timestamp string, body []byte, signature string, now time.Time, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %q is not Unix seconds", ErrTimestamp, timestamp)
	}
	want := mac(secret, timestamp, body)
	matched := false
	for part := range strings.SplitSeq(signature, ",") {
		v, ok := strings.CutPrefix(strings.TrimSpace(part), "v1=")
		if !ok {
			continue
		}
		if got, err := hex.DecodeString(v); err == nil && hmac.Equal(got, want) {
			matched = true
		}
	}
	if !matched {
		return ErrSignature
	}
	if age := now.Sub(time.Unix(ts, 0)); age > tolerance || age < -tolerance {
		return fmt.Errorf("%w: %s off, tolerance %s", ErrTimestamp, age.Abs(), tolerance)
	}
	return nil
}
