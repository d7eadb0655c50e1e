package layering

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/auditgraph/auditgraph"

// knownViolations lists the imports that break a rule today, by importing
// package, relative to the module: the test accepts them, and fails once
// one is gone, so that the list only shrinks. It is empty: keep it so.
var knownViolations = map[string][]string{}

// A rule says which of the module's packages a package may not import.
type rule struct {
	name string
	// applies reports whether the rule covers a package.
	applies func(pkg string) bool
	// forbidden reports whether the package may not import imp.
	forbidden func(pkg, imp string) bool
	// tests says whether the imports of the package's tests count too.
	tests bool
}

var rules = []rule{
	{
		// storage is the SQL and only the SQL: of the module it may import
		// exactly two packages, audit (the event's keys, which its column
		// lists are built from) and internal/entity (the rows it shares with
		// the domain and the kinds of its errors), and nothing else, so that
		// it can never reach up into the domain.
		name:      "storage imports only audit and entity",
		applies:   func(pkg string) bool { return pkg == "storage" },
		forbidden: func(_, imp string) bool { return imp != "audit" && imp != "internal/entity" },
	},
	{
		// internal/entity is plain data, shared by storage and everything
		// above it: it imports nothing of the module, its tests included.
		name:      "entity imports nothing of the module",
		applies:   func(pkg string) bool { return pkg == "internal/entity" },
		forbidden: func(string, string) bool { return true },
		tests:     true,
	},
	{
		// The resolvers and the HTTP server reach the database through the
		// services (internal/app hands them out), never storage or a package
		// below it. Their tests may: they open a store to set up what they
		// test.
		name:      "resolvers and server never import storage",
		applies:   func(pkg string) bool { return under(pkg, "resolvers") || under(pkg, "internal/server") },
		forbidden: func(_, imp string) bool { return under(imp, "storage") },
	},
	{
		name:      "nothing imports cmd",
		applies:   func(string) bool { return true },
		forbidden: func(pkg, imp string) bool { return under(imp, "cmd") && !under(pkg, "cmd") },
		tests:     true,
	},
}

// under reports whether pkg is dir or a package below it.
func under(pkg, dir string) bool { return pkg == dir || strings.HasPrefix(pkg, dir+"/") }

// listed is what the test reads of `go list -json`.
type listed struct {
	ImportPath                         string
	Imports, TestImports, XTestImports []string
}

// modulePackages lists the module's packages with their imports of the
// module, all paths relative to the module.
func modulePackages(t *testing.T) []listed {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", module+"/...").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	rel := func(paths []string) []string {
		var in []string
		for _, p := range paths {
			if p == module || strings.HasPrefix(p, module+"/") {
				in = append(in, strings.TrimPrefix(strings.TrimPrefix(p, module), "/"))
			}
		}
		return in
	}
	var pkgs []listed
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		p.ImportPath = strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		p.Imports, p.TestImports, p.XTestImports = rel(p.Imports), rel(p.TestImports), rel(p.XTestImports)
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found no packages")
	}
	return pkgs
}

// violations returns the imports of pkgs that break r, as "pkg -> imp".
func (r rule) violations(pkgs []listed) []string {
	var bad []string
	for _, p := range pkgs {
		if !r.applies(p.ImportPath) {
			continue
		}
		imps := p.Imports
		if r.tests {
			imps = append(slices.Clone(imps), append(p.TestImports, p.XTestImports...)...)
		}
		for _, imp := range imps {
			if imp != p.ImportPath && r.forbidden(p.ImportPath, imp) {
				bad = append(bad, p.ImportPath+" -> "+imp)
			}
		}
	}
	slices.Sort(bad)
	return slices.Compact(bad)
}

func known(v string) bool {
	pkg, imp, _ := strings.Cut(v, " -> ")
	return slices.Contains(knownViolations[pkg], imp)
}

func TestLayering(t *testing.T) {
	pkgs := modulePackages(t)
	seen := map[string]bool{}
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			for _, v := range r.violations(pkgs) {
				seen[v] = true
				if !known(v) {
					t.Errorf("%s: %s breaks the rule", r.name, v)
				}
			}
		})
	}
	t.Run("known violations still happen", func(t *testing.T) {
		for pkg, imps := range knownViolations {
			for _, imp := range imps {
				if v := pkg + " -> " + imp; !seen[v] {
					t.Errorf("knownViolations lists %s, which no longer happens: remove it", v)
				}
			}
		}
	})
}

// The rules catch what they should: a check of the checks on made-up
// packages, since the real module keeps to them.
func TestRulesCatchViolations(t *testing.T) {
	pkgs := []listed{
		{ImportPath: "storage", Imports: []string{"audit", "internal/entity", "chain"}},
		{ImportPath: "internal/entity", Imports: []string{"audit"}, TestImports: []string{"storage"}},
		{ImportPath: "internal/server/handlers", Imports: []string{"storage/storagetest", "internal/log/ledger"}},
		{ImportPath: "resolvers", Imports: []string{"storage"}},
		{ImportPath: "internal/log/ledger", XTestImports: []string{"cmd/auditgraph"}},
		{ImportPath: "cmd/auditgraph", Imports: []string{"cmd/auditgraph/internal"}},
	}
	want := map[string][]string{
		"storage imports only audit and entity":     {"storage -> chain"},
		"entity imports nothing of the module":      {"internal/entity -> audit", "internal/entity -> storage"},
		"resolvers and server never import storage": {"internal/server/handlers -> storage/storagetest", "resolvers -> storage"},
		"nothing imports cmd":                       {"internal/log/ledger -> cmd/auditgraph"},
	}
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			if got := r.violations(pkgs); !slices.Equal(got, want[r.name]) {
				t.Errorf("violations = %q, want %q", got, want[r.name])
			}
		})
	}
	if len(want) != len(rules) {
		t.Errorf("%d rules, %d checked", len(rules), len(want))
	}
}
