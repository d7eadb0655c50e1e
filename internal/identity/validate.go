package identity

import (
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
)

// The allowed values of the enumerated fields.
var (
	Plans       = []string{"free", "teams", "enterprise"}
	Roles       = []string{"admin", "member", "viewer"}
	SeatLevels  = []string{"full", "viewer", "none"}
	namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
)

// CheckName validates a username, organization or team name, as given to
// create one or to name one that exists: the database holds no other, so a
// lookup of anything else can be refused before it is made. field names the
// value in the error, which wraps ErrInvalid.
func CheckName(field, v string) error {
	if !namePattern.MatchString(v) {
		return invalid("%s %s: use 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit", field, quoteShort(v))
	}
	return nil
}

// quoteShort quotes v for an error message, cut to its first 64 bytes: a
// name longer than that is wrong whatever it holds.
func quoteShort(v string) string {
	const keep = 64
	if len(v) <= keep {
		return strconv.Quote(v)
	}
	return fmt.Sprintf("%q… (%d bytes)", v[:keep], len(v))
}

func checkEmail(v string) error {
	a, err := mail.ParseAddress(v)
	if err != nil || a.Address != v {
		return invalid("email %q is not an email address", v)
	}
	return nil
}

func checkOneOf(field, v string, allowed []string) error {
	if !slices.Contains(allowed, v) {
		return invalid("%s %q: want one of %v", field, v, allowed)
	}
	return nil
}

// orDefault returns v, or def when v is empty.
func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
