package browsertest_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/auditgraph/auditgraph/internal/app"
	"github.com/auditgraph/auditgraph/internal/identity"
	"github.com/auditgraph/auditgraph/internal/log/notary"
	"github.com/auditgraph/auditgraph/internal/log/verify"
	"github.com/auditgraph/auditgraph/internal/server"
)

// The Integrity page's harness: a server like newEnv's with verification
// configured (a signing key and the Setup the page shows), events reported
// through the REST API, checkpoints signed by the notary, and tampering as
// the database superuser.

// integrityKey is the test server's checkpoint signing key.
var integrityKey = ed25519.NewKeyFromSeed([]byte("auditgraph-browser-integrity-32b"))

// integrityPublic is its public half in base64, as auditgraph keys show
// prints it.
func integrityPublic() (ed25519.PublicKey, string) {
	pub := integrityKey.Public().(ed25519.PublicKey)
	return pub, base64.StdEncoding.EncodeToString(pub)
}

// serveIntegrity points e at a second server on e's database, the same as
// newEnv's but with verifyAuditLog and auditLogIntegrity configured.
func (e *env) serveIntegrity(setup verify.Setup) {
	e.t.Helper()
	pub, _ := integrityPublic()
	log := slog.New(slog.DiscardHandler)
	srv := httptest.NewServer(server.New(server.Config{Services: app.New(e.store), Identity: identity.New(e.store, e.mode, log), Mode: e.mode, Log: log,
		Verify: &verify.Service{Store: e.store, Keys: []ed25519.PublicKey{pub}, Setup: setup}}))
	e.t.Cleanup(srv.Close)
	e.url = srv.URL
}

// report ingests n events into org's log through POST /api/v1/audit_events
// as the instance admin.
func (e *env) report(org string, n int) {
	e.t.Helper()
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"action":"run:update","actor_email":"bob@example.com","project_name":"p%d"}`+"\n", i%97)
	}
	req, err := http.NewRequestWithContext(e.ctx, http.MethodPost, e.url+"/api/v1/audit_events?org="+org, strings.NewReader(b.String()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.SetBasicAuth("admin", adminKey)
	req.Header.Set("Content-Type", "application/x-ndjson")
	if code, body := e.send(req); code != http.StatusOK {
		e.t.Fatalf("POST /api/v1/audit_events?org=%s = %d %s", org, code, body)
	}
}

// lastSeq is org's last sequence number.
func (e *env) lastSeq(org string) int {
	e.t.Helper()
	return e.count(`SELECT last_seq FROM organizations WHERE name = $1`, org)
}

// checkpoint signs a checkpoint of org's log up to its current end and
// returns that sequence number.
func (e *env) checkpoint(org string) int {
	e.t.Helper()
	o, err := e.store.OrganizationByName(e.ctx, org)
	if err != nil {
		e.t.Fatal(err)
	}
	last := e.lastSeq(org)
	if _, err := notary.New(notary.Config{Store: e.store, Key: integrityKey}).Checkpoint(e.ctx, o.ID, o.Name, int64(last)); err != nil {
		e.t.Fatal(err)
	}
	return last
}

// tamper changes event seq of org's log as the database superuser does:
// past the append-only trigger, without recomputing the hash.
func (e *env) tamper(org string, seq int) {
	e.t.Helper()
	e.exec(`ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only`)
	e.exec(`UPDATE audit_events SET actor_email = 'mallory@example.com'
		WHERE org_id = (SELECT id FROM organizations WHERE name = $1) AND seq = $2`, org, seq)
	e.exec(`ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only`)
}

// captureClipboard makes the page's clipboard writes land in
// window.__copied (headless Chromium has no clipboard to read back).
func (p *page) captureClipboard() {
	p.t.Helper()
	eval[bool](p, `(() => { window.__copied = null;
		navigator.clipboard.writeText = (t) => { window.__copied = t; return Promise.resolve(); };
		return true; })()`)
}

// waitVerified waits until the Integrity page has a verification result
// ("intact" or "broken") and returns which.
func (p *page) waitVerified() string {
	p.t.Helper()
	return until[string](p, "a verification result", `(() => {
		const s = document.querySelector("#integrity-status");
		if (!s) return "";
		return s.classList.contains("intact") ? "intact" : s.classList.contains("broken") ? "broken" : ""; })()`)
}
