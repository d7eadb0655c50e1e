package notify

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// NewHTTPClient returns the client plugins use unless given another: every
// attempt ends after timeout, and redirects are not followed: an alert goes
// only to the host the integration names, and a 3xx answer fails like any
// other 4xx (the configuration is wrong; retrying cannot help).
func NewHTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// ValidateURL checks that u is an absolute http or https URL. Its errors
// never quote u: url.Parse's would.
func ValidateURL(u Secret) error {
	if u.IsZero() {
		return errors.New("URL is empty")
	}
	p, err := url.Parse(u.Reveal())
	switch {
	case err != nil:
		return errors.New("URL does not parse")
	case p.Scheme != "http" && p.Scheme != "https":
		return fmt.Errorf("URL scheme %q is not http or https", p.Scheme)
	case p.Host == "":
		return errors.New("URL has no host")
	}
	return nil
}
