package connect

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/auditgraph/auditgraph/internal/alerting/secretbox"
	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/identity/access"
	"github.com/auditgraph/auditgraph/internal/platform/fault"
	"github.com/auditgraph/auditgraph/notify"
	"github.com/auditgraph/auditgraph/notify/integration"
	"github.com/auditgraph/auditgraph/storage"
)

// slackScope is the only permission the install asks for: an incoming
// webhook into the channel the installing user picks.
const slackScope = "incoming-webhook"

// InstallPath is where a browser starts an install: GET InstallPath?org=NAME
// with credentials sets the install cookie and redirects to Slack.
const InstallPath = "/slack/install"

// InstallURL returns the Slack authorize URL that installs the Slack app
// into a channel for org, with a signed, single-use state valid for
// StateTTL, and the nonce that binds the state to the browser: the caller
// sets it as the install cookie of the browser it redirects. The org's
// admins and instance admins only.
func (s *Service) InstallURL(ctx context.Context, actor entity.User, org entity.Organization) (authorizeURL, nonce string, err error) {
	box, app, err := s.mayInstall(ctx, actor, org)
	if err != nil {
		return "", "", err
	}
	nonce = newBrowserNonce()
	st := state{ID: newStateID(), OrgID: org.ID, UserID: actor.ID, Expires: s.cfg.Now().Add(StateTTL).Unix(), Browser: browserHash(nonce)}
	q := url.Values{
		"client_id":    {app.ClientID},
		"scope":        {slackScope},
		"redirect_uri": {s.RedirectURL()},
		"state":        {sign(box.Derive(stateKeyPurpose), st)},
	}
	return s.cfg.SlackAuthorizeURL + "?" + q.Encode(), nonce, nil
}

// InstallLink returns the URL on this server that starts an install of org
// in the browser sent there (InstallPath?org=NAME), after the checks
// InstallURL makes. It is what an API can hand a frontend: an API answer
// cannot set the browser's install cookie, and the link carries no
// authority of its own (it asks the browser for credentials).
// The organization is the one called orgName, or actor's API organization
// when orgName is nil.
func (s *Service) InstallLink(ctx context.Context, actor entity.User, orgName *string) (string, error) {
	var org entity.Organization
	var err error
	if orgName == nil {
		org, err = access.APIOrg(ctx, s.cfg.Store, actor)
	} else {
		org, err = access.AdminOrg(ctx, s.cfg.Store, actor, *orgName)
	}
	if err != nil {
		return "", err
	}
	if _, _, err := s.mayInstall(ctx, actor, org); err != nil {
		return "", err
	}
	return strings.TrimSuffix(s.cfg.PublicURL, "/") + InstallPath + "?" + url.Values{"org": {org.Name}}.Encode(), nil
}

// mayInstall checks that actor may install Slack for org and that the
// server can: the instance key and a registered Slack app.
func (s *Service) mayInstall(ctx context.Context, actor entity.User, org entity.Organization) (*secretbox.Box, storage.SlackApp, error) {
	if err := access.RequireOrgAdmin(ctx, s.cfg.Store, actor, org); err != nil {
		return nil, storage.SlackApp{}, err
	}
	box, err := s.box()
	if err != nil {
		return nil, storage.SlackApp{}, err
	}
	app, err := s.cfg.Store.SlackApp(ctx)
	if errors.Is(err, fault.ErrNotFound) {
		return nil, app, ErrNotConfigured
	}
	return box, app, err
}

// SlackError is Slack's refusal of an install, or a failure to reach Slack.
// Code is Slack's error code (such as invalid_code), empty when Slack could
// not be reached.
type SlackError struct {
	Code   string
	Status int // the HTTP status the callback answers with
}

func (e *SlackError) Error() string {
	if e.Code == "" {
		return "Slack could not be reached to finish the install"
	}
	return "Slack refused the install: " + e.Code
}

// Hint says what to do about a Slack error, for the page the user sees.
func (e *SlackError) Hint(redirectURL string) string {
	switch e.Code {
	case "access_denied":
		return "The install was cancelled in Slack. Nothing was connected."
	case "invalid_code", "code_already_used", "code_expired":
		return "The authorization code from Slack is not valid any more. Start the install again."
	case "bad_redirect_uri", "invalid_redirect_uri":
		return "The Slack app's Redirect URL (OAuth & Permissions) must include " + redirectURL + "."
	case "bad_client_secret", "invalid_client_id", "invalid_client":
		return "The Slack app's client ID or client secret stored in the system settings is wrong: an instance admin stores them again."
	case "":
		return "Try again later; if it keeps failing, the server's administrator finds the cause in its log."
	}
	return "Start the install again; if it keeps failing, ask the server's administrator."
}

// slackErrorStatus is 400 when the user's request can no longer succeed and
// 502 when Slack refused the server's own configuration.
func slackErrorStatus(code string) int {
	switch code {
	case "access_denied", "invalid_code", "code_already_used", "code_expired", "invalid_grant_type":
		return http.StatusBadRequest
	}
	return http.StatusBadGateway
}

// Installed is the result of a finished install.
type Installed struct {
	Org         entity.Organization
	Integration entity.Integration
}

// Callback finishes an install from the query of Slack's redirect and the
// nonce of the browser's install cookie ("" when it has none): it checks
// the state (signature, expiry, the browser, single use) and the installing
// user's rights before anything is sent to Slack, exchanges the code for
// the incoming webhook, and stores it sealed with a config change record.
// A state refused for its browser is not used up.
func (s *Service) Callback(ctx context.Context, q url.Values, browserNonce string) (Installed, error) {
	var out Installed
	box, err := s.box()
	if err != nil {
		return out, err
	}
	now := s.cfg.Now()
	st, err := verify(box.Derive(stateKeyPurpose), q.Get("state"), now)
	if err != nil {
		return out, err
	}
	if err := fromBrowser(st, browserNonce); err != nil {
		return out, err
	}
	err = s.cfg.Store.InTx(ctx, func(tx *storage.Tx) error {
		return tx.UseOAuthState(ctx, st.ID, time.Unix(st.Expires, 0), now)
	})
	if errors.Is(err, fault.ErrConflict) {
		return out, &StateError{"was used already: an install link works once, start the install again"}
	}
	if err != nil {
		return out, err
	}
	actor, org, err := s.installer(ctx, st)
	if err != nil {
		return out, err
	}
	out.Org = org
	if code := q.Get("error"); code != "" {
		return out, &SlackError{Code: code, Status: slackErrorStatus(code)}
	}
	code := q.Get("code")
	if code == "" {
		return out, invalid("code is missing from Slack's redirect")
	}
	clientID, secret, err := s.clientCredentials(ctx)
	if err != nil {
		return out, err
	}
	resp, err := slack.GetOAuthV2ResponseContext(ctx, s.cfg.HTTPClient, clientID, secret, code, s.RedirectURL(),
		slack.OAuthOptionAPIURL(s.cfg.SlackAPIURL))
	if err != nil {
		var se slack.SlackErrorResponse
		if errors.As(err, &se) {
			return out, &SlackError{Code: se.Err, Status: slackErrorStatus(se.Err)}
		}
		// slack-go's errors name the API URL and the HTTP status, never
		// the form it posted (client secret and code).
		s.cfg.Log.ErrorContext(ctx, "Slack OAuth exchange failed", "org", org.Name, "err", err)
		return out, &SlackError{Status: http.StatusBadGateway}
	}
	hook := resp.IncomingWebhook
	name := integrationName(hook.Channel, resp.Team.Name)
	cfg := integration.Config{Name: name, Kind: integration.Slack, URL: notify.NewSecret(hook.URL)}
	if err := cfg.Validate(); err != nil {
		s.cfg.Log.ErrorContext(ctx, "Slack OAuth answer has no usable incoming webhook", "org", org.Name, "err", err)
		return out, &SlackError{Code: "no_incoming_webhook", Status: http.StatusBadGateway}
	}
	sealedURL, _ := integration.Seal(box, cfg)
	err = s.cfg.Store.InTx(ctx, func(tx *storage.Tx) error {
		if err := replace(ctx, tx, actor, org, name); err != nil {
			return err
		}
		in, err := tx.CreateIntegration(ctx, entity.Integration{OrgID: org.ID, Name: name, Kind: string(integration.Slack),
			URLSealed: sealedURL, SlackChannel: hook.Channel, SlackChannelID: hook.ChannelID,
			SlackTeam: resp.Team.Name, SlackTeamID: resp.Team.ID, CreatedBy: &actor.ID})
		if err != nil {
			return err
		}
		out.Integration = in
		return tx.RecordConfigChange(ctx, change(actor, &org.ID, entity.ChangeIntegrationConnect, name))
	})
	return out, err
}

// installer returns the user and organization a verified state names, after
// checking that the user may still administer the organization.
func (s *Service) installer(ctx context.Context, st state) (entity.User, entity.Organization, error) {
	org, err := s.cfg.Store.Organization(ctx, st.OrgID)
	if errors.Is(err, fault.ErrNotFound) {
		return entity.User{}, org, &StateError{"names an organization that does not exist"}
	}
	if err != nil {
		return entity.User{}, org, err
	}
	actor, err := s.cfg.Store.User(ctx, st.UserID)
	if errors.Is(err, fault.ErrNotFound) {
		return actor, org, &StateError{"names a user that does not exist"}
	}
	if err != nil {
		return actor, org, err
	}
	if actor.Deactivated() {
		return actor, org, access.Forbidden("%s is deactivated", actor.Username)
	}
	return actor, org, access.RequireOrgAdmin(ctx, s.cfg.Store, actor, org)
}

// integrationName names a Slack integration after its channel and
// workspace, within the 100 characters the store allows.
func integrationName(channel, team string) string {
	name := []rune(fmt.Sprintf("%s (%s)", channel, team))
	if len(name) > 100 {
		name = name[:100]
	}
	return string(name)
}

// replace disconnects the organization's integration in use called name, if
// any: installing the same channel again replaces the old webhook.
func replace(ctx context.Context, tx *storage.Tx, actor entity.User, org entity.Organization, name string) error {
	old, err := tx.InUseIntegrationByName(ctx, org.ID, name)
	if errors.Is(err, fault.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := tx.SetIntegrationStatus(ctx, old.ID, entity.IntegrationDisconnected, "replaced by a new install"); err != nil {
		return err
	}
	return tx.RecordConfigChange(ctx, change(actor, &org.ID, entity.ChangeIntegrationDisconnect, name))
}

// AuthorizeInstall checks that actor may install Slack for org: its admins
// and instance admins.
func (s *Service) AuthorizeInstall(ctx context.Context, actor entity.User, org entity.Organization) error {
	return access.RequireOrgAdmin(ctx, s.cfg.Store, actor, org)
}
