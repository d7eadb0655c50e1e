// Command withpg runs a command against a throwaway PostgreSQL cluster, so
// that a whole test run shares one server:
//
//	go run ./tools/withpg go test ./...
//
// The command finds the cluster in AUDITGRAPH_TEST_DATABASE_URL (connected to
// the postgres database as a superuser) and withpg exits with its exit code.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"

	"github.com/auditgraph/auditgraph/internal/platform/pgembed"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: withpg CMD [ARGS...]")
		return 2
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("prog", "withpg")

	// Signals cancel the cluster start until the child runs, then go to it.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		mu    sync.Mutex
		child *os.Process
	)
	go func() {
		for sig := range sigs {
			mu.Lock()
			if child != nil {
				child.Signal(sig)
			} else {
				cancel()
			}
			mu.Unlock()
		}
	}()

	dir, err := os.MkdirTemp("", "withpg-")
	if err != nil {
		logger.Error(err.Error())
		return 1
	}
	defer os.RemoveAll(dir)
	// MkdirTemp makes it 0700; as root, postgres runs as another user that
	// must reach its data below.
	if err := os.Chmod(dir, 0o755); err != nil {
		logger.Error(err.Error())
		return 1
	}
	cluster, err := pgembed.Start(ctx, pgembed.Config{
		DataDir: dir,
		Settings: map[string]string{
			"fsync":              "off",
			"synchronous_commit": "off",
			"full_page_writes":   "off",
			"max_connections":    "300",
		},
		Logger: logger,
	})
	if err != nil {
		logger.Error(err.Error())
		return 1
	}
	defer func() {
		if err := cluster.Stop(context.Background()); err != nil {
			logger.Error(err.Error())
		}
	}()

	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "AUDITGRAPH_TEST_DATABASE_URL="+cluster.URL("postgres"))
	mu.Lock()
	err = cmd.Start()
	child = cmd.Process
	mu.Unlock()
	if err != nil {
		logger.Error(err.Error())
		return 1
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()) // as a shell reports it
		}
		return exit.ExitCode()
	default:
		logger.Error(err.Error())
		return 1
	}
}
