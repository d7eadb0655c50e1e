package metrics

import (
	"context"
	"net"
	"net/http"
	"time"
)

// Serve answers GET /metrics alone on ln, asking no credentials, until ctx
// ends; then it closes ln and any scrape in progress (a scraper retries)
// and returns nil. An error that stops it sooner is returned.
func (m *Metrics) Serve(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
		srv.Close()
		<-served
		return nil
	}
}
