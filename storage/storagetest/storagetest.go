// Package storagetest gives each test its own fresh, migrated PostgreSQL
// database. It uses the server named by AUDITGRAPH_TEST_DATABASE_URL, or else
// starts one private cluster for the test binary with the same launcher as
// `auditgraph serve`.
//
// Every database is cloned from a template migrated once per test binary, so
// a test costs a CREATE DATABASE, not a migration run.
package storagetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/auditgraph/auditgraph/internal/platform/pgembed"
	"github.com/auditgraph/auditgraph/storage"
)

// EnvURL names the variable holding a server URL for tests.
const EnvURL = "AUDITGRAPH_TEST_DATABASE_URL"

var (
	once     sync.Once
	setupErr error
	baseURL  string // a URL whose database can run CREATE DATABASE
	template string
	cluster  *pgembed.Cluster
	tmpDir   string
)

// Main runs the package's tests and then removes the template database and
// stops the private cluster, if one was started. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if template != "" {
		if db, err := sqlx.Open("postgres", baseURL); err == nil {
			db.Exec(`DROP DATABASE IF EXISTS ` + pq.QuoteIdentifier(template))
			db.Close()
		}
	}
	if cluster != nil {
		cluster.Stop(context.Background())
	}
	if tmpDir != "" {
		os.RemoveAll(tmpDir)
	}
	os.Exit(code)
}

func setup() error {
	ctx := context.Background()
	baseURL = os.Getenv(EnvURL)
	if baseURL == "" {
		dir, err := os.MkdirTemp("", "auditgraph-test-")
		if err != nil {
			return err
		}
		tmpDir = dir
		// The postgres user must be able to reach the folder when tests run as root.
		if err := os.Chmod(dir, 0o755); err != nil {
			return err
		}
		cluster, err = pgembed.Start(ctx, pgembed.Config{DataDir: dir, Settings: map[string]string{
			"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off", "max_connections": "200",
		}})
		if err != nil {
			return err
		}
		baseURL = cluster.URL("postgres")
	}
	template = "ag_tmpl_" + randomName()
	admin, err := sqlx.Open("postgres", baseURL)
	if err != nil {
		return err
	}
	defer admin.Close()
	if _, err := admin.Exec(`CREATE DATABASE ` + pq.QuoteIdentifier(template)); err != nil {
		return fmt.Errorf("create template database: %w", err)
	}
	s, err := storage.Open(ctx, withDatabase(baseURL, template))
	if err != nil {
		return err
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		return err
	}
	if err := s.SetUpAppRole(ctx); err != nil {
		return err
	}
	// Roles belong to the cluster: test binaries starting at once share it,
	// and the one that creates it first wins.
	if _, err := s.DB().ExecContext(ctx, `DO $$ BEGIN
		CREATE ROLE `+AppLogin+` LOGIN PASSWORD '`+AppLogin+`' IN ROLE `+storage.AppRole+`;
	EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
	END $$`); err != nil {
		return fmt.Errorf("create role %s: %w", AppLogin, err)
	}
	now := time.Now()
	return s.EnsurePartitions(ctx, now.AddDate(0, -13, 0), now.AddDate(0, 3, 0))
}

// URL creates a fresh migrated database for t, dropped when t ends, and
// returns its URL.
func URL(t testing.TB) string {
	t.Helper()
	once.Do(func() { setupErr = setup() })
	if setupErr != nil {
		t.Fatalf("storagetest: %v", setupErr)
	}
	name := "ag_test_" + randomName()
	admin, err := sqlx.Open("postgres", baseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec(`CREATE DATABASE ` + pq.QuoteIdentifier(name) + ` TEMPLATE ` + pq.QuoteIdentifier(template)); err != nil {
		t.Fatalf("storagetest: create database: %v", err)
	}
	t.Cleanup(func() {
		db, err := sqlx.Open("postgres", baseURL)
		if err != nil {
			return
		}
		defer db.Close()
		db.Exec(`DROP DATABASE IF EXISTS ` + pq.QuoteIdentifier(name) + ` WITH (FORCE)`)
	})
	return withDatabase(baseURL, name)
}

// New returns a Store on a fresh migrated database, closed when t ends.
func New(t testing.TB) *storage.Store {
	t.Helper()
	s, err := storage.Open(context.Background(), URL(t))
	if err != nil {
		t.Fatalf("storagetest: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// AppLogin is the login role, a member of storage.AppRole (the role serve
// runs as), that AppURL connects as; its password is its name.
const AppLogin = "auditgraph_test_app"

// AppURL returns u, a URL from URL, connecting as AppLogin instead: what
// `auditgraph serve` is given as --database-url when the tables belong to
// another role.
func AppURL(u string) string { return withUser(u, AppLogin, AppLogin) }

// NewApp returns two Stores on one fresh migrated database, closed when t
// ends: app connects as AppLogin, which may do what serve does and no more;
// owner connects as the role that owns the tables (a superuser here), as
// migrations and tampering tests do.
func NewApp(t testing.TB) (app, owner *storage.Store) {
	t.Helper()
	u := URL(t)
	var err error
	if owner, err = storage.Open(context.Background(), u); err != nil {
		t.Fatalf("storagetest: %v", err)
	}
	t.Cleanup(func() { owner.Close() })
	if app, err = storage.Open(context.Background(), AppURL(u)); err != nil {
		t.Fatalf("storagetest: as %s: %v", AppLogin, err)
	}
	t.Cleanup(func() { app.Close() })
	return app, owner
}

// URLAs returns u connecting as user with password.
func URLAs(u, user, password string) string { return withUser(u, user, password) }

// withUser returns u connecting as user with password.
func withUser(u, user, password string) string {
	if strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://") {
		p, err := url.Parse(u)
		if err == nil {
			q := p.Query()
			if q.Has("user") {
				q.Set("user", user)
				q.Set("password", password)
				p.RawQuery = q.Encode()
			} else {
				p.User = url.UserPassword(user, password)
			}
			return p.String()
		}
	}
	return u + " user=" + user + " password=" + password
}

// withDatabase returns u with its database name replaced by db. It accepts
// both URL and keyword/value connection strings.
func withDatabase(u, db string) string {
	if strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://") {
		p, err := url.Parse(u)
		if err == nil {
			p.Path = "/" + db
			q := p.Query()
			q.Del("dbname")
			p.RawQuery = q.Encode()
			return p.String()
		}
	}
	return u + " dbname=" + db
}

func randomName() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// NewOrg creates an organization on the Enterprise plan, with no members,
// and returns its id.
func NewOrg(t testing.TB, s *storage.Store, name string) int64 {
	t.Helper()
	var id int64
	err := s.InTx(context.Background(), func(tx *storage.Tx) error {
		o, err := tx.CreateOrganization(context.Background(), name, "enterprise")
		id = o.ID
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// NewOrgWithMember creates an organization with one member (username
// name+"-user", the given email) and returns both ids.
func NewOrgWithMember(t testing.TB, s *storage.Store, name, email string) (orgID, userID int64) {
	t.Helper()
	ctx := context.Background()
	err := s.InTx(ctx, func(tx *storage.Tx) error {
		o, err := tx.CreateOrganization(ctx, name, "enterprise")
		if err != nil {
			return err
		}
		u, err := tx.CreateUser(ctx, storage.NewUser{Username: name + "-user", Email: email})
		if err != nil {
			return err
		}
		orgID, userID = o.ID, u.ID
		_, err = tx.AddMembership(ctx, storage.NewMembership{OrgID: o.ID, UserID: u.ID, Role: "member", ModelsSeat: "full", WeaveAccess: "full"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return orgID, userID
}

// CountEvents returns how many events an organization's log holds.
func CountEvents(t testing.TB, s *storage.Store, orgID int64) int {
	t.Helper()
	var n int
	if err := s.DB().Get(&n, `SELECT count(*) FROM audit_events WHERE org_id = $1`, orgID); err != nil {
		t.Fatal(err)
	}
	return n
}
