package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/auditgraph/auditgraph/internal/platform/deployment"
)

// badOrgQueries are org parameters, as raw query strings, that name no
// organization that can exist, or that cannot be read at all.
var badOrgQueries = []struct{ name, query, want string }{
	{"invalid UTF-8", "org=%FF", "organization name"},
	{"invalid UTF-8 sequence", "org=ac%C3%28me", "organization name"},
	{"NUL", "org=%00", "organization name"},
	{"NUL inside", "org=ac%00me", "organization name"},
	{"space", "org=ac+me", "organization name"},
	{"path", "org=..%2Facme", "organization name"},
	{"65 characters", "org=" + strings.Repeat("a", 65), "organization name"},
	{"semicolon", "org=acme;x", "';'"},
	{"semicolon after", "org=acme&x=1;y=2", "';'"},
	{"bad escape", "org=ac%ZZme", "query string"},
	{"two different", "org=acme&ORG=default", "more than once"},
}

// Every REST route that takes an org parameter refuses a bad one with 400
// naming the problem, before any query (a NUL or invalid UTF-8 used to reach
// PostgreSQL and answer 500; `org=a;b` was dropped and the caller's own
// organization used).
func TestRESTRefusesBadOrgParameters(t *testing.T) {
	t.Parallel()
	e := newRestEnv(t, deployment.SelfManaged)
	routes := []struct{ method, path string }{
		{"GET", "/admin/audit_logs"},
		{"POST", "/api/v1/audit_events"},
		{"GET", "/admin/users.csv"},
		{"GET", "/slack/install"},
	}
	const line = `{"action":"user:login","timestamp":"2026-01-02T03:04:05Z","actor_user_id":"u1"}` + "\n"
	for _, rt := range routes {
		for _, bad := range badOrgQueries {
			t.Run(rt.path+"/"+bad.name, func(t *testing.T) {
				e := *e
				e.t = t
				var body *strings.Reader
				if rt.method == "POST" {
					body = strings.NewReader(line)
				} else {
					body = strings.NewReader("")
				}
				resp, b := e.do(rt.method, rt.path+"?"+bad.query, "alice", body, "Content-Type", "application/x-ndjson")
				var m map[string]any
				json.Unmarshal(b, &m)
				msg, _ := m["error"].(string)
				if resp.StatusCode != http.StatusBadRequest || !strings.Contains(msg, bad.want) {
					t.Errorf("%s %s?%s = %d %s, want 400 naming %s", rt.method, rt.path, bad.query, resp.StatusCode, b, bad.want)
				}
			})
		}
	}
	// Nothing was stored by the refused batches.
	resp, b := e.do("GET", "/admin/audit_logs?org=acme&numDays=3650", "alice", nil)
	if resp.StatusCode != http.StatusOK || strings.Contains(string(b), `"u1"`) {
		t.Errorf("GET /admin/audit_logs after refused batches = %d %s, want none of them stored", resp.StatusCode, b)
	}
}

// Every GraphQL argument and input field that names an organization, team
// or user refuses a value that cannot be one with BAD_USER_INPUT, before any
// query.
func TestGraphQLRefusesBadNames(t *testing.T) {
	t.Parallel()
	e := newGQLEnv(t)
	authz := "Bearer " + gqlAdminKey
	fields := []struct{ name, query string }{
		{"organization(name)", `query($v: String!) { organization(name: $v) { name } }`},
		{"user(username)", `query($v: String!) { user(username: $v) { username } }`},
		{"verifyAuditLog(organization)", `query($v: String!) { verifyAuditLog(organization: $v) { intact } }`},
		{"auditLogIntegrity(organization)", `query($v: String!) { auditLogIntegrity(organization: $v) { lastSequence } }`},
		{"users(filter: {team})", `query($v: String) { organization(name: "acme") { users(filter: {team: $v}) { totalCount } } }`},
		{"createTeam(organization)", `mutation($v: String!) { createTeam(organization: $v, name: "t1") { name } }`},
		{"createTeam(name)", `mutation($v: String!) { createTeam(organization: "acme", name: $v) { name } }`},
		{"addTeamMember(team)", `mutation($v: String!) { addTeamMember(organization: "acme", team: $v, username: "bob") { name } }`},
		{"addTeamMember(username)", `mutation($v: String!) { addTeamMember(organization: "acme", team: "t", username: $v) { name } }`},
		{"removeMember(organization)", `mutation($v: String!) { removeMember(organization: $v, username: "bob") }`},
		{"slackInstallURL(organization)", `mutation($v: String) { slackInstallURL(organization: $v) }`},
		{"setDefaultOrganization(organization)", `mutation($v: String) { setDefaultOrganization(organization: $v) { username } }`},
		{"createWebhookIntegration(organization)", `mutation($v: String!) { createWebhookIntegration(organization: $v, name: "w", url: "https://example.com/hook") { integration { id } } }`},
		{"createAPIKey(username)", `mutation($v: String) { createAPIKey(username: $v, name: "k") { key } }`},
		{"deactivateUser(username)", `mutation($v: String!) { deactivateUser(username: $v) { username } }`},
		{"createUser(input: {organization})", `mutation($v: String) { createUser(input: {username: "newbie", email: "n@x.io", organization: $v}) { username } }`},
		{"inviteUser(input: {organization})", `mutation($v: String!) { inviteUser(input: {organization: $v, username: "bob", email: "b@x.io"}) { role } }`},
		{"updateMember(input: {username})", `mutation($v: String!) { updateMember(input: {organization: "acme", username: $v, role: ADMIN}) { role } }`},
	}
	values := []struct{ name, v string }{
		{"NUL", "a\x00b"},
		{"replacement character", "a\uFFFDb"},
		{"space", "a b"},
		{"path", "../acme"},
		{"65 characters", strings.Repeat("a", 65)},
	}
	for _, f := range fields {
		for _, v := range values {
			t.Run(f.name+"/"+v.name, func(t *testing.T) {
				e := e.with(t)
				code, res := e.query(authz, f.query, map[string]any{"v": v.v})
				if code != http.StatusOK || len(res.Errors) != 1 || res.Errors[0].Extensions["code"] != "BAD_USER_INPUT" {
					t.Fatalf("%s with %q = %d %+v, want one BAD_USER_INPUT error", f.query, v.v, code, res.Errors)
				}
				if msg := res.Errors[0].Message; !strings.Contains(msg, "name") || !strings.Contains(msg, "1 to 64") {
					t.Errorf("%s with %q: error %q, want it to name the rule", f.query, v.v, msg)
				}
			})
		}
	}
	// Invalid UTF-8 cannot travel in a JSON body, but it can in a GET's
	// query text.
	q := "?query=" + url.QueryEscape(`{ organization(name: "ac`) + "%FF" + url.QueryEscape(`me") { name } }`)
	resp, b := e.do(http.MethodGet, "/graphql"+q, authz, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "BAD_USER_INPUT") {
		t.Errorf("GET organization(name: invalid UTF-8) = %d %s, want BAD_USER_INPUT", resp.StatusCode, b)
	}
	// Null and empty keep their meaning where a name may be left out.
	var cleared struct{ SetDefaultOrganization struct{ Username string } }
	e.mustQuery(authz, `mutation { setDefaultOrganization(organization: "") { username } }`, nil, &cleared)
}

// nameArguments are the arguments and input fields that name an
// organization, a team or a user, as "Type.field(argument)" or
// "Input.field".
var nameArguments = map[string]string{
	"Query.organization(name)": "organization", "Query.user(username)": "user",
	"Query.verifyAuditLog(organization)": "organization", "Query.auditLogIntegrity(organization)": "organization",
	"Subscription.auditEvents(organization)":  "organization",
	"Mutation.acceptInvitation(organization)": "organization",
	"Mutation.addTeamMember(organization)":    "organization", "Mutation.addTeamMember(team)": "team", "Mutation.addTeamMember(username)": "user",
	"Mutation.createAlertRule(organization)": "organization", "Mutation.enableSuggestedAlertRule(organization)": "organization",
	"Mutation.createTeam(organization)": "organization", "Mutation.createTeam(name)": "team",
	"Mutation.deleteTeam(organization)": "organization", "Mutation.deleteTeam(name)": "team",
	"Mutation.createWebhookIntegration(organization)": "organization",
	"Mutation.removeMember(organization)":             "organization", "Mutation.removeMember(username)": "user",
	"Mutation.removeTeamMember(organization)": "organization", "Mutation.removeTeamMember(team)": "team", "Mutation.removeTeamMember(username)": "user",
	"Mutation.setDefaultOrganization(organization)": "organization", "Mutation.slackInstallURL(organization)": "organization",
	"Mutation.createAPIKey(username)": "user", "Mutation.deactivateUser(username)": "user",
	"Mutation.reactivateUser(username)": "user", "Mutation.deleteUser(username)": "user",
	"CreateOrganizationInput.name":           "organization",
	"CreateServiceAccountInput.organization": "organization", "CreateServiceAccountInput.team": "team", "CreateServiceAccountInput.username": "user",
	"CreateUserInput.organization": "organization", "CreateUserInput.username": "user",
	"InviteUserInput.organization": "organization", "InviteUserInput.username": "user",
	"UpdateMemberInput.organization": "organization", "UpdateMemberInput.username": "user",
	"UpdateUserInput.username": "user", "UserFilter.team": "team",
}

// The schema marks exactly the names above with @name, and every String
// argument or input field called organization, team or username is among
// them: a new one cannot skip the check unnoticed.
func TestSchemaMarksEveryName(t *testing.T) {
	files, err := filepath.Glob("../../schema/*.graphqls")
	if err != nil || len(files) == 0 {
		t.Fatalf("schema files: %v %v", files, err)
	}
	var srcs []*ast.Source
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, &ast.Source{Name: f, Input: string(b)})
	}
	schema, gerr := gqlparser.LoadSchema(srcs...)
	if gerr != nil {
		t.Fatal(gerr)
	}
	marked := map[string]string{}
	check := func(where, name string, typ *ast.Type, dirs ast.DirectiveList) {
		if d := dirs.ForName("name"); d != nil {
			marked[where] = d.Arguments.ForName("of").Value.Raw
		} else if typ.Name() == "String" && slices.Contains([]string{"organization", "team", "username"}, name) {
			t.Errorf("%s is a String called %s without @name", where, name)
		}
	}
	for _, def := range schema.Types {
		if def.BuiltIn {
			continue
		}
		for _, f := range def.Fields {
			if def.Kind == ast.InputObject {
				check(def.Name+"."+f.Name, f.Name, f.Type, f.Directives)
			}
			for _, a := range f.Arguments {
				check(def.Name+"."+f.Name+"("+a.Name+")", a.Name, a.Type, a.Directives)
			}
		}
	}
	for where, of := range nameArguments {
		if marked[where] != of {
			t.Errorf("%s: @name(of: %q), want @name(of: %q)", where, marked[where], of)
		}
	}
	for where, of := range marked {
		if _, ok := nameArguments[where]; !ok {
			t.Errorf("%s has @name(of: %q) but is not in nameArguments", where, of)
		}
	}
}
