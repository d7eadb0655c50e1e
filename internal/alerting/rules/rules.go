// Package rules manages an organization's alert rules for its admins:
// creating, changing and deleting them, enabling a built-in suggestion, and
// sending a test alert. Each change is recorded in the configuration change
// log in the change's transaction, since the audit catalog (fixed by the
// documented interface) has no action for it.
package rules

import (
	"context"
	"errors"
	"fmt"

	"github.com/auditgraph/auditgraph/internal/alerting"
	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/identity/access"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/platform/fault"
	"github.com/auditgraph/auditgraph/storage"
)

// Service applies rule changes on behalf of an org admin.
type Service struct{ store *storage.Store }

// New returns a Service over store.
func New(store *storage.Store) *Service { return &Service{store: store} }

// record logs a change of rule r.
func record(ctx context.Context, tx *storage.Tx, actor *auth.Principal, action string, r entity.Rule) error {
	return tx.RecordConfigChange(ctx, change(actor, r.OrgID, action, r.Name))
}

// change is the log entry of actor's change of target.
func change(actor *auth.Principal, orgID int64, action, target string) entity.ConfigChange {
	id := actor.User.ID
	return entity.ConfigChange{OrgID: &orgID, ActorUserID: &id, ActorUsername: actor.User.Username, Action: action, Target: target}
}

// adminOrg returns the organization named orgName if actor administers it.
func adminOrg(ctx context.Context, tx *storage.Tx, actor *auth.Principal, orgName string) (entity.Organization, error) {
	return access.AdminOrg(ctx, tx, actor.User, orgName)
}

// Create adds a rule to the organization orgName.
func (s *Service) Create(ctx context.Context, actor *auth.Principal, orgName string, r alerting.Rule) (entity.AlertRule, error) {
	var out entity.AlertRule
	err := s.store.InTx(ctx, func(tx *storage.Tx) error {
		org, err := adminOrg(ctx, tx, actor, orgName)
		if err != nil {
			return err
		}
		r.OrgID, r.Suggestion = org.ID, ""
		if err := r.Validate(); err != nil {
			return err
		}
		id := actor.User.ID
		if out, err = tx.CreateAlertRule(ctx, entity.Rule(r), &id); err != nil {
			return ruleError(err, r)
		}
		return record(ctx, tx, actor, entity.ChangeAlertRuleCreate, out.Rule)
	})
	return out, err
}

// Update replaces rule id's conditions, integrations and enabled flag.
func (s *Service) Update(ctx context.Context, actor *auth.Principal, id int64, r alerting.Rule) (entity.AlertRule, error) {
	var out entity.AlertRule
	err := s.store.InTx(ctx, func(tx *storage.Tx) error {
		old, err := tx.AlertRule(ctx, id)
		if err := access.RequireOwnerAdmin(ctx, tx, actor.User, old.OrgID, err, fmt.Sprintf("alert rule %d", id)); err != nil {
			return err
		}
		r.ID, r.OrgID, r.Suggestion = id, old.OrgID, old.Suggestion
		if err := r.Validate(); err != nil {
			return err
		}
		if out, err = tx.UpdateAlertRule(ctx, entity.Rule(r)); err != nil {
			return ruleError(err, r)
		}
		return record(ctx, tx, actor, entity.ChangeAlertRuleUpdate, out.Rule)
	})
	return out, err
}

// Delete removes rule id; alerts it raised that are still in the outbox
// are delivered.
func (s *Service) Delete(ctx context.Context, actor *auth.Principal, id int64) error {
	return s.store.InTx(ctx, func(tx *storage.Tx) error {
		old, err := tx.AlertRule(ctx, id)
		if err := access.RequireOwnerAdmin(ctx, tx, actor.User, old.OrgID, err, fmt.Sprintf("alert rule %d", id)); err != nil {
			return err
		}
		if err := tx.DeleteAlertRule(ctx, id); err != nil {
			return err
		}
		return record(ctx, tx, actor, entity.ChangeAlertRuleDelete, old.Rule)
	})
}

// EnableSuggested creates the organization's rule of a built-in suggestion
// (alerting.Suggestions) delivering to integrations, or, when the
// organization has it already, enables it and points it at integrations.
func (s *Service) EnableSuggested(ctx context.Context, actor *auth.Principal, orgName, suggestion string, integrations []int64) (entity.AlertRule, error) {
	var out entity.AlertRule
	err := s.store.InTx(ctx, func(tx *storage.Tx) error {
		org, err := adminOrg(ctx, tx, actor, orgName)
		if err != nil {
			return err
		}
		r, err := alerting.Suggested(suggestion, org.ID, integrations)
		if err != nil {
			return err
		}
		if err := r.Validate(); err != nil {
			return err
		}
		old, err := tx.AlertRuleBySuggestion(ctx, org.ID, suggestion)
		switch {
		case errors.Is(err, fault.ErrNotFound):
			id := actor.User.ID
			if out, err = tx.CreateAlertRule(ctx, entity.Rule(r), &id); err != nil {
				return ruleError(err, r)
			}
			return record(ctx, tx, actor, entity.ChangeAlertRuleCreate, out.Rule)
		case err != nil:
			return err
		}
		old.Integrations, old.Enabled = integrations, true
		if out, err = tx.UpdateAlertRule(ctx, old.Rule); err != nil {
			return ruleError(err, alerting.Rule(old.Rule))
		}
		return record(ctx, tx, actor, entity.ChangeAlertRuleUpdate, out.Rule)
	})
	return out, err
}

// SendTest puts a test alert for an integration in the outbox, to be
// delivered like any alert.
func (s *Service) SendTest(ctx context.Context, actor *auth.Principal, integrationID int64) (entity.OutboxAlert, error) {
	var out entity.OutboxAlert
	err := s.store.InTx(ctx, func(tx *storage.Tx) error {
		in, err := tx.Integration(ctx, integrationID)
		if err := access.RequireOwnerAdmin(ctx, tx, actor.User, in.OrgID, err, fmt.Sprintf("integration %d", integrationID)); err != nil {
			return err
		}
		if in.Status == entity.IntegrationRevoked || in.Status == entity.IntegrationDisconnected {
			return fault.New(fault.ErrInvalid, "integration %q is %s: reconnect it to send alerts", in.Name, in.Status)
		}
		if out, err = tx.EnqueueTestAlert(ctx, in.OrgID, in.ID, alerting.TestRuleName); err != nil {
			return err
		}
		return tx.RecordConfigChange(ctx, change(actor, in.OrgID, entity.ChangeIntegrationTestAlert, in.Name))
	})
	return out, err
}

// ruleError gives storage's refusal of a rule's integrations its public
// message: storage refuses a rule as invalid only for integrations that are
// not its organization's.
func ruleError(err error, r alerting.Rule) error {
	if errors.Is(err, fault.ErrInvalid) {
		return fault.Wrap(fault.ErrInvalid, err, "alert rule %q: an integration is not one of the organization's (or is listed twice)", r.Name)
	}
	return err
}
