package storage_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

// Citus readiness (README: Scaling past one PostgreSQL). Every
// organization-scoped table keeps the organization id in its keys, so that
// it can be distributed by organization (Citus'
// create_distributed_table(table, 'org_id')) without a redesign: Citus
// requires a distributed table's primary key and unique indexes to include
// the distribution column, and routes a query that names one org_id to one
// shard.

// citusReference lists the tables that are not scoped by organization, each
// with what Citus would make of it: a reference table (copied to every
// node, joinable from any shard) or a local table on the coordinator.
var citusReference = map[string]string{
	"users":              "reference: a user belongs to any number of organizations",
	"api_keys":           "reference: keys belong to users, and authenticate every request",
	"sessions":           "reference: sign-in sessions belong to users",
	"settings":           "reference: the instance's settings",
	"oauth_states_used":  "reference: Slack OAuth states, spent before an organization is known",
	"retention_log":      "coordinator: the expiry job's instance-wide log",
	"bucket_sync_status": "coordinator: the bucket sync's instance-wide state",
	"schema_migrations":  "coordinator: the migrations' own bookkeeping",
}

// citusOrgColumn names the organization id column of a table that calls it
// something other than org_id.
var citusOrgColumn = map[string]string{"organizations": "id"}

// citusKnownGaps are the organization-scoped tables and unique indexes that
// lack the organization id today, with what would change before
// distributing them. The test fails on any gap not listed here (a new
// table or index must carry org_id), and on a listed one that is gone
// (then delete its line).
var citusKnownGaps = map[string]string{
	"organizations.organizations_name_key":                         "names are unique across organizations: keep id/name/plan in a reference table and move last_seq/last_hash (written by every append) to a distributed org_heads(org_id)",
	"alert_counters (no org_id)":                                   "add org_id (from alert_rules) and make the key (org_id, rule_id, actor)",
	"alert_outbox.alert_outbox_pkey":                               "key (org_id, id)",
	"alert_outbox.alert_outbox_integration_id_idempotency_key_key": "unique (org_id, integration_id, idempotency_key)",
	"alert_rules.alert_rules_pkey":                                 "key (org_id, id); alert_counters and alert_outbox refer to it with org_id",
	"config_changes.config_changes_pkey":                           "key (org_id, id)",
	"integrations.integrations_pkey":                               "key (org_id, id); alert_outbox refers to it with org_id",
	"teams.teams_pkey":                                             "key (org_id, id); team_members refers to it with org_id",
	"team_members (no org_id)":                                     "add org_id (from teams) and make the key (org_id, team_id, user_id)",
}

func TestSchemaReadyForCitus(t *testing.T) {
	ctx := context.Background()
	st, err := storage.Open(ctx, storagetest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	gaps := citusGaps(t, st.DB())
	for _, g := range gaps {
		if _, known := citusKnownGaps[g]; !known {
			t.Errorf("%s: an organization-scoped table, and each of its unique indexes and its primary key, must include "+
				"org_id, so that the table can be distributed by organization (Citus); or, if the table is not scoped by "+
				"organization, list it in citusReference with the reason", g)
		}
	}
	for g := range citusKnownGaps {
		if !slices.Contains(gaps, g) {
			t.Errorf("citusKnownGaps lists %s, which the schema no longer has: delete its line", g)
		}
	}
}

// TestCitusCheckCatchesGaps: the check finds a new organization-scoped table
// without org_id, and a unique index or primary key without it.
func TestCitusCheckCatchesGaps(t *testing.T) {
	ctx := context.Background()
	st, err := storage.Open(ctx, storagetest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.DB().ExecContext(ctx, `
		CREATE TABLE probe_widgets (id bigserial PRIMARY KEY, org_id bigint NOT NULL, name text NOT NULL);
		CREATE UNIQUE INDEX probe_widgets_name ON probe_widgets (name);
		CREATE TABLE probe_counters (widget_id bigint PRIMARY KEY);
		CREATE TABLE probe_fine (org_id bigint, id bigint, PRIMARY KEY (org_id, id))`); err != nil {
		t.Fatal(err)
	}
	gaps := citusGaps(t, st.DB())
	for _, want := range []string{"probe_widgets.probe_widgets_pkey", "probe_widgets.probe_widgets_name", "probe_counters (no org_id)"} {
		if !slices.Contains(gaps, want) {
			t.Errorf("gaps %v: want %s", gaps, want)
		}
	}
	for _, g := range gaps {
		if strings.HasPrefix(g, "probe_fine") {
			t.Errorf("gap %s: probe_fine keeps org_id in its key", g)
		}
	}
}

// citusGaps returns the organization-scoped tables of db's public schema
// without an organization id column ("table (no org_id)"), and their
// unique indexes (primary keys included) without it ("table.index").
func citusGaps(t *testing.T, db *sqlx.DB) []string {
	t.Helper()
	ctx := context.Background()
	// The ordinary and partitioned tables of the migrated schema; a
	// partition is checked through its parent (audit_events).
	var tables []string
	if err := db.SelectContext(ctx, &tables, `SELECT c.relname FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
		ORDER BY c.relname`); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(tables, "audit_events") || !slices.Contains(tables, "memberships") {
		t.Fatalf("the catalog lists %v: not the migrated schema", tables)
	}
	var gaps []string
	for _, table := range tables {
		if _, ok := citusReference[table]; ok {
			continue
		}
		orgCol := "org_id"
		if c, ok := citusOrgColumn[table]; ok {
			orgCol = c
		}
		var cols []string
		if err := db.SelectContext(ctx, &cols, `SELECT attname FROM pg_attribute
			WHERE attrelid = ('public.' || quote_ident($1))::regclass AND attnum > 0 AND NOT attisdropped`, table); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(cols, orgCol) {
			gaps = append(gaps, table+" (no org_id)")
			continue
		}
		// Unique indexes, primary keys included. An expression index has
		// attnum 0 for its expressions: only a plain org_id column counts.
		var uniques []struct {
			Name string `db:"name"`
			Cols string `db:"cols"`
		}
		if err := db.SelectContext(ctx, &uniques, `SELECT i.relname AS name,
				coalesce(string_agg(a.attname, ',' ORDER BY k.ord), '') AS cols
			FROM pg_index x
			JOIN pg_class i ON i.oid = x.indexrelid
			CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord)
			LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
			WHERE x.indrelid = ('public.' || quote_ident($1))::regclass AND x.indisunique
			GROUP BY i.relname ORDER BY i.relname`, table); err != nil {
			t.Fatal(err)
		}
		for _, u := range uniques {
			if !slices.Contains(strings.Split(u.Cols, ","), orgCol) {
				gaps = append(gaps, table+"."+u.Name)
			}
		}
	}
	return gaps
}
