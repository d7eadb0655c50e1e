package notify

import (
	"errors"
	"log/slog"
	"net/url"
)

// Redacted is what every printed form of a Secret, and of a URL cut by
// RedactURL, shows instead of the value.
const Redacted = "<redacted>"

// Secret holds a webhook URL, token or signing secret. fmt, slog, encoding/json
// and encoding/text all print it as "<redacted>" ("" when unset); only Reveal
// gives the value, for the one place that sends it.
//
// It is a struct around a pointer rather than a string type: fmt does not call
// String on unexported struct fields, so a Secret string inside some
// notifier's unexported field would print in full under %v; a pointer prints
// as an address.
type Secret struct{ v *string }

// NewSecret wraps s; an empty s gives the unset Secret.
func NewSecret(s string) Secret {
	if s == "" {
		return Secret{}
	}
	return Secret{&s}
}

// Reveal returns the value. Call it only to use the secret, never to print it.
func (s Secret) Reveal() string {
	if s.v == nil {
		return ""
	}
	return *s.v
}

// IsZero reports whether the secret is unset.
func (s Secret) IsZero() bool { return s.v == nil }

func (s Secret) String() string {
	if s.IsZero() {
		return ""
	}
	return Redacted
}

// GoString covers %#v.
func (s Secret) GoString() string { return `notify.Secret("` + s.String() + `")` }

// LogValue covers every slog handler.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON covers encoding/json, including API answers built from a
// configuration struct by mistake.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// MarshalText covers encoders that use encoding.TextMarshaler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// RedactURL returns raw cut to its scheme and host (a Slack webhook's token,
// like most receivers' secrets, is in the path or query), or "<redacted>" when
// raw does not parse as an absolute URL.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return Redacted
	}
	return u.Scheme + "://" + u.Host
}

// RedactURLError returns err's *url.Error, as net/http returns it for a
// request that got no answer, with the URL cut by RedactURL. Text wrapped
// around it is dropped because it may repeat the URL; the cause (a timeout, a
// refused connection, a TLS failure) is kept for errors.Is and errors.As. An
// err without a *url.Error is returned as it is.
func RedactURLError(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	return &url.Error{Op: ue.Op, URL: RedactURL(ue.URL), Err: ue.Err}
}
