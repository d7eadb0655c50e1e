package notify

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ErrRevoked means the receiver says the integration no longer exists (a
// webhook answering 403, 404 or 410): stop sending to it and mark it revoked.
var ErrRevoked = errors.New("integration revoked")

// RetryableStatus reports whether another attempt can help after an answer
// with this status code: 429 and 5xx.
func RetryableStatus(code int) bool {
	return code == http.StatusTooManyRequests || code >= 500 && code <= 599
}

// RevokedStatus reports whether the status code means the integration is
// gone: 403 (token revoked), 404 (no such hook), 410 (channel archived).
func RevokedStatus(code int) bool {
	return code == http.StatusForbidden || code == http.StatusNotFound || code == http.StatusGone
}

// RetryAfterError is an error that carries how long the receiver asked us to
// wait before the next attempt. Retrier.Deliver waits that long instead of
// its backoff when the duration is positive.
type RetryAfterError interface {
	error
	RetryAfter() time.Duration
}

// StatusError is a receiver's answer other than 2xx.
type StatusError struct {
	Code int
	// Wait is the Retry-After of a 429 or 503; zero when there was none or
	// it did not parse, which leaves the wait to the normal backoff.
	Wait time.Duration
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("status %d %s", e.Code, http.StatusText(e.Code))
	if e.Wait > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.Wait)
	}
	return s
}

// RetryAfter implements RetryAfterError.
func (e *StatusError) RetryAfter() time.Duration { return e.Wait }

// Is makes errors.Is(err, ErrRevoked) true for 403, 404 and 410.
func (e *StatusError) Is(target error) bool {
	return target == ErrRevoked && RevokedStatus(e.Code)
}

// CheckStatus classifies a status code: 2xx is success; 429 and 5xx fail with
// retry; every other code fails for good. retryAfter is kept on the
// *StatusError of a retryable code.
func CheckStatus(code int, retryAfter time.Duration) (retry bool, err error) {
	if code >= 200 && code <= 299 {
		return false, nil
	}
	retry = RetryableStatus(code)
	if !retry {
		retryAfter = 0
	}
	return retry, &StatusError{Code: code, Wait: retryAfter}
}

// CheckResponse classifies resp with CheckStatus, reading the Retry-After of
// a 429 or 503. It does not read or close the body.
func CheckResponse(resp *http.Response) (retry bool, err error) {
	var wait time.Duration
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		wait, _ = ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return CheckStatus(resp.StatusCode, wait)
}

// ParseRetryAfter reads a Retry-After value, either delay seconds or an HTTP
// date, as a wait from now. A date in the past is a wait of zero. ok is
// false when v is empty or neither form.
func ParseRetryAfter(v string, now time.Time) (wait time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		// 32 bits of seconds is 136 years: more is garbage, and would
		// overflow a Duration.
		s, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return 0, false
		}
		return time.Duration(s) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
