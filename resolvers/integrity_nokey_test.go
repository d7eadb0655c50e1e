package resolvers_test

import (
	"encoding/json"
	"testing"

	"github.com/auditgraph/auditgraph/internal/platform/deployment"
)

// TestAuditLogIntegrityWithoutSigningKey: a server built without a
// verification service (so without a signing key; serve always has one)
// says plainly that it signs no checkpoints and shows the rest, instead of
// failing; it still checks who asks first, and verifies the hash chain.
func TestAuditLogIntegrityWithoutSigningKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t, deployment.SelfManaged)
	e.add("acme", member{username: "boss", role: "admin"}, member{username: "bob"})
	e.ingest("admin", "acme", `{"action":"run:update","actor_email":"bob@x.io"}
`)
	const q = `query($org: String!) { auditLogIntegrity(organization: $org) {
		organization lastSequence notCheckpointed checkpointsSigned signingKey { keyId } verifyCommand checkpointIntervalSeconds
		retention { setting } } }`
	data, errs := e.query("boss", q, map[string]any{"org": "acme"})
	if len(errs) > 0 {
		t.Fatalf("auditLogIntegrity without a signing key: %+v", errs)
	}
	var got struct {
		AuditLogIntegrity struct {
			Organization              string
			LastSequence              int
			CheckpointsSigned         bool
			SigningKey                *struct{ KeyID string }
			VerifyCommand             *string
			CheckpointIntervalSeconds *int
			Retention                 struct{ Setting string }
		}
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	g := got.AuditLogIntegrity
	if g.Organization != "acme" || g.LastSequence < 1 || g.CheckpointsSigned || g.SigningKey != nil || g.VerifyCommand != nil ||
		g.CheckpointIntervalSeconds != nil || g.Retention.Setting == "" {
		t.Errorf("auditLogIntegrity = %s, want checkpointsSigned false, no key, no command, no interval, the rest", data)
	}
	if err := e.queryError("bob", q, map[string]any{"org": "acme"}); err.code() != "FORBIDDEN" {
		t.Errorf("member: %s %q, want FORBIDDEN", err.code(), err.Message)
	}
	var v struct{ VerifyAuditLog struct{ Intact bool } }
	e.mustQuery("boss", `{ verifyAuditLog(organization: "acme") { intact } }`, nil, &v)
	if !v.VerifyAuditLog.Intact {
		t.Error("verifyAuditLog without a signing key: not intact, want intact (no checkpoint to check)")
	}
}
