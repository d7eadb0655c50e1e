// Package userexport writes an organization's users as the dashboard's
// "Export as CSV" file: the columns of the server's deployment mode, every
// string quoted, cells a spreadsheet would run as a formula neutralized.
package userexport

import (
	"slices"
	"strconv"
	"strings"

	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/identity/userstatus"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
)

// Column is a column of the export, named by its header.
type Column string

// The columns, as the documentation's export schema names them.
const (
	Name        Column = "Name"
	Username    Column = "Username"
	OrgRole     Column = "Org Role"
	Role        Column = "Role"
	ModelsSeat  Column = "Models Seat"
	WeaveAccess Column = "Weave Access"
	Email       Column = "Email"
	Teams       Column = "Teams"
	LastActive  Column = "Last Active"
	Status      Column = "Status"
	Reports     Column = "Number of Reports"
	Runs        Column = "Number of Runs"
	ActiveDays  Column = "Number of active days"
)

// The columns of each deployment family, in order. Dedicated uses the
// self-managed list.
var (
	selfManagedColumns = []Column{Name, Username, OrgRole, ModelsSeat, WeaveAccess, Email, Teams, LastActive}
	multiTenantColumns = []Column{Name, Username, LastActive, Role, Email, Teams, Status, Reports, Runs, ActiveDays, ModelsSeat, WeaveAccess}
)

// Columns returns the columns of mode's export, in order.
func Columns(mode deployment.Mode) []Column {
	if mode.MultiTenant() {
		return slices.Clone(multiTenantColumns)
	}
	return slices.Clone(selfManagedColumns)
}

// Row is one member of the organization as the export shows them.
type Row struct {
	entity.User
	entity.Membership

	Status userstatus.Status
	// Teams are the member's team names in the organization, in any order.
	Teams []string
}

// TeamSeparator joins a member's team names in the Teams cell.
const TeamSeparator = ", "

// cell returns column c's text for r, and whether it is a number, which is
// written unquoted.
//
// Only text a user controls (names, usernames, emails, team names) is
// neutralized: the other cells are values the product itself writes, and
// Last Active's "-" (no status) must stay the hyphen the dashboard and the
// documentation show, not become "'-".
func (c Column) cell(r Row) (text string, number bool) {
	switch c {
	case Name:
		return Neutralize(r.User.Name), false
	case Username:
		return Neutralize(r.Username), false
	case Email:
		return Neutralize(r.Email), false
	case Teams:
		return Neutralize(teamList(r.Teams)), false
	case OrgRole, Role:
		return label(r.Role), false
	case ModelsSeat:
		return label(r.ModelsSeat), false
	case WeaveAccess:
		return label(r.WeaveAccess), false
	case LastActive:
		return userstatus.LastActive(r.Status, r.Membership), false
	case Status:
		if r.Status == userstatus.Active {
			return "Active", false
		}
		return "Never active", false
	case Reports:
		return strconv.Itoa(r.ReportEvents), true
	case Runs:
		return strconv.Itoa(r.RunEvents), true
	case ActiveDays:
		return strconv.Itoa(r.Membership.ActiveDays), true
	}
	return "", false
}

// labels are the dashboard's words for the stored roles and access levels.
var labels = map[string]string{
	"admin":  "Admin",
	"member": "Member",
	"viewer": "Viewer",
	"full":   "Full",
	"none":   "None",
}

func label(v string) string {
	if l, ok := labels[v]; ok {
		return l
	}
	return v
}

// teamList joins team names sorted case-insensitively (byte order breaks
// ties), so that the cell does not depend on the database's collation.
func teamList(teams []string) string {
	teams = slices.Clone(teams)
	slices.SortFunc(teams, func(a, b string) int {
		if c := strings.Compare(strings.ToLower(a), strings.ToLower(b)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	return strings.Join(teams, TeamSeparator)
}

// Neutralize returns s with a leading "'" when a spreadsheet would otherwise
// read it as a formula (OWASP's CSV injection list: = + - @ tab CR).
func Neutralize(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
