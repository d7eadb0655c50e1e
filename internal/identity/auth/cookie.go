package auth

import (
	"net/http"
	"time"
)

// SessionCookie returns the cookie that carries a sign-in session's token:
// HttpOnly (no script reads it), SameSite=Lax (another site's forms and
// scripts do not send it), Path=/, Secure when the server is reached over
// https. It has no Expires: the browser keeps it until it closes, and the
// server ends the session on its own clock (idle timeout, lifetime).
func SessionCookie(token string, secure bool) *http.Cookie {
	return &http.Cookie{Name: CookieName, Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure}
}

// ClearCookie tells the browser to forget the session cookie.
func ClearCookie(w http.ResponseWriter, secure bool) {
	c := SessionCookie("", secure)
	c.MaxAge = -1 // Max-Age=0
	c.Expires = time.Unix(0, 0)
	http.SetCookie(w, c)
}
