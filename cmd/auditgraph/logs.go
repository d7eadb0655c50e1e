package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/auditgraph/auditgraph/internal/log/bucketsync"
	"github.com/auditgraph/auditgraph/internal/log/logpull"
)

const logsUsage = `usage: auditgraph logs pull --url URL --username U --out DIR|BUCKET-URL [flags]

Fetches an organization's audit logs that are new since the last run into
daily NDJSON files. Give the API key in AUDITGRAPH_API_KEY, so that it does
not show in ps.`

// logs runs `auditgraph logs pull`.
func logs(ctx context.Context, args []string, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "pull" {
		fmt.Fprintln(stderr, logsUsage)
		return usageError{errors.New(`want "logs pull"`)}
	}
	fs := flag.NewFlagSet("logs pull", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		serverURL = fs.String("url", "", "the server's base URL, e.g. https://wandb.example.com")
		username  = fs.String("username", "", "user (or service account) whose API key is used")
		apiKey    = fs.String("api-key", "", "API key; prefer the environment variable AUDITGRAPH_API_KEY")
		org       = fs.String("org", "", "organization to pull; empty: the user's API organization")
		out       = fs.String("out", "", "folder for <yyyy-mm-dd>.ndjson files, or a bucket URL (file://, s3://, gs://, azblob://)")
		anonymize = fs.Bool("anonymize", false, "fetch with anonymize=true (no PII)")
		statePath = fs.String("state", "", "state file; default <out>/.auditgraph-pull-state.json for a folder (required for a bucket)")
		since     = fs.String("since", "", "UTC day a first run starts at (YYYY-MM-DD); default 7 days ago")
		settle    = fs.Duration("settle", time.Minute, "how far behind now each run stops, for events reported late")
		pageSize  = fs.Int("page-size", 5000, "events per request, 1 to 20000")
	)
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	u, err := url.Parse(*serverURL)
	if *serverURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageError{fmt.Errorf("--url %q: want the server's http:// or https:// base URL", *serverURL)}
	}
	if u.User != nil {
		return usageError{errors.New("--url: put no credentials in the URL; use --username and AUDITGRAPH_API_KEY")}
	}
	if *username == "" || *apiKey == "" {
		return usageError{errors.New("--username and an API key (AUDITGRAPH_API_KEY or --api-key) are required")}
	}
	if *pageSize < 1 || *pageSize > 20000 {
		return usageError{fmt.Errorf("--page-size %d: want 1 to 20000", *pageSize)}
	}
	if *settle < 0 {
		return usageError{errors.New("--settle: must not be negative")}
	}
	start := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -7)
	if *since != "" {
		if start, err = time.Parse(time.DateOnly, *since); err != nil {
			return usageError{fmt.Errorf("--since %q: want a date such as 2025-01-31", *since)}
		}
	}
	cfg := logpull.Config{URL: *serverURL, Username: *username, APIKey: *apiKey, Org: *org, Anonymize: *anonymize,
		StatePath: *statePath, Since: start, Settle: *settle, PageSize: *pageSize}
	switch {
	case *out == "":
		return usageError{errors.New("--out: a folder or a bucket URL is required")}
	case strings.Contains(*out, "://"):
		if cfg.StatePath == "" {
			return usageError{errors.New("--state: required when --out is a bucket")}
		}
		b, err := bucketsync.Open(ctx, *out)
		if err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		defer b.Close()
		cfg.Out = logpull.Bucket{B: b}
	default:
		cfg.Out = logpull.Dir(*out)
		if cfg.StatePath == "" {
			cfg.StatePath = filepath.Join(*out, ".auditgraph-pull-state.json")
		}
	}
	tty := isTerminal(stderr)
	if tty {
		cfg.Progress = stderr
	}
	res, err := logpull.Pull(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted after %d events; the next run resumes from %s", res.Events, cfg.StatePath)
		}
		return err
	}
	if tty {
		fmt.Fprintf(stderr, "pulled %d events; up to date until %s\n", res.Events, res.Position.Format(time.RFC3339))
	}
	return nil
}

// isTerminal reports whether w is a terminal, so that cron runs stay silent.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	var t syscall.Termios
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), syscall.TCGETS, uintptr(unsafe.Pointer(&t)))
	return errno == 0
}
