package main

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gocloud.dev/blob"

	"github.com/auditgraph/auditgraph/chain"
	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/log/notary"
	"github.com/auditgraph/auditgraph/internal/log/verify"
	"github.com/auditgraph/auditgraph/internal/platform/fault"
	"github.com/auditgraph/auditgraph/internal/platform/metrics"
	"github.com/auditgraph/auditgraph/storage"
)

// signingKeyEnv holds the signing key itself; it is read from the
// environment only, so that it never shows in `ps`.
const signingKeyEnv = "AUDITGRAPH_SIGNING_KEY"

// keyFlags are the flags of every command that needs the signing key.
type keyFlags struct{ file string }

func (f *keyFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.file, "signing-key-file", "", "file holding the checkpoint signing key (base64 Ed25519 seed); else $"+signingKeyEnv+", else <data-dir>/"+notary.KeyFileName)
}

func (f *keyFlags) config(dataDir string, generate bool) notary.KeyConfig {
	return notary.KeyConfig{File: f.file, Env: os.Getenv(signingKeyEnv), DataDir: dataDir, Generate: generate}
}

// newNotary loads (or on first start generates) the signing key and
// returns the notary that signs checkpoints with it; its Run, the periodic
// checkpoint job, signs every interval, or never with 0, as when a bucket
// sync signs the checkpoints through the notary.
func newNotary(f *keyFlags, db *dbFlags, external bool, store *storage.Store, reg *metrics.Metrics, interval time.Duration, log *slog.Logger) (notary.Key, *notary.Notary, error) {
	key, err := notary.LoadKey(f.config(db.dataDir, true))
	if err != nil {
		return key, nil, err
	}
	id := chain.KeyID(key.Public())
	if key.Generated {
		log.Info("generated the audit-log checkpoint signing key; publish its public key (auditgraph keys show)", "path", key.Source, "key_id", id)
		if external {
			log.Warn("the signing key is local to this process's --data-dir: give every replica the same key with --signing-key-file or "+signingKeyEnv, "key_id", id)
		}
	}
	return key, notary.New(notary.Config{Store: store, Key: key.Private, Log: log, Metrics: reg, Interval: interval}), nil
}

func keys(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "show" && args[0] != "generate") {
		return usageError{errors.New(`want "keys show", "keys generate" or "keys create-admin-key"`)}
	}
	fs := flag.NewFlagSet("keys "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var kf keyFlags
	dataDir := fs.String("data-dir", "./data", "folder holding the generated signing key")
	if args[0] == "show" {
		kf.register(fs)
	}
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if args[0] == "generate" {
		seed, err := notary.GenerateSeed()
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, seed)
		return nil
	}
	key, err := notary.LoadKey(kf.config(*dataDir, false))
	if err != nil {
		return err
	}
	pub := key.Public()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "key_id:     %s\npublic_key: %s\nsource:     %s\n%s", chain.KeyID(pub),
		base64.StdEncoding.EncodeToString(pub), key.Source, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	return nil
}

// errNotIntact makes verify exit with status 3: the log is not intact.
var errNotIntact = exitCode(3)

// exitCode is an error that only sets the exit status; the command has
// said what is wrong already.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func verifyCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		f           dbFlags
		kf          keyFlags
		org         = fs.String("org", "", "organization to verify; every one when empty")
		fromFlag    = fs.String("from", "", "start: a sequence number, a date (2026-01-02) or an RFC 3339 time; widened to the checkpoint before it")
		toFlag      = fs.String("to", "", "end: a sequence number, a date or a time; widened to the checkpoint at or after it")
		bucketURL   = fs.String("bucket", "", "verify the exported files in this bucket (file://, s3://, gs://, azblob://)")
		source      = fs.String("source", "", "database, bucket or both; default: bucket with --bucket, else database")
		pubKeys     = fs.String("public-key", "", "comma-separated public keys (base64, as auditgraph keys show prints them) checkpoints may be signed with; default: the configured signing key's")
		gapAfter    = fs.Duration("gap-after", verify.DefaultGapAfter, "time between checkpoints reported as a gap (0: none)")
		overdue     = fs.Duration("checkpoint-overdue", verify.DefaultOverdue, "database: report events no checkpoint covers that were stored longer ago than this as missing checkpoints (0: never)")
		saveTo      = fs.String("save-checkpoint", "", "when every organization is intact, write each one's newest checkpoint to this file, to keep elsewhere and pass to a later run's --expect-checkpoint")
		expectFiles stringList
	)
	fs.Var(&expectFiles, "expect-checkpoint", "file of checkpoints kept elsewhere (a bucket's checkpoints/<seq>.json, a --save-checkpoint file); the source must still hold each one; repeatable or comma-separated")
	f.register(fs)
	f.useRunning = true // reading a running server's cluster is safe
	kf.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	from, err := verify.ParseBound(*fromFlag)
	if err != nil {
		return usageError{fmt.Errorf("--from %w", err)}
	}
	to, err := verify.ParseBound(*toFlag)
	if err != nil {
		return usageError{fmt.Errorf("--to %w", err)}
	}
	if *source == "" {
		*source = "database"
		if *bucketURL != "" {
			*source = "bucket"
		}
	}
	useDB, useBucket := *source == "database" || *source == "both", *source == "bucket" || *source == "both"
	switch {
	case !useDB && !useBucket:
		return usageError{fmt.Errorf("--source %q: want database, bucket or both", *source)}
	case useBucket && *bucketURL == "":
		return usageError{fmt.Errorf("--source %s needs --bucket", *source)}
	}
	if *overdue < 0 {
		return usageError{fmt.Errorf("--checkpoint-overdue %s: must not be negative", *overdue)}
	}
	opts := verify.Options{From: from, To: to, GapAfter: *gapAfter}
	if opts.Keys, err = publicKeys(*pubKeys, &kf, f.dataDir); err != nil {
		return err
	}
	if opts.Expect, err = readExpected(expectFiles, opts.Keys); err != nil {
		return err
	}
	dbOpts := opts
	dbOpts.Overdue = *overdue
	var newest []chain.Checkpoint // for --save-checkpoint
	log, err := newLogger(stderr, f.logLevel, f.logFormat)
	if err != nil {
		return err
	}

	intact := true
	report := func(where string, r *chain.Report) {
		printReport(stdout, where, r)
		intact = intact && r.Intact()
	}
	// With both sources the database's reports wait for the bucket's, which
	// can show checkpoints the database lost.
	dbReports := map[string]*chain.Report{}
	var store *storage.Store
	if useDB {
		// Verifying must not start a fresh, empty cluster and call it intact.
		if _, err := os.Stat(filepath.Join(f.dataDir, "pgdata")); f.databaseURL == "" && err != nil {
			return usageError{fmt.Errorf("no database in --data-dir %s: pass --database-url, or --bucket to verify exported files", f.dataDir)}
		}
		s, closeDB, err := openDatabase(ctx, &f, log)
		if err != nil {
			return err
		}
		defer closeDB()
		store = s
		orgs, err := orgsToVerify(ctx, store, *org)
		if err != nil {
			return err
		}
		if len(orgs) == 0 {
			return errors.New("the database has no organizations to verify")
		}
		for _, o := range orgs {
			r, err := verify.Database(ctx, store, o, dbOpts)
			if err != nil {
				return err
			}
			if r.LastCheckpoint > 0 {
				c, err := store.CheckpointAt(ctx, o.ID, r.LastCheckpoint)
				if err != nil {
					return err
				}
				newest = append(newest, notary.ChainCheckpoint(c, o.Name))
			}
			if useBucket {
				dbReports[o.Name] = r
				continue
			}
			report("database", r)
		}
		if *org == "" {
			for _, r := range absentOrgs(orgs, opts.Expect) {
				if useBucket {
					dbReports[r.Org] = r
				} else {
					report("database", r)
				}
			}
		}
	}
	if useBucket {
		b, err := blob.OpenBucket(ctx, *bucketURL)
		if err != nil {
			return usageError{fmt.Errorf("--bucket: %w", err)}
		}
		defer b.Close()
		names := []string{*org}
		if *org == "" {
			if names, err = verify.BucketOrgs(ctx, b); err != nil {
				return err
			}
			if len(names) == 0 {
				return fmt.Errorf("--bucket: no organization folders under %s", verify.Prefix)
			}
		}
		for _, name := range names {
			var id int64
			if store != nil {
				switch o, err := store.OrganizationByName(ctx, name); {
				case err == nil:
					id = o.ID
				case !errors.Is(err, fault.ErrNotFound):
					return err
				case dbReports[name] == nil:
					// Deleted from the database, events, checkpoints and all.
					dbReports[name] = &chain.Report{Org: name}
				}
			}
			bopts := opts
			if id != 0 {
				// The two sources' checkpoints at the same place must agree.
				cps, err := store.Checkpoints(ctx, id, 1, math.MaxInt64)
				if err != nil {
					return err
				}
				for _, c := range cps {
					bopts.Match = append(bopts.Match, notary.ChainCheckpoint(c, name))
				}
			}
			r, err := verify.Bucket(ctx, b, name, id, bopts)
			if err != nil {
				return err
			}
			if !useDB && r.LastCheckpoint > 0 {
				c, err := verify.BucketCheckpoint(ctx, b, name, r.LastCheckpoint)
				if err != nil {
					return err
				}
				newest = append(newest, c)
			}
			if d, ok := dbReports[name]; ok {
				if d.Events == 0 && d.Checkpoints == 0 && r.LastSeq > 0 && d.MissingCount == 0 {
					d.Add(chain.Finding{Kind: chain.Missing, Seq: 1, LastSeq: r.LastSeq, What: fmt.Sprintf(
						"the database has none of the %d events the bucket holds", r.LastSeq)})
				}
				verify.Compare(d, r)
				report("database", d)
				delete(dbReports, name)
			}
			report("bucket", r)
		}
		for _, name := range slices.Sorted(maps.Keys(dbReports)) {
			report("database", dbReports[name])
		}
	}
	if !intact {
		if *saveTo != "" {
			fmt.Fprintf(stderr, "auditgraph verify: not intact: no checkpoint saved to %s\n", *saveTo)
		}
		return errNotIntact
	}
	if *saveTo != "" {
		if err := saveCheckpoints(*saveTo, newest); err != nil {
			return fmt.Errorf("--save-checkpoint: %w", err)
		}
		fmt.Fprintf(stderr, "saved the newest checkpoint of %d organizations to %s: keep a copy where the database's administrators cannot change it\n", len(newest), *saveTo)
	}
	return nil
}

// stringList is a flag that may be repeated, each value comma-separated.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	for s := range strings.SplitSeq(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// readExpected reads the --expect-checkpoint files; each checkpoint must
// be signed by one of keys.
func readExpected(files []string, keys []ed25519.PublicKey) ([]chain.Checkpoint, error) {
	var all []chain.Checkpoint
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, usageError{fmt.Errorf("--expect-checkpoint: %w", err)}
		}
		cps, err := verify.ReadCheckpoints(f, keys)
		f.Close()
		if err != nil {
			return nil, usageError{fmt.Errorf("--expect-checkpoint %s: %w", name, err)}
		}
		all = append(all, cps...)
	}
	return all, nil
}

// absentOrgs returns a report for each organization an expected checkpoint
// names that the database does not have.
func absentOrgs(orgs []entity.Organization, exp []chain.Checkpoint) []*chain.Report {
	var rs []*chain.Report
	seen := map[string]bool{}
	for _, o := range orgs {
		seen[o.Name] = true
	}
	for _, c := range exp {
		if seen[c.Org] {
			continue
		}
		seen[c.Org] = true
		r := &chain.Report{Org: c.Org}
		r.Add(chain.Finding{Kind: chain.Missing, Seq: 1, LastSeq: c.LastSeq, What: fmt.Sprintf(
			"the database has no organization %q, which the expected checkpoint (signed %s) vouches for up to %d", c.Org, c.Time.UTC().Format(time.RFC3339), c.LastSeq)})
		rs = append(rs, r)
	}
	return rs
}

// saveCheckpoints writes cps to path, one per line, replacing it whole.
func saveCheckpoints(path string, cps []chain.Checkpoint) error {
	var buf []byte
	for i := range cps {
		b, err := cps[i].MarshalJSON()
		if err != nil {
			return err
		}
		buf = append(append(buf, b...), '\n')
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// publicKeys returns the keys given on the command line, or the configured
// signing key's public half.
func publicKeys(list string, kf *keyFlags, dataDir string) ([]ed25519.PublicKey, error) {
	var keys []ed25519.PublicKey
	for s := range strings.SplitSeq(list, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		k, err := notary.ParsePublicKey(s)
		if err != nil {
			return nil, usageError{fmt.Errorf("--public-key: %w", err)}
		}
		keys = append(keys, k)
	}
	if len(keys) > 0 {
		return keys, nil
	}
	key, err := notary.LoadKey(kf.config(dataDir, false))
	if err != nil {
		return nil, usageError{fmt.Errorf("no public key to check checkpoints with: pass --public-key (auditgraph keys show prints it): %w", err)}
	}
	return []ed25519.PublicKey{key.Public()}, nil
}

func orgsToVerify(ctx context.Context, store *storage.Store, name string) ([]entity.Organization, error) {
	if name != "" {
		o, err := store.OrganizationByName(ctx, name)
		if errors.Is(err, fault.ErrNotFound) {
			return nil, usageError{fmt.Errorf("--org: no organization %q", name)}
		}
		return []entity.Organization{o}, err
	}
	var all []entity.Organization
	for after := int64(0); ; {
		page, err := store.Organizations(ctx, after, 500)
		if err != nil || len(page) == 0 {
			return all, err
		}
		all = append(all, page...)
		after = page[len(page)-1].ID
	}
}

// printReport writes one organization's outcome: a summary line, then
// every finding, invalid first, then missing, then gaps.
func printReport(w io.Writer, where string, r *chain.Report) {
	status := "intact"
	if !r.Intact() {
		status = fmt.Sprintf("NOT INTACT, first bad sequence number %d", r.FirstBad())
	}
	fmt.Fprintf(w, "%s %s: %s: %d events (seq %d..%d), %d checkpoints, %d invalid, %d missing, %d gaps, %d not yet checkpointed",
		where, r.Org, status, r.Events, r.FirstSeq, r.LastSeq, r.Checkpoints, r.InvalidCount, r.MissingCount, r.GapCount, r.Unsigned)
	if r.Unchained > 0 {
		fmt.Fprintf(w, ", %d stored before the chain existed", r.Unchained)
	}
	fmt.Fprintln(w)
	for _, fs := range [][]chain.Finding{r.Invalid, r.Missing, r.Gaps} {
		for _, f := range fs {
			fmt.Fprintf(w, "  %s\n", f)
		}
	}
}
