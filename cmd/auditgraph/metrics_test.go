package main

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/auditgraph/auditgraph/storage/storagetest"
)

func TestServeMetricsListen(t *testing.T) {
	const key = "00112233445566778899aabbccddeeff00112233"
	t.Setenv("AUDITGRAPH_ADMIN_API_KEY", key)
	unsetEnv(t, "AUDITGRAPH_LISTEN")
	unsetEnv(t, "AUDITGRAPH_METRICS_LISTEN")
	addr, metricsAddr := freeAddr(t), freeAddr(t)
	srv := startServe(t, addr, "--listen", addr, "--metrics-listen", metricsAddr, "--database-url", storagetest.URL(t))

	// A scraper needs no credentials on the metrics listener.
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("auditgraph_http_requests_total{")) ||
		!bytes.Contains(body, []byte("auditgraph_db_pool_open_connections")) {
		t.Errorf("GET /metrics on --metrics-listen = %d, want 200 with the server's metrics:\n%s", resp.StatusCode, body)
	}

	// Nor does the API's listener serve them, to an admin either.
	req, err := http.NewRequest(http.MethodGet, srv.base+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("admin", key)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /metrics on --listen with --metrics-listen set = %d, want 404", resp.StatusCode)
	}

	if code := srv.stop(); code != 0 {
		t.Errorf("serve after cancellation returned %d, want 0; stderr:\n%s", code, srv.stderr)
	}
	if resp, err := http.Get("http://" + metricsAddr + "/metrics"); err == nil {
		resp.Body.Close()
		t.Errorf("GET /metrics after serve returned = %d, want the metrics listener closed", resp.StatusCode)
	}
}
