// Command auditgraph serves an organization activity and audit-log server.
//
//	auditgraph serve     run the server (with a private PostgreSQL unless --database-url is given)
//	auditgraph migrate   apply database migrations and exit
//	auditgraph logs pull fetch new audit logs into daily files, resumable
//	auditgraph verify    check the audit logs' hash chains and signed checkpoints
//	auditgraph keys      show the checkpoint signing key's public key, generate a key,
//	                     or create a new API key for an instance admin who lost theirs
//	auditgraph version   print the version (also --version)
//
// Every flag can also be set from the environment as AUDITGRAPH_<FLAG>, with
// dashes written as underscores: --database-url is AUDITGRAPH_DATABASE_URL.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3";
// builds without it report what go build recorded (see buildVersion).
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: auditgraph <command> [flags]

commands:
  serve     run the server
  migrate   apply database migrations and exit
  logs pull fetch new audit logs from a server into daily files
  verify    check the audit logs' hash chains and signed checkpoints
            (exit 0 intact, 3 something invalid or missing)
  keys      keys show: the checkpoint signing key's id and public key;
            keys generate: print a new key for --signing-key-file;
            keys create-admin-key: a new API key for an instance admin
            (recovery of a lost key; needs the data folder or database)
  version   print the version (also --version)

Run "auditgraph <command> -h" for a command's flags. Every flag can also be
set from the environment as AUDITGRAPH_<FLAG>, e.g. AUDITGRAPH_DATABASE_URL.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], stderr)
	case "migrate":
		err = migrate(ctx, args[1:], stderr)
	case "logs":
		err = logs(ctx, args[1:], stderr)
	case "verify":
		err = verifyCmd(ctx, args[1:], stdout, stderr)
	case "keys":
		if len(args) > 1 && args[1] == "create-admin-key" {
			err = createAdminKey(ctx, args[2:], stdout, stderr)
		} else {
			err = keys(args[1:], stdout, stderr)
		}
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "auditgraph", buildVersion())
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "auditgraph: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var code exitCode
	if errors.As(err, &code) {
		return int(code)
	}
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "auditgraph %s: %v\n", args[0], err)
			return 2
		}
		fmt.Fprintf(stderr, "auditgraph %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// usageError is a bad flag or value; it exits with status 2.
type usageError struct{ error }

// buildVersion returns -X main.version when the binary was built with it;
// else the main module's version go build recorded (the tag of a tagged
// git checkout, else a pseudo-version v0.0.0-TIME-COMMIT, with +dirty for
// uncommitted changes); else the git revision; else "devel" (go run, go
// test, or a build outside a git checkout or with -buildvcs=false).
func buildVersion() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	return versionOf(bi)
}

func versionOf(bi *debug.BuildInfo) string {
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision":
			rev = s.Value[:min(12, len(s.Value))]
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = "+dirty"
		}
	}
	if rev == "" {
		return "devel"
	}
	return "devel-" + rev + dirty
}

// parseFlags parses args, then fills every flag not given on the command line
// from AUDITGRAPH_<FLAG> in the environment. It refuses a negative duration
// in any flag; the commands check the rest of each flag's rule.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || err != nil {
			return
		}
		name := EnvName(f.Name)
		if v, ok := os.LookupEnv(name); ok {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = usageError{fmt.Errorf("%s: %w", name, serr)}
			}
		}
	})
	if err != nil {
		return err
	}
	fs.VisitAll(func(f *flag.Flag) {
		g, ok := f.Value.(flag.Getter)
		if !ok || err != nil {
			return
		}
		if d, ok := g.Get().(time.Duration); ok && d < 0 {
			err = usageError{fmt.Errorf("--%s %s: a duration must not be negative", f.Name, d)}
		}
	})
	return err
}

// EnvName returns the environment variable that sets flag name.
func EnvName(name string) string {
	return "AUDITGRAPH_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", level)}
	}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
	case "json":
		return slog.New(jsonHandler(w, l)), nil
	}
	return nil, usageError{fmt.Errorf("--log-format %q: want text or json", format)}
}

// jsonHandler writes JSON log records with durations as Go duration
// strings ("1m30s"), as the text format does, rather than nanoseconds.
func jsonHandler(w io.Writer, level slog.Leveler) slog.Handler {
	return slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Value.Kind() == slog.KindDuration {
			a.Value = slog.StringValue(a.Value.Duration().String())
		}
		return a
	}})
}
