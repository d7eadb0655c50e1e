package userexport_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/identity/userexport"
	"github.com/auditgraph/auditgraph/internal/identity/userstatus"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
)

func TestNeutralize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"=SUM(A1:A9)", "'=SUM(A1:A9)"},
		{"+1", "'+1"},
		{"-2", "'-2"},
		{"@cmd", "'@cmd"},
		{"\tTab", "'\tTab"},
		{"\rCR", "'\rCR"},
		{"", ""},
		{"Ann", "Ann"},
		{"a=b", "a=b"},
		{" =1", " =1"},
	} {
		t.Run(fmt.Sprintf("%q", tc.in), func(t *testing.T) {
			if got := userexport.Neutralize(tc.in); got != tc.want {
				t.Errorf("Neutralize(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func row(name, username, email string, teams ...string) userexport.Row {
	return userexport.Row{
		User:       entity.User{Name: name, Username: username, Email: email},
		Membership: entity.Membership{Role: "member", ModelsSeat: "full", WeaveAccess: "none", AcceptedAt: &time.Time{}},
		Status:     userstatus.Inactive,
		Teams:      teams,
	}
}

func write(t *testing.T, mode deployment.Mode, rows ...userexport.Row) []byte {
	t.Helper()
	var b bytes.Buffer
	w := userexport.NewWriter(&b, mode)
	if err := w.WriteHeader(); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := w.WriteRow(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestRowBytes checks a whole record: every string quoted, the counts bare,
// product values (the "-" of Last Active) left alone, teams sorted.
func TestRowBytes(t *testing.T) {
	r := row("Ann", "ann", "ann@x.io", "zeta", "Alpha", "ml")
	r.RunEvents, r.ReportEvents, r.Membership.ActiveDays = 3, 5, 7
	for _, tc := range []struct {
		mode   deployment.Mode
		status userstatus.Status
		want   string
	}{
		{deployment.SelfManaged, userstatus.Inactive, `"Ann","ann","Member","Full","None","ann@x.io","Alpha, ml, zeta","-"` + "\r\n"},
		{deployment.MultiTenant, userstatus.NeverActive, `"Ann","ann","-","Member","ann@x.io","Alpha, ml, zeta","Never active",5,3,7,"Full","None"` + "\r\n"},
	} {
		t.Run(string(tc.mode), func(t *testing.T) {
			r.Status = tc.status
			b := write(t, tc.mode, r)
			_, got, _ := bytes.Cut(b, []byte("\r\n"))
			if string(got) != tc.want {
				t.Errorf("%s record = %q, want %q", tc.mode, got, tc.want)
			}
		})
	}
}

// TestRoundTrip reads the file back with encoding/csv: every stored value
// comes back unchanged, but for the "'" in front of a would-be formula.
func TestRoundTrip(t *testing.T) {
	cases := []struct{ name, want string }{
		{"Smith, John", "Smith, John"},
		{`Say "hi"`, `Say "hi"`},
		{`""`, `""`},
		{"two\nlines", "two\nlines"},
		{"cr\rinside", "cr\rinside"},
		{"Zoë 日本語 🚀", "Zoë 日本語 🚀"},
		{"=HYPERLINK(\"http://x\",\"y\")", "'=HYPERLINK(\"http://x\",\"y\")"},
		{"+1+1", "'+1+1"},
		{"-1+1", "'-1+1"},
		{"@SUM(1)", "'@SUM(1)"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{"", ""},
	}
	var rows []userexport.Row
	for i, c := range cases {
		rows = append(rows, row(c.name, "u"+string(rune('a'+i)), "=1+"+c.name+"@x.io", "-team", "t,eam"))
	}
	for _, mode := range []deployment.Mode{deployment.SelfManaged, deployment.MultiTenant} {
		t.Run(string(mode), func(t *testing.T) {
			cols := userexport.Columns(mode)
			idx := map[userexport.Column]int{}
			for i, c := range cols {
				idx[c] = i
			}
			records, err := csv.NewReader(bytes.NewReader(write(t, mode, rows...))).ReadAll()
			if err != nil {
				t.Fatalf("%s: csv.ReadAll: %v", mode, err)
			}
			if len(records) != len(cases)+1 {
				t.Fatalf("%s: %d records, want %d", mode, len(records), len(cases)+1)
			}
			if strings.Join(records[0], "|") != joinColumns(cols) {
				t.Errorf("%s header = %q, want %v", mode, records[0], cols)
			}
			for i, c := range cases {
				rec := records[i+1]
				if got := rec[idx[userexport.Name]]; got != c.want {
					t.Errorf("%s: name %q read back as %q, want %q", mode, c.name, got, c.want)
				}
				if got, want := rec[idx[userexport.Email]], "'=1+"+c.name+"@x.io"; got != want {
					t.Errorf("%s: email read back as %q, want %q", mode, got, want)
				}
				if got, want := rec[idx[userexport.Teams]], "'-team, t,eam"; got != want {
					t.Errorf("%s: teams read back as %q, want %q", mode, got, want)
				}
				if got := rec[idx[userexport.LastActive]]; got != "-" {
					t.Errorf("%s: Last Active = %q, want the hyphen unchanged", mode, got)
				}
			}
		})
	}
}

func joinColumns(cols []userexport.Column) string {
	s := make([]string, len(cols))
	for i, c := range cols {
		s[i] = string(c)
	}
	return strings.Join(s, "|")
}
