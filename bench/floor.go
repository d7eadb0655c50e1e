package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// floorEnv, when set to a listen address, makes the bench binary serve the
// HTTP floor there instead of benchmarking (see startFloor).
const floorEnv = "AUDITGRAPH_BENCH_FLOOR_LISTEN"

// serveFloor answers every POST the way the ingest endpoint answers a
// stored 1-event batch, after reading the body, and does nothing else: no
// authentication, no parsing, no database. What clients get from it is what
// HTTP alone allows on this machine, the ceiling of any server behind an API
// that takes one request per batch.
func serveFloor(addr string) error {
	reply, err := json.Marshal(map[string]int{"received": 1, "stored": 1, "duplicates": 0, "dropped": 0})
	if err != nil {
		return err
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(reply)
	})
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	return srv.ListenAndServe()
}

// startFloor starts the HTTP floor (serveFloor) in a process of its own, as
// the server runs in one: the bench binary again, told by floorEnv.
func startFloor(ctx context.Context) (*server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), floorEnv+"="+addr)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the HTTP floor: %w", err)
	}
	s := &server{cmd: cmd, url: "http://" + addr, exited: make(chan struct{})}
	go func() { s.err = cmd.Wait(); close(s.exited) }()
	err = s.waitReady(ctx, "the HTTP floor", 30*time.Second, func() bool {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.url+"/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}
