package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is a running `auditgraph serve` subprocess.
type server struct {
	cmd    *exec.Cmd
	url    string
	exited chan struct{}
	err    error
}

// buildServer builds the auditgraph binary into dir.
func buildServer(ctx context.Context, dir string) (string, error) {
	bin := dir + "/auditgraph"
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/auditgraph")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/auditgraph: %w", err)
	}
	return bin, nil
}

// startServer starts bin on a free local port against dbURL and waits until
// /readyz answers 200. The server's environment holds no AUDITGRAPH_
// variable but the admin key, so the caller's environment cannot change
// what is measured; flags are added to serve's own.
func startServer(ctx context.Context, bin, dbURL, key string, flags ...string) (*server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	// The data folder holds the checkpoint signing key the server generates;
	// every server of a run shares it, so verify can check their checkpoints.
	cmd := exec.Command(bin, append([]string{"serve", "--database-url", dbURL, "--listen", addr, "--log-level", "warn",
		"--data-dir", serverDataDir(bin)}, flags...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AUDITGRAPH_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "AUDITGRAPH_ADMIN_API_KEY="+key)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	// Should the harness die, the kernel stops the server too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	s := &server{cmd: cmd, url: "http://" + addr, exited: make(chan struct{})}
	go func() { s.err = cmd.Wait(); close(s.exited) }()

	err = s.waitReady(ctx, "server", 60*time.Second, func() bool {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/readyz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// waitReady polls ready every 100 ms until it answers true, the process
// exits, ctx ends or within has passed; what names the process in errors.
// On failure the process is stopped.
func (s *server) waitReady(ctx context.Context, what string, within time.Duration, ready func() bool) error {
	deadline := time.Now().Add(within)
	for !ready() {
		select {
		case <-s.exited:
			return fmt.Errorf("%s exited before it was ready: %v", what, s.err)
		case <-ctx.Done():
			s.stop()
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return fmt.Errorf("%s not ready after %s", what, within)
		}
	}
	return nil
}

// stop sends SIGTERM and waits for the server to exit, killing it if it
// takes longer than 30 seconds.
func (s *server) stop() {
	if s == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

// peakRSS returns the server's peak resident set size (VmHWM) in bytes.
func (s *server) peakRSS() (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// serverDataDir is the --data-dir of the servers started from bin.
func serverDataDir(bin string) string { return filepath.Join(filepath.Dir(bin), "data") }
