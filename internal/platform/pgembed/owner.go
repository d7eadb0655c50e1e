package pgembed

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
)

// osUser is the unprivileged account PostgreSQL runs as when auditgraph runs
// as root.
type osUser struct {
	name string
	cred *syscall.Credential
}

// runAs returns the account to run initdb and postgres as, or nil to run them
// as the current user. PostgreSQL refuses to run as root, so root hands them
// to postgres, or nobody when there is no postgres account.
func runAs() (*osUser, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err := strconv.ParseUint(u.Uid, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("pgembed: uid of user %s: %w", name, err)
		}
		gid, err := strconv.ParseUint(u.Gid, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("pgembed: gid of user %s: %w", name, err)
		}
		// No supplementary groups: checkReachable only looks at the primary one.
		return &osUser{name: name, cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}, nil
	}
	return nil, errors.New("pgembed: PostgreSQL refuses to run as root and there is no postgres or nobody user to run it as; create a postgres user or run auditgraph as an ordinary user")
}

// checkReachable returns an error naming the outermost folder from / down to
// dir that u cannot search, because postgres, running as u, could then not
// reach its data.
func (u *osUser) checkReachable(dir string) error {
	resolved, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("pgembed: %w", err)
	}
	var path []string // dir, its parent, ..., /
	for d := resolved; ; d = filepath.Dir(d) {
		path = append(path, d)
		if d == filepath.Dir(d) {
			break
		}
	}
	for _, d := range slices.Backward(path) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("pgembed: %w", err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		perm := fi.Mode().Perm()
		var bit fs.FileMode = 0o001
		switch {
		case st.Uid == u.cred.Uid:
			bit = 0o100
		case st.Gid == u.cred.Gid:
			bit = 0o010
		}
		if perm&bit == 0 {
			return fmt.Errorf("pgembed: PostgreSQL runs as user %s, which cannot enter %s (mode %#o); choose a --data-dir that user can reach, e.g. under /var/lib or /srv", u.name, d, perm)
		}
	}
	return nil
}

// chownTree gives root and everything below it to u.
func (u *osUser) chownTree(root string) error {
	err := filepath.WalkDir(root, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, int(u.cred.Uid), int(u.cred.Gid))
	})
	if err != nil {
		return fmt.Errorf("pgembed: %w", err)
	}
	return nil
}
