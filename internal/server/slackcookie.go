package server

import (
	"errors"
	"net/http"
	"strings"

	"github.com/auditgraph/auditgraph/internal/alerting/connect"
)

// slackInstallCookie holds the nonce that binds a Slack install's state to
// the browser that started it: set by GET /slack/install, sent back only to
// the callback (Path), by the top-level navigation from Slack (SameSite=Lax
// lets that through), never readable by scripts (HttpOnly), and over HTTPS
// only when the server is reached over HTTPS (Secure).
const slackInstallCookie = "auditgraph_slack_install"

// setSlackInstallCookie sets the install cookie holding nonce; serverURL is
// a URL of this server as users reach it (the Slack redirect URL), whose
// scheme says whether the cookie is Secure.
func setSlackInstallCookie(w http.ResponseWriter, serverURL, nonce string) {
	http.SetCookie(w, &http.Cookie{
		Name: slackInstallCookie, Value: nonce, Path: connect.CallbackPath,
		MaxAge: int(connect.StateTTL.Seconds()), HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: strings.HasPrefix(strings.ToLower(serverURL), "https://"),
	})
}

// clearSlackInstallCookie ends the cookie of a finished install.
func clearSlackInstallCookie(w http.ResponseWriter, serverURL string) {
	http.SetCookie(w, &http.Cookie{
		Name: slackInstallCookie, Value: "", Path: connect.CallbackPath, MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: strings.HasPrefix(strings.ToLower(serverURL), "https://"),
	})
}

// slackInstallNonce returns the callback's install cookie, "" when none.
func slackInstallNonce(r *http.Request) string {
	c, err := r.Cookie(slackInstallCookie)
	if err != nil {
		return ""
	}
	return c.Value
}

// installFinished reports whether a callback's outcome ends the install,
// so that its cookie can go: anything but a refused state, which may be
// someone else's link opened in this browser while its own install is
// still under way.
func installFinished(err error) bool {
	var ste *connect.StateError
	return !errors.As(err, &ste)
}
