package notify

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"
)

func TestCheckStatus(t *testing.T) {
	for _, tc := range []struct {
		code          int
		retry, failed bool
		revoked       bool
	}{
		{code: 200},
		{code: 204},
		{code: 429, retry: true, failed: true},
		{code: 500, retry: true, failed: true},
		{code: 502, retry: true, failed: true},
		{code: 503, retry: true, failed: true},
		{code: 301, failed: true},
		{code: 400, failed: true},
		{code: 401, failed: true},
		{code: 403, failed: true, revoked: true},
		{code: 404, failed: true, revoked: true},
		{code: 410, failed: true, revoked: true},
		{code: 422, failed: true},
	} {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			retry, err := CheckStatus(tc.code, time.Second)
			if retry != tc.retry || (err != nil) != tc.failed || errors.Is(err, ErrRevoked) != tc.revoked {
				t.Errorf("CheckStatus(%d) = %v, %v (revoked %v), want %v, failed %v, revoked %v",
					tc.code, retry, err, errors.Is(err, ErrRevoked), tc.retry, tc.failed, tc.revoked)
			}
			if RetryableStatus(tc.code) != tc.retry {
				t.Errorf("RetryableStatus(%d) = %v, want %v", tc.code, !tc.retry, tc.retry)
			}
			var ra RetryAfterError
			if tc.failed && (!errors.As(err, &ra) || ra.RetryAfter() != map[bool]time.Duration{true: time.Second}[tc.retry]) {
				t.Errorf("CheckStatus(%d, 1s) keeps Retry-After %v, want it only when retrying", tc.code, err)
			}
		})
	}
}

func TestStatusErrorText(t *testing.T) {
	for _, tc := range []struct {
		err  *StatusError
		want string
	}{
		{&StatusError{Code: 410}, "status 410 Gone"},
		{&StatusError{Code: 429, Wait: 2 * time.Second}, "status 429 Too Many Requests (retry after 2s)"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("%#v.Error() = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"2", 2 * time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"0", 0, true},
		{"Sat, 01 Mar 2025 12:00:30 GMT", 30 * time.Second, true},
		{"Saturday, 01-Mar-25 12:01:00 GMT", time.Minute, true},
		{"Sat, 01 Mar 2025 11:00:00 GMT", 0, true}, // in the past: now
		{"", 0, false},
		{"soon", 0, false},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"2s", 0, false},
		{"99999999999", 0, false},
		{"Sat, 01 Mar 2025", 0, false},
	} {
		t.Run(cmp.Or(tc.in, "empty"), func(t *testing.T) {
			got, ok := ParseRetryAfter(tc.in, now)
			if got != tc.want || ok != tc.ok {
				t.Errorf("ParseRetryAfter(%q) = %v, %v, want %v, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestCheckResponse(t *testing.T) {
	date := time.Now().Add(10 * time.Second).UTC().Format(http.TimeFormat)
	for _, tc := range []struct {
		code       int
		retryAfter string
		min, max   time.Duration
	}{
		{429, "2", 2 * time.Second, 2 * time.Second},
		{503, "7", 7 * time.Second, 7 * time.Second},
		{503, date, 8 * time.Second, 10 * time.Second},
		{429, "", 0, 0},
		{429, "garbage", 0, 0},
		{500, "7", 0, 0}, // Retry-After means something only on 429 and 503
		{400, "7", 0, 0},
	} {
		t.Run(fmt.Sprintf("%d retry-after %q", tc.code, tc.retryAfter), func(t *testing.T) {
			resp := &http.Response{StatusCode: tc.code, Header: http.Header{}}
			if tc.retryAfter != "" {
				resp.Header.Set("Retry-After", tc.retryAfter)
			}
			_, err := CheckResponse(resp)
			se, ok := errors.AsType[*StatusError](err)
			if !ok || se.Code != tc.code || se.Wait < tc.min || se.Wait > tc.max {
				t.Errorf("CheckResponse(%d, Retry-After %q) = %v, want status error waiting %v to %v",
					tc.code, tc.retryAfter, err, tc.min, tc.max)
			}
		})
	}
	if retry, err := CheckResponse(&http.Response{StatusCode: 204, Header: http.Header{}}); retry || err != nil {
		t.Errorf("CheckResponse(204) = %v, %v, want false, nil", retry, err)
	}
}
