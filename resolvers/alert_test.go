package resolvers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/internal/alerting/secretbox"
	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/notify"
	"github.com/auditgraph/auditgraph/notify/integration"
	"github.com/auditgraph/auditgraph/notify/outbox"
	"github.com/auditgraph/auditgraph/notify/webhook"
	"github.com/auditgraph/auditgraph/storage"
)

func TestAlertRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t, deployment.SelfManaged)
	e.addUsers("acme", "admin", "olga")
	e.addUsers("acme", "member", "mia")
	acme, err := e.store.OrganizationByName(e.ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	const token, secret = "T0KEN-graphql-7c6b5a", "whsec-GRAPHQL-4d3c2b"
	box, err := secretbox.New(bytes.Repeat([]byte{9}, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int32
	var verifyErr atomic.Value
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify(notify.NewSecret(secret), r.Header.Get(webhook.HeaderTimestamp), body,
			r.Header.Get(webhook.HeaderSignature), time.Now(), time.Minute); err != nil {
			verifyErr.Store(err)
		}
		hits.Add(1)
	}))
	defer recv.Close()
	u, s := integration.Seal(box, integration.Config{Name: "siem", Kind: integration.Webhook,
		URL: notify.NewSecret(recv.URL + "/" + token), SigningSecret: notify.NewSecret(secret)})
	var hook entity.Integration
	if err := e.store.InTx(e.ctx, func(tx *storage.Tx) error {
		hook, err = tx.CreateIntegration(e.ctx, entity.Integration{OrgID: acme.ID, Name: "siem", Kind: "webhook", URLSealed: u, SigningSecretSealed: s})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	hookID := strconv.FormatInt(hook.ID, 10)

	const create = `mutation($input: AlertRuleInput!) { createAlertRule(organization: "acme", input: $input) {
		id name actions actor target responseCodes responseCodeMin responseCodeMax threshold windowSeconds enabled suggestion
		integrations { name } } }`
	input := map[string]any{"name": "logins", "actions": []string{"user:*"}, "actor": "eve@x.io",
		"responseCodeMin": 400, "responseCodeMax": 499, "threshold": 3, "windowSeconds": 60, "integrations": []string{hookID}}
	var created struct {
		CreateAlertRule struct {
			ID, Name                         string
			Actions                          []string
			Actor, Target                    *string
			ResponseCodes                    []int
			ResponseCodeMin, ResponseCodeMax *int
			Threshold, WindowSeconds         *int
			Enabled                          bool
			Suggestion                       *string
			Integrations                     []struct{ Name string }
		}
	}
	e.mustQuery("olga", create, map[string]any{"input": input}, &created)
	c := created.CreateAlertRule
	if c.Name != "logins" || *c.Actor != "eve@x.io" || c.Target != nil || *c.ResponseCodeMin != 400 || *c.Threshold != 3 ||
		*c.WindowSeconds != 60 || !c.Enabled || c.Suggestion != nil || len(c.Integrations) != 1 || c.Integrations[0].Name != "siem" {
		t.Errorf("createAlertRule = %+v", c)
	}

	// Bad input: the error names the field, nothing is stored.
	for _, tc := range []struct {
		edit func(map[string]any)
		code string
		msg  string
	}{
		{func(m map[string]any) { m["actions"] = []string{"org:*"} }, "BAD_USER_INPUT", `actions: prefix "org:*" matches no action of the catalog`},
		{func(m map[string]any) { m["actions"] = []string{"user:fly"} }, "BAD_USER_INPUT", `actions: unknown action "user:fly"`},
		{func(m map[string]any) { m["windowSeconds"] = nil }, "BAD_USER_INPUT", "window: a threshold needs a window"},
		{func(m map[string]any) { m["integrations"] = []string{"999999"} }, "BAD_USER_INPUT", "an integration is not one of the organization's"},
		{func(m map[string]any) {}, "CONFLICT", "already exists"},
	} {
		t.Run(tc.msg, func(t *testing.T) {
			in := map[string]any{}
			for k, v := range input {
				in[k] = v
			}
			tc.edit(in)
			err := e.queryError("olga", create, map[string]any{"input": in})
			if err.code() != tc.code || !strings.Contains(err.Message, tc.msg) {
				t.Errorf("createAlertRule(%v): %q (%s), want %s containing %q", in, err.Message, err.code(), tc.code, tc.msg)
			}
		})
	}
	if err := e.queryError("mia", create, map[string]any{"input": input}); err.code() != "FORBIDDEN" {
		t.Errorf("member createAlertRule: %+v, want FORBIDDEN", err)
	}

	// Update, then enable a suggestion twice: the second call updates it.
	var updated struct{ UpdateAlertRule struct{ Enabled bool } }
	in := map[string]any{"name": "logins", "actions": []string{"user:login"}, "integrations": []string{hookID}, "enabled": false}
	e.mustQuery("olga", `mutation($id: ID!, $input: AlertRuleInput!) { updateAlertRule(id: $id, input: $input) { enabled } }`,
		map[string]any{"id": c.ID, "input": in}, &updated)
	if updated.UpdateAlertRule.Enabled {
		t.Error("updateAlertRule: still enabled")
	}
	const suggest = `mutation($i: [ID!]!) { enableSuggestedAlertRule(organization: "acme", suggestion: USER_DEACTIVATED, integrations: $i) { id name suggestion actions } }`
	var s1, s2 struct {
		EnableSuggestedAlertRule struct {
			ID, Name, Suggestion string
			Actions              []string
		}
	}
	e.mustQuery("olga", suggest, map[string]any{"i": []string{hookID}}, &s1)
	e.mustQuery("admin", suggest, map[string]any{"i": []string{hookID}}, &s2)
	if s1.EnableSuggestedAlertRule.ID != s2.EnableSuggestedAlertRule.ID || s1.EnableSuggestedAlertRule.Suggestion != "USER_DEACTIVATED" ||
		s1.EnableSuggestedAlertRule.Actions[0] != "user:deactivate" {
		t.Errorf("enableSuggestedAlertRule twice = %+v, %+v", s1, s2)
	}
	var list struct {
		Organization struct {
			AlertRules struct {
				TotalCount int
				Edges      []struct{ Node struct{ Name string } }
			}
		}
	}
	e.mustQuery("olga", `{ organization(name: "acme") { alertRules { totalCount edges { node { name } } } } }`, nil, &list)
	if list.Organization.AlertRules.TotalCount != 2 || list.Organization.AlertRules.Edges[1].Node.Name != "User deactivated" {
		t.Errorf("alertRules = %+v", list)
	}

	// The server's own event raises the suggested alert; a test alert goes
	// through the outbox too; both reach the receiver, signed.
	w, err := outbox.New(outbox.Config{Store: e.store, Secrets: box, Poll: 50 * time.Millisecond, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	if err := e.queryError("mia", `mutation($i: ID!) { sendTestAlert(integration: $i) { id } }`, map[string]any{"i": hookID}); err.code() != "FORBIDDEN" {
		t.Errorf("member sendTestAlert: %+v, want FORBIDDEN", err)
	}
	e.deactivate("mia")
	var test struct {
		SendTestAlert struct {
			ID, Rule, Status string
			EventSequence    *int
		}
	}
	e.mustQuery("olga", `mutation($i: ID!) { sendTestAlert(integration: $i) { id rule status eventSequence } }`, map[string]any{"i": hookID}, &test)
	if test.SendTestAlert.Rule != "Test alert" || test.SendTestAlert.Status != "PENDING" || test.SendTestAlert.EventSequence != nil {
		t.Errorf("sendTestAlert = %+v", test)
	}
	deadline := time.Now().Add(5 * time.Second)
	for hits.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := hits.Load(); n != 2 {
		t.Fatalf("receiver got %d requests, want 2", n)
	}
	if err := verifyErr.Load(); err != nil {
		t.Errorf("webhook.Verify: %v", err)
	}
	const delivery = `{ organization(name: "acme") { integrations { edges { node { name delivery {
		lastSuccessAt lastError attempts delivered pending failed dropped
		recent(first: 1) { pageInfo { hasNextPage endCursor } edges { node { rule status attempts idempotencyKey deliveredAt nextAttemptAt } } } } } } } } }`
	var d struct {
		Organization struct {
			Integrations struct {
				Edges []struct {
					Node struct {
						Delivery struct {
							LastSuccessAt                                 *time.Time
							LastError                                     string
							Attempts, Delivered, Pending, Failed, Dropped int
							Recent                                        struct {
								PageInfo struct{ HasNextPage bool }
								Edges    []struct {
									Node struct {
										Rule, Status, IdempotencyKey string
										Attempts                     int
										DeliveredAt, NextAttemptAt   *time.Time
									}
								}
							}
						}
					}
				}
			}
		}
	}
	deadline = time.Now().Add(3 * time.Second)
	for {
		data, errs := e.query("olga", delivery, nil)
		if len(errs) > 0 {
			t.Fatalf("delivery: %+v", errs)
		}
		for _, s := range []string{token, secret} {
			if strings.Contains(string(data), s) {
				t.Errorf("a secret is in the GraphQL answer: %s", data)
			}
		}
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatal(err)
		}
		if d.Organization.Integrations.Edges[0].Node.Delivery.Delivered == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	got := d.Organization.Integrations.Edges[0].Node.Delivery
	if got.Delivered != 2 || got.Pending != 0 || got.Attempts != 2 || got.LastSuccessAt == nil || got.LastError != "" {
		t.Errorf("delivery = %+v", got)
	}
	if r := got.Recent; !r.PageInfo.HasNextPage || len(r.Edges) != 1 || r.Edges[0].Node.Rule != "Test alert" ||
		r.Edges[0].Node.Status != "DELIVERED" || r.Edges[0].Node.DeliveredAt == nil || r.Edges[0].Node.NextAttemptAt != nil {
		t.Errorf("recent = %+v", r)
	}

	// A receiver that is gone: its error shows, its secrets do not.
	gone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusGone) }))
	defer gone.Close()
	u, s = integration.Seal(box, integration.Config{Name: "old", Kind: integration.Webhook,
		URL: notify.NewSecret(gone.URL + "/" + token), SigningSecret: notify.NewSecret(secret)})
	if err := e.store.InTx(e.ctx, func(tx *storage.Tx) error {
		hook, err = tx.CreateIntegration(e.ctx, entity.Integration{OrgID: acme.ID, Name: "old", Kind: "webhook", URLSealed: u, SigningSecretSealed: s})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	e.mustQuery("olga", `mutation($i: ID!) { sendTestAlert(integration: $i) { id } }`, map[string]any{"i": strconv.FormatInt(hook.ID, 10)}, &test)
	const status = `{ organization(name: "acme") { integrations { edges { node { name status statusReason delivery { lastError failed } } } } } }`
	deadline = time.Now().Add(5 * time.Second)
	for {
		data, errs := e.query("olga", status, nil)
		if len(errs) > 0 {
			t.Fatalf("status: %+v", errs)
		}
		if strings.Contains(string(data), "REVOKED") || time.Now().After(deadline) {
			for _, s := range []string{token, secret} {
				if strings.Contains(string(data), s) {
					t.Errorf("a secret is in the GraphQL answer: %s", data)
				}
			}
			if !strings.Contains(string(data), `"status":"REVOKED","statusReason":"webhook: status 410 Gone","delivery":{"lastError":"webhook: status 410 Gone","failed":1}`) {
				t.Errorf("gone integration: %s", data)
			}
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := e.queryError("olga", `mutation($i: ID!) { sendTestAlert(integration: $i) { id } }`, map[string]any{"i": strconv.FormatInt(hook.ID, 10)}); err.code() != "BAD_USER_INPUT" ||
		err.Message != `invalid value: integration "old" is revoked: reconnect it to send alerts` {
		t.Errorf("sendTestAlert to a revoked integration: %q (%s)", err.Message, err.code())
	}

	var deleted struct{ DeleteAlertRule bool }
	e.mustQuery("olga", `mutation($id: ID!) { deleteAlertRule(id: $id) }`, map[string]any{"id": c.ID}, &deleted)
	// Every change is in the configuration change log, in order.
	var actions []string
	if err := e.store.DB().SelectContext(e.ctx, &actions, `SELECT action || ' ' || target FROM config_changes WHERE org_id = $1 ORDER BY id`, acme.ID); err != nil {
		t.Fatal(err)
	}
	want := "[alert_rule:create logins alert_rule:update logins alert_rule:create User deactivated alert_rule:update User deactivated integration:test_alert siem integration:test_alert old alert_rule:delete logins]"
	if got := strings.Join(actions, " "); "["+got+"]" != want {
		t.Errorf("config changes = [%s], want %s", got, want)
	}
	if _, err := e.store.DB().ExecContext(e.ctx, `DELETE FROM config_changes`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Errorf("DELETE FROM config_changes: %v, want refused as append-only", err)
	}
}
