package pgembed

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ErrBinariesNotFound is wrapped by the errors of Start and FindBinaries when
// no folder holds both initdb and postgres.
var ErrBinariesNotFound = errors.New("pgembed: PostgreSQL server binaries (initdb, postgres) not found")

// installHint completes the ErrBinariesNotFound message so that it tells the
// user both ways out.
const installHint = "install them (e.g. `apt-get install postgresql` on Debian/Ubuntu, " +
	"`dnf install postgresql-server` on Fedora/RHEL, `brew install postgresql` on macOS), " +
	"or point auditgraph at an existing server with --database-url or AUDITGRAPH_DATABASE_URL"

// binGlobs are where Debian-style packages install the server binaries,
// which are not on PATH there; the * is the major version.
var binGlobs = []string{"/usr/lib/postgresql/*/bin"}

// FindBinaries returns the folder holding initdb and postgres: hint if it is
// not empty, else the folder of initdb on PATH (after following links), else
// the highest version in /usr/lib/postgresql/*/bin.
func FindBinaries(hint string) (string, error) {
	return findBinaries(hint, binGlobs)
}

func findBinaries(hint string, globs []string) (string, error) {
	if hint != "" {
		dir, err := filepath.Abs(hint)
		if err != nil {
			return "", fmt.Errorf("pgembed: %w", err)
		}
		if !hasBinaries(dir) {
			return "", fmt.Errorf("%w in %s; %s", ErrBinariesNotFound, dir, installHint)
		}
		return dir, nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		// initdb runs the postgres next to the file its link points at (as
		// in /usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb), so
		// use that folder, and only if postgres is there.
		if p, err := filepath.EvalSymlinks(p); err == nil {
			if dir, err := filepath.Abs(filepath.Dir(p)); err == nil && hasBinaries(dir) {
				return dir, nil
			}
		}
	}
	var dirs []string
	for _, g := range globs {
		m, _ := filepath.Glob(g) // the only possible error is a bad pattern
		dirs = append(dirs, m...)
	}
	slices.SortFunc(dirs, func(a, b string) int {
		return slices.Compare(majorVersion(b), majorVersion(a))
	})
	for _, dir := range dirs {
		if hasBinaries(dir) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("%w on PATH or in %s; %s", ErrBinariesNotFound, strings.Join(globs, ", "), installHint)
}

// majorVersion parses the version folder of .../<version>/bin so that 15
// sorts above 9.6.
func majorVersion(binDir string) []int {
	var v []int
	for _, part := range strings.Split(filepath.Base(filepath.Dir(binDir)), ".") {
		n, _ := strconv.Atoi(part)
		v = append(v, n)
	}
	return v
}

func hasBinaries(dir string) bool {
	for _, name := range []string{"initdb", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			return false
		}
	}
	return true
}
