package server_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/internal/identity"
	"github.com/auditgraph/auditgraph/internal/identity/access"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/identity/userexport"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/storage"
)

// usersCSV fetches the export as user and fails the test unless it is a
// CSV download of org.
func (e *restEnv) usersCSV(path, user, org string) (*http.Response, []byte) {
	e.t.Helper()
	resp, b := e.do("GET", path, user, nil)
	if resp.StatusCode != 200 {
		e.t.Fatalf("GET %s as %s = %d %s, want 200", path, user, resp.StatusCode, b)
	}
	if got := resp.Header.Get("Content-Type"); got != "text/csv; charset=utf-8" {
		e.t.Errorf("GET %s: Content-Type = %q, want text/csv; charset=utf-8", path, got)
	}
	if got, want := resp.Header.Get("Content-Disposition"), `attachment; filename="`+org+`-users.csv"`; got != want {
		e.t.Errorf("GET %s: Content-Disposition = %q, want %q", path, got, want)
	}
	return resp, b
}

// export is a parsed export: its records by username, and the column
// positions of the server's mode.
type export struct {
	header []string
	rows   [][]string
	col    map[userexport.Column]int
}

func parseExport(t *testing.T, mode deployment.Mode, b []byte) export {
	t.Helper()
	records, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatalf("csv.ReadAll: %v\n%s", err, b)
	}
	x := export{header: records[0], rows: records[1:], col: map[userexport.Column]int{}}
	for i, c := range userexport.Columns(mode) {
		x.col[c] = i
	}
	return x
}

// user returns username's record.
func (x export) user(t *testing.T, username string) map[userexport.Column]string {
	t.Helper()
	for _, r := range x.rows {
		if r[x.col[userexport.Username]] == username {
			m := map[userexport.Column]string{}
			for c, i := range x.col {
				m[c] = r[i]
			}
			return m
		}
	}
	t.Fatalf("no record for %s", username)
	return nil
}

// quotedFields splits a CSV file into records and reports for each field
// whether it was enclosed in double quotes, failing unless every record
// ends with CRLF and every quote inside a quoted field is doubled.
func quotedFields(t *testing.T, raw []byte) [][]bool {
	t.Helper()
	var (
		records [][]bool
		rec     []bool
	)
	for i := 0; i < len(raw); {
		if raw[i] == '"' {
			rec = append(rec, true)
			for i++; ; i++ {
				if i >= len(raw) {
					t.Fatalf("unterminated quoted field in record %d", len(records))
				}
				if raw[i] == '"' {
					if i+1 < len(raw) && raw[i+1] == '"' {
						i++
						continue
					}
					i++
					break
				}
			}
		} else {
			rec = append(rec, false)
			for ; i < len(raw) && raw[i] != ',' && raw[i] != '\r' && raw[i] != '\n'; i++ {
				if raw[i] == '"' {
					t.Fatalf("bare quote in unquoted field of record %d", len(records))
				}
			}
		}
		switch {
		case i < len(raw) && raw[i] == ',':
			i++
		case i+1 < len(raw) && raw[i] == '\r' && raw[i+1] == '\n':
			records, rec = append(records, rec), nil
			i += 2
		default:
			t.Fatalf("record %d: field not followed by ',' or CRLF (byte %d of %d)", len(records), i, len(raw))
		}
	}
	return records
}

// TestUsersCSVHeaderBytes pins the documented header line of each mode byte
// for byte: this is the contract, so it is spelled out here rather than
// taken from userexport.Columns.
func TestUsersCSVHeaderBytes(t *testing.T) {
	const selfManaged = `"Name","Username","Org Role","Models Seat","Weave Access","Email","Teams","Last Active"` + "\r\n"
	for _, tc := range []struct {
		mode deployment.Mode
		want string
	}{
		{deployment.SelfManaged, selfManaged},
		{deployment.Dedicated, selfManaged},
		{deployment.MultiTenant, `"Name","Username","Last Active","Role","Email","Teams","Status","Number of Reports","Number of Runs","Number of active days","Models Seat","Weave Access"` + "\r\n"},
	} {
		t.Run(string(tc.mode), func(t *testing.T) {
			e := newRestEnv(t, tc.mode)
			_, b := e.usersCSV("/admin/users.csv", "alice", "acme")
			header, _, _ := bytes.Cut(b, []byte("\r\n"))
			if got := string(header) + "\r\n"; got != tc.want {
				t.Errorf("header = %q, want %q", got, tc.want)
			}
			if got := len(bytes.Split(bytes.TrimSuffix(b, []byte("\r\n")), []byte("\r\n"))); got != 3 {
				t.Errorf("%d lines, want the header, alice and bob", got)
			}
		})
	}
}

// TestUsersCSVRoundTrip stores names and emails a spreadsheet would
// misread and reads the file back with encoding/csv.
func TestUsersCSVRoundTrip(t *testing.T) {
	e := newRestEnv(t, deployment.SelfManaged)
	ctx := context.Background()
	cases := []struct{ name, email, wantName, wantEmail string }{
		{"Smith, John", "", "Smith, John", ""},
		{`Say "hi"`, "", `Say "hi"`, ""},
		{`"`, "", `"`, ""},
		{"two\nlines", "", "two\nlines", ""},
		{"cr\rinside", "", "cr\rinside", ""},
		{"Zoë 日本語 🚀", "", "Zoë 日本語 🚀", ""},
		{`=HYPERLINK("http://evil","x")`, "=cmd@x.io", `'=HYPERLINK("http://evil","x")`, "'=cmd@x.io"},
		{"+1+1", "+plus@x.io", "'+1+1", "'+plus@x.io"},
		{"-1+1", "-minus@x.io", "'-1+1", "'-minus@x.io"},
		{"@SUM(A1)", "", "'@SUM(A1)", ""},
		{"\t=1", "", "'\t=1", ""},
		{"\r=1", "", "'\r=1", ""},
		{"a=b", "a=b@x.io", "a=b", "a=b@x.io"},
	}
	for i, c := range cases {
		_, err := e.ids.CreateUser(ctx, e.admin, identity.NewUser{Username: fmt.Sprintf("u%02d", i), Name: c.name, Email: c.email, Org: "acme"})
		if err != nil {
			t.Fatalf("create user %q: %v", c.name, err)
		}
	}
	_, b := e.usersCSV("/admin/users.csv", "alice", "acme")
	if bytes.HasPrefix(b, []byte("\xef\xbb\xbf")) {
		t.Error("export starts with a byte-order mark")
	}

	x := parseExport(t, deployment.SelfManaged, b)
	for i, c := range cases {
		t.Run(fmt.Sprintf("u%02d", i), func(t *testing.T) {
			got := x.user(t, fmt.Sprintf("u%02d", i))
			if got[userexport.Name] != c.wantName || got[userexport.Email] != c.wantEmail {
				t.Errorf("name %q, email %q read back as %q, %q; want %q, %q",
					c.name, c.email, got[userexport.Name], got[userexport.Email], c.wantName, c.wantEmail)
			}
		})
	}

	// Every cell is quoted: there are no numbers in self-managed mode.
	records := quotedFields(t, b)
	if len(records) != len(x.rows)+1 {
		t.Fatalf("quote scan found %d records, encoding/csv %d", len(records), len(x.rows)+1)
	}
	for i, rec := range records {
		if len(rec) != len(x.header) || slices.Contains(rec, false) {
			t.Errorf("record %d quoting = %v, want %d quoted fields", i, rec, len(x.header))
		}
	}
}

// TestUsersCSVSelfManagedValues covers each Last Active status, the
// dashboard's words for roles and seats, teams and the order by name.
func TestUsersCSVSelfManagedValues(t *testing.T) {
	e := newRestEnv(t, deployment.SelfManaged)
	ctx := context.Background()
	for _, nu := range []identity.NewUser{
		{Username: "act", Name: "Active Ann", Role: "viewer", ModelsSeat: "viewer", WeaveAccess: "none"},
		{Username: "idle", Name: "idle Ian"},
		{Username: "gone", Name: "Gone Gus"},
		{Username: "fresh"},
	} {
		nu.Org, nu.Email = "acme", nu.Username+"@x.io"
		if _, err := e.ids.CreateUser(ctx, e.admin, nu); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := e.ids.InviteUser(ctx, e.admin, identity.Invitation{Org: "acme", Email: "inv@x.io", Username: "inv"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ids.DeactivateUser(ctx, e.admin, "gone"); err != nil {
		t.Fatal(err)
	}
	for _, team := range []string{"zeta", "Alpha", "ml"} {
		if _, err := e.ids.CreateTeam(ctx, e.admin, "acme", team); err != nil {
			t.Fatal(err)
		}
		if _, err := e.ids.AddTeamMember(ctx, e.admin, "acme", team, "act"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.ids.AddTeamMember(ctx, e.admin, "acme", "ml", "alice"); err != nil {
		t.Fatal(err)
	}
	setLastActive := func(username, ago string) {
		t.Helper()
		_, err := e.store.DB().Exec(`UPDATE memberships SET last_active_at = now() - $1::interval
			WHERE user_id = (SELECT id FROM users WHERE username = $2)`, ago, username)
		if err != nil {
			t.Fatal(err)
		}
	}
	setLastActive("act", "1 hour")
	setLastActive("idle", "6 months 1 day")
	setLastActive("gone", "1 hour")

	_, b := e.usersCSV("/admin/users.csv", "alice", "acme")
	x := parseExport(t, deployment.SelfManaged, b)
	if len(x.rows) != 7 {
		t.Fatalf("%d records, want 7:\n%s", len(x.rows), b)
	}
	org, _ := e.store.OrganizationByName(ctx, "acme")
	act, _ := e.store.UserByUsername(ctx, "act")
	m, err := e.store.Membership(ctx, org.ID, act.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		username string
		want     map[userexport.Column]string
	}{
		{"act", map[userexport.Column]string{
			userexport.Name: "Active Ann", userexport.OrgRole: "Viewer", userexport.ModelsSeat: "Viewer", userexport.WeaveAccess: "None",
			userexport.Email: "act@x.io", userexport.Teams: "Alpha, ml, zeta", userexport.LastActive: m.LastActiveAt.UTC().Format(time.RFC3339),
		}},
		{"alice", map[userexport.Column]string{userexport.OrgRole: "Admin", userexport.ModelsSeat: "Full", userexport.WeaveAccess: "Full", userexport.Teams: "ml"}},
		{"idle", map[userexport.Column]string{userexport.OrgRole: "Member", userexport.Teams: "", userexport.LastActive: "-"}},
		{"fresh", map[userexport.Column]string{userexport.Name: "", userexport.LastActive: "-"}},
		{"inv", map[userexport.Column]string{userexport.LastActive: "Invite pending"}},
		{"gone", map[userexport.Column]string{userexport.LastActive: "Deactivated"}},
	} {
		t.Run(tc.username, func(t *testing.T) {
			got := x.user(t, tc.username)
			for c, want := range tc.want {
				if got[c] != want {
					t.Errorf("%s: %s = %q, want %q", tc.username, c, got[c], want)
				}
			}
		})
	}

	// By name, case-insensitively; a member without a name sorts by username.
	var order []string
	for _, r := range x.rows {
		order = append(order, r[x.col[userexport.Username]])
	}
	if want := []string{"act", "alice", "bob", "fresh", "gone", "idle", "inv"}; !slices.Equal(order, want) {
		t.Errorf("order = %v, want %v", order, want)
	}
}

func TestUsersCSVMultiTenantValues(t *testing.T) {
	e := newRestEnv(t, deployment.MultiTenant)
	ctx := context.Background()
	if code, res := e.ingest("alice", "acme", fmt.Sprintf(`{"action":"run:update","timestamp":%q,"actor_email":"bob@x.io"}`+"\n", stamp(0))); code != 200 || res["stored"] != 1.0 {
		t.Fatalf("ingest = %d %v", code, res)
	}
	_, err := e.store.DB().Exec(`UPDATE memberships SET report_events = 5, run_events = 3, active_days = 7
		WHERE user_id = (SELECT id FROM users WHERE username = 'bob')`)
	if err != nil {
		t.Fatal(err)
	}
	org, _ := e.store.OrganizationByName(ctx, "acme")
	bob, _ := e.store.UserByUsername(ctx, "bob")
	m, err := e.store.Membership(ctx, org.ID, bob.ID)
	if err != nil || m.LastActiveAt == nil {
		t.Fatalf("bob's membership after ingest = %+v, %v: want a last-active time", m, err)
	}

	_, b := e.usersCSV("/admin/users.csv", "alice", "acme")
	x := parseExport(t, deployment.MultiTenant, b)
	for _, tc := range []struct {
		username string
		want     map[userexport.Column]string
	}{
		{"bob", map[userexport.Column]string{
			userexport.LastActive: m.LastActiveAt.UTC().Format(time.RFC3339), userexport.Role: "Member", userexport.Status: "Active",
			userexport.Reports: "5", userexport.Runs: "3", userexport.ActiveDays: "7", userexport.ModelsSeat: "Full", userexport.WeaveAccess: "Full",
		}},
		{"alice", map[userexport.Column]string{
			userexport.LastActive: "-", userexport.Role: "Admin", userexport.Status: "Never active",
			userexport.Reports: "0", userexport.Runs: "0", userexport.ActiveDays: "0",
		}},
	} {
		t.Run(tc.username, func(t *testing.T) {
			got := x.user(t, tc.username)
			for c, want := range tc.want {
				if got[c] != want {
					t.Errorf("%s: %s = %q, want %q", tc.username, c, got[c], want)
				}
			}
		})
	}

	// Strings are quoted; the three counts are not.
	numbers := map[userexport.Column]bool{userexport.Reports: true, userexport.Runs: true, userexport.ActiveDays: true}
	for i, rec := range quotedFields(t, b) {
		for c, j := range x.col {
			if want := i == 0 || !numbers[c]; rec[j] != want {
				t.Errorf("record %d, %s: quoted = %v, want %v", i, c, rec[j], want)
			}
		}
	}
}

func TestUsersCSVAccess(t *testing.T) {
	e := newRestEnv(t, deployment.SelfManaged)
	ctx := context.Background()
	resp, _ := e.do("GET", "/admin/users.csv", "", nil)
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("no credentials = %d, want 401 with a challenge", resp.StatusCode)
	}
	e.keys["mallory"] = "not-a-key"
	if resp, _ := e.do("GET", "/admin/users.csv", "mallory", nil); resp.StatusCode != 401 {
		t.Errorf("bad credentials = %d, want 401", resp.StatusCode)
	}
	e.addUser("vic", "acme", "viewer")
	for _, user := range []string{"bob", "vic"} {
		resp, b := e.do("GET", "/admin/users.csv", user, nil)
		if resp.StatusCode != 403 || resp.Header.Get("Content-Disposition") != "" {
			t.Errorf("%s = %d %s (Content-Disposition %q), want a 403 error", user, resp.StatusCode, b, resp.Header.Get("Content-Disposition"))
		}
	}
	// A bearer key works as well as Basic auth.
	if resp, b := e.do("GET", "/admin/users.csv", "", nil, "Authorization", "Bearer "+e.keys["alice"]); resp.StatusCode != 200 {
		t.Errorf("bearer = %d %s, want 200", resp.StatusCode, b)
	}
	// The instance admin's API organization is "default"; ?org picks another.
	e.usersCSV("/admin/users.csv", "admin", "default")
	e.usersCSV("/admin/users.csv?org=acme", "admin", "acme")
	if resp, _ := e.do("GET", "/admin/users.csv?org=nosuch", "admin", nil); resp.StatusCode != 404 {
		t.Errorf("unknown org = %d, want 404", resp.StatusCode)
	}

	if _, err := e.ids.CreateOrganization(ctx, e.admin, "beta", "enterprise"); err != nil {
		t.Fatal(err)
	}
	alice, _ := e.store.UserByUsername(ctx, "alice")
	beta, _ := e.store.OrganizationByName(ctx, "beta")
	err := e.store.InTx(ctx, func(tx *storage.Tx) error {
		_, err := tx.AddMembership(ctx, storage.NewMembership{OrgID: beta.ID, UserID: alice.ID, Role: "admin", ModelsSeat: "full", WeaveAccess: "full"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, b := e.do("GET", "/admin/users.csv", "alice", nil)
	var m map[string]string
	json.Unmarshal(b, &m)
	if resp.StatusCode != 400 || m["error"] != access.ErrMultipleOrgs.Error() {
		t.Errorf("two orgs, no default = %d %s, want 400 %q", resp.StatusCode, b, access.ErrMultipleOrgs)
	}
	e.usersCSV("/admin/users.csv?org=beta", "alice", "beta")
	if _, err := e.ids.SetDefaultOrganization(ctx, &auth.Principal{User: alice}, "acme"); err != nil {
		t.Fatal(err)
	}
	e.usersCSV("/admin/users.csv", "alice", "acme")
}

// TestUsersCSVStreamsManyUsers exports more members than several pages
// hold: every member once, in order, sent as the pages are read.
func TestUsersCSVStreamsManyUsers(t *testing.T) {
	e := newRestEnv(t, deployment.SelfManaged)
	const n = 1200
	if n <= 2*userexport.PageSize {
		t.Fatalf("%d users fit in two pages of %d: use more", n, userexport.PageSize)
	}
	org, _ := e.store.OrganizationByName(context.Background(), "acme")
	_, err := e.store.DB().Exec(`WITH u AS (
			INSERT INTO users (username, name, email)
			SELECT 'bulk' || lpad(i::text, 4, '0'), 'Bulk User ' || lpad(i::text, 4, '0'), 'bulk' || i || '@x.io'
			FROM generate_series(1, $2::int) i RETURNING id)
		INSERT INTO memberships (org_id, user_id, role, accepted_at) SELECT $1, id, 'member', now() FROM u`, org.ID, n)
	if err != nil {
		t.Fatal(err)
	}
	resp, b := e.usersCSV("/admin/users.csv", "alice", "acme")
	if resp.ContentLength != -1 || !slices.Contains(resp.TransferEncoding, "chunked") {
		t.Errorf("Content-Length %d, Transfer-Encoding %v: want a chunked stream", resp.ContentLength, resp.TransferEncoding)
	}
	x := parseExport(t, deployment.SelfManaged, b)
	if len(x.rows) != n+2 {
		t.Fatalf("%d records, want %d (alice, bob and %d bulk users)", len(x.rows), n+2, n)
	}
	seen := map[string]bool{}
	var keys []string
	for _, r := range x.rows {
		u := r[x.col[userexport.Username]]
		if seen[u] {
			t.Errorf("%s listed twice", u)
		}
		seen[u] = true
		key := r[x.col[userexport.Name]]
		if key == "" {
			key = u
		}
		keys = append(keys, strings.ToLower(key))
	}
	if !slices.IsSorted(keys) {
		t.Error("records are not ordered by name")
	}
}
