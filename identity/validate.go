package identity

import (
	"net/mail"
	"regexp"
	"slices"
)

// The allowed values of the enumerated fields.
var (
	Plans       = []string{"free", "teams", "enterprise"}
	Roles       = []string{"admin", "member", "viewer"}
	SeatLevels  = []string{"full", "viewer", "none"}
	namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
)

// checkName validates a username, organization or team name.
func checkName(field, v string) error {
	if !namePattern.MatchString(v) {
		return invalid("%s %q: use 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit", field, v)
	}
	return nil
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
