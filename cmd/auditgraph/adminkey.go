package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/auditgraph/auditgraph/internal/identity"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
)

// createAdminKey runs `auditgraph keys create-admin-key`: a new API key for
// an instance admin who lost theirs. Access to the data folder (or the
// database URL) is the authority, as it is over everything stored; the key
// is recorded as user:create_api_key like any other.
func createAdminKey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("keys create-admin-key", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		f        dbFlags
		username = fs.String("admin-username", "admin", "the instance admin to create the key for")
		keyName  = fs.String("name", "recovery", "name of the new key, as the admin's key list shows it")
		mode     = fs.String("deployment", string(deployment.SelfManaged), "self-managed, dedicated or multi-tenant, as the server runs")
	)
	f.register(fs)
	// A running server's cluster is used as it is: the key works at once,
	// with no need to stop the server.
	f.useRunning = true
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	m, err := deployment.Parse(*mode)
	if err != nil {
		return usageError{fmt.Errorf("--deployment: %w", err)}
	}
	log, err := newLogger(stderr, f.logLevel, f.logFormat)
	if err != nil {
		return err
	}
	// A key in a fresh, empty cluster would recover nothing.
	if _, err := os.Stat(filepath.Join(f.dataDir, "pgdata")); f.databaseURL == "" && err != nil {
		return usageError{fmt.Errorf("no database in --data-dir %s: pass the --data-dir (or --database-url) the server uses", f.dataDir)}
	}
	store, closeDB, err := openDatabase(ctx, &f, log)
	if err != nil {
		return err
	}
	defer closeDB()
	key, recordedIn, err := identity.New(store, m, log).RecoverAdminKey(ctx, identity.AdminKeyRecovery{
		Username:   *username,
		KeyName:    *keyName,
		CLIVersion: "auditgraph " + buildVersion() + " keys create-admin-key",
	})
	if err != nil {
		return err
	}
	// The key alone on stdout, so that KEY=$(auditgraph keys create-admin-key) works.
	fmt.Fprintln(stdout, key)
	fmt.Fprintf(stderr, "Created API key %q for instance admin %q, shown only this once (on stdout).\n", *keyName, *username)
	if recordedIn == 0 {
		fmt.Fprintf(stderr, "%s belongs to no organization, so no audit log recorded it.\n", *username)
	} else {
		fmt.Fprintf(stderr, "Recorded as user:create_api_key in the audit log of %d organization(s).\n", recordedIn)
	}
	return nil
}
