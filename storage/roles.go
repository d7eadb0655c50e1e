package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/lib/pq"
)

// AppRole is the group role (NOLOGIN) whose members serve runs as: it may
// read and append to the audit log and its checkpoints but not change or
// remove them, and it owns nothing, so it cannot disable the append-only
// triggers, alter a table or drop a partition. Migrations run as the owner
// of the tables; SetUpAppRole grants this role what serve needs.
const AppRole = "auditgraph_app"

// appendOnly and readOnly are the privileges of AppRole on the tables that
// serve may never change or remove rows of.
const (
	appendOnly = "SELECT, INSERT"
	readOnly   = "SELECT"
	readWrite  = "SELECT, INSERT, UPDATE, DELETE"
)

// appPrivileges is what AppRole may do on every table the migrations
// create. A table missing here is granted nothing (and the test
// TestAppPrivilegesCoverEveryTable fails until it is added).
var appPrivileges = map[string]string{
	// The tamper-evident record: only ever appended to.
	"audit_events":        appendOnly,
	"chain_checkpoints":   appendOnly,
	"config_changes":      appendOnly,
	"audit_event_ids":     appendOnly,
	"bucket_sync_objects": appendOnly,
	// Written by audit_events_expire (as the owner) and the migrations only.
	"retention_log":     readOnly,
	"schema_migrations": readOnly,
	// State serve changes.
	"organizations":         readWrite, // the log head (last_seq, last_hash)
	"users":                 readWrite,
	"teams":                 readWrite,
	"memberships":           readWrite,
	"team_members":          readWrite,
	"api_keys":              readWrite,
	"settings":              readWrite,
	"activity_days":         readWrite,
	"audit_event_actors":    readWrite, // the actor search's pairs; retention prunes them
	"activity_members":      readWrite,
	"activity_day_bits":     readWrite,
	"activity_span_bits":    readWrite,
	"activity_month_counts": readWrite,
	"integrations":          readWrite,
	"bucket_sync_orgs":      readWrite,
	"bucket_sync_status":    readWrite,
	"alert_rules":           readWrite,
	"alert_counters":        readWrite,
	"alert_outbox":          readWrite,
	"oauth_states_used":     readWrite,
	"sessions":              readWrite,
}

// appFunctions are the SECURITY DEFINER functions AppRole may call: the
// only paths by which serve creates or drops audit_events partitions.
var appFunctions = []string{
	"audit_events_ensure_partition(timestamptz)",
	"audit_events_expire(timestamptz, boolean)",
}

// ErrNotOwner means the connection's role does not own the tables, so it
// cannot grant privileges on them.
var ErrNotOwner = errors.New("the database role does not own auditgraph's tables")

// ErrNoCreateRole means the role auditgraph_app does not exist and the
// connection's role may not create it.
var ErrNoCreateRole = errors.New("role " + AppRole + " does not exist and this role may not create it")

// SetUpAppRole creates AppRole when it does not exist yet and grants it
// exactly what serve needs on the tables, sequences and functions of the
// current schema. It is idempotent; run it as the owner of the tables after
// Migrate, so that what a new migration adds is granted too.
func (s *Store) SetUpAppRole(ctx context.Context) error {
	r, err := s.Role(ctx)
	if err != nil {
		return err
	}
	if !r.Owner {
		return fmt.Errorf("storage: set up role %s as %s: %w", AppRole, r.Name, ErrNotOwner)
	}
	conn, err := s.db.Connx(ctx)
	if err != nil {
		return fmt.Errorf("storage: set up role %s: %w", AppRole, err)
	}
	defer conn.Close()
	var exists bool
	if err := conn.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, AppRole); err != nil {
		return fmt.Errorf("storage: set up role %s: %w", AppRole, err)
	}
	if !exists {
		// Roles belong to the whole cluster: another database's server may
		// create it at the same moment.
		_, err := conn.ExecContext(ctx, `DO $$ BEGIN
			CREATE ROLE `+AppRole+` NOLOGIN;
		EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
		END $$`)
		var pe *pq.Error
		if errors.As(err, &pe) && pe.Code == "42501" {
			return fmt.Errorf("storage: %w (%s): have an administrator run CREATE ROLE %s NOLOGIN", ErrNoCreateRole, pe.Message, AppRole)
		}
		if err != nil {
			return fmt.Errorf("storage: create role %s: %w", AppRole, err)
		}
	}
	var tables []string
	if err := conn.SelectContext(ctx, &tables, `SELECT c.relname FROM pg_class c
		WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
		ORDER BY 1`); err != nil {
		return fmt.Errorf("storage: set up role %s: %w", AppRole, err)
	}
	var stmts []string
	for _, t := range tables {
		if p, ok := appPrivileges[t]; ok {
			// REVOKE first, so that a privilege taken away here is taken
			// away in databases set up before, too.
			stmts = append(stmts, `REVOKE ALL ON TABLE `+pq.QuoteIdentifier(t)+` FROM `+AppRole,
				`GRANT `+p+` ON TABLE `+pq.QuoteIdentifier(t)+` TO `+AppRole)
		}
	}
	stmts = append(stmts, `GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA `+pq.QuoteIdentifier(r.Schema)+` TO `+AppRole)
	for _, f := range appFunctions {
		stmts = append(stmts, `GRANT EXECUTE ON FUNCTION `+f+` TO `+AppRole)
	}
	tx, err := conn.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("storage: set up role %s: %w", AppRole, err)
	}
	defer tx.Rollback()
	// Two servers starting at once would update the same privileges.
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, LockMigrate); err != nil {
		return fmt.Errorf("storage: set up role %s: lock: %w", AppRole, err)
	}
	if _, err := tx.ExecContext(ctx, strings.Join(stmts, ";\n")); err != nil {
		return fmt.Errorf("storage: grant %s its privileges: %w", AppRole, err)
	}
	// The schema must be usable by the role; public already is, to every
	// role, and a schema owned by someone else may refuse the grant.
	if _, err := tx.ExecContext(ctx, `SAVEPOINT schema_usage; GRANT USAGE ON SCHEMA `+pq.QuoteIdentifier(r.Schema)+` TO `+AppRole); err != nil {
		if _, rerr := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT schema_usage`); rerr != nil {
			return fmt.Errorf("storage: grant %s its privileges: %w", AppRole, rerr)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("storage: grant %s its privileges: %w", AppRole, err)
	}
	return nil
}

// EnsureLoginRole creates the login role name as a member of AppRole, or
// makes an existing one a member. It needs a role that may create roles
// (the embedded cluster's superuser); name gets no password, for a cluster
// that trusts connections over its private socket.
func (s *Store) EnsureLoginRole(ctx context.Context, name string) error {
	q := pq.QuoteIdentifier(name)
	_, err := s.db.ExecContext(ctx, `DO $$ BEGIN
		CREATE ROLE `+q+` LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS IN ROLE `+AppRole+`;
	EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
	END $$`)
	if err == nil {
		_, err = s.db.ExecContext(ctx, `GRANT `+AppRole+` TO `+q)
	}
	if err != nil {
		return fmt.Errorf("storage: login role %s: %w", name, err)
	}
	return nil
}

// RoleInfo describes the role a Store's connections run as.
type RoleInfo struct {
	Name   string
	Schema string // the schema new tables go to and the tables are looked up in
	// Superuser: it can do anything, past every trigger and privilege.
	Superuser bool
	// Owner: it owns the audit tables (or is a member of the role that
	// does), so it can disable their triggers and drop their partitions.
	Owner bool
	// App: it is a member of AppRole.
	App bool
}

// Privileged reports whether the role can get past the append-only rules.
func (r RoleInfo) Privileged() bool { return r.Superuser || r.Owner }

// Why says in words what makes the role privileged, empty when it is not.
func (r RoleInfo) Why() string {
	var why []string
	if r.Superuser {
		why = append(why, "is a superuser")
	}
	if r.Owner {
		why = append(why, "owns the audit tables")
	}
	return strings.Join(why, " and ")
}

// Role returns what the connections' role may do. Before the migrations
// have created audit_events, Owner reports whether it could create them.
func (s *Store) Role(ctx context.Context) (RoleInfo, error) {
	var r RoleInfo
	err := s.db.QueryRowxContext(ctx, `SELECT current_user, coalesce(current_schema(), ''), r.rolsuper,
			CASE WHEN to_regclass('audit_events') IS NULL THEN true
				ELSE pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = to_regclass('audit_events')), 'USAGE') END,
			CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) THEN pg_has_role(current_user, $1, 'USAGE') ELSE false END
		FROM pg_roles r WHERE r.rolname = current_user`, AppRole).Scan(&r.Name, &r.Schema, &r.Superuser, &r.Owner, &r.App)
	if err != nil {
		return r, fmt.Errorf("storage: the database role: %w", err)
	}
	return r, nil
}

// SetRetentionFloor sets the retention audit_events_expire enforces
// whoever calls it: it refuses a cutoff within years and days of now (both 0:
// it refuses every cutoff, events are kept forever). The floor is a setting
// of the function, so only the owner of the tables can change it, and the
// role serve runs as cannot expire more than the owner allows.
func (s *Store) SetRetentionFloor(ctx context.Context, years, days int) error {
	v := "forever"
	if years != 0 || days != 0 {
		v = fmt.Sprintf("%d years %d days", years, days)
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("storage: set the retention floor: %w", err)
	}
	defer tx.Rollback()
	// Two servers starting at once would update the same function.
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, LockMigrate); err != nil {
		return fmt.Errorf("storage: set the retention floor: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `ALTER FUNCTION audit_events_expire(timestamptz, boolean) SET auditgraph.retention_floor = `+pq.QuoteLiteral(v)); err != nil {
		return fmt.Errorf("storage: set the retention floor to %s: %w", v, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("storage: set the retention floor: %w", err)
	}
	return nil
}

// RetentionFloor returns the retention floor the owner set: "forever", an
// interval such as "6 years 0 days", or "" when none is set.
func (q queries) RetentionFloor(ctx context.Context) (string, error) {
	var v string
	err := q.get(ctx, &v, `SELECT coalesce((SELECT substr(c, length('auditgraph.retention_floor=') + 1)
		FROM pg_proc p, unnest(p.proconfig) c
		WHERE p.oid = 'audit_events_expire(timestamptz, boolean)'::regprocedure AND c LIKE 'auditgraph.retention_floor=%'), '')`)
	if err != nil {
		return "", fmt.Errorf("storage: the retention floor: %w", err)
	}
	return v, nil
}
