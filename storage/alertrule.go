package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/lib/pq"
)

const alertRuleColumns = `id, org_id, name, actions, actor, target, codes, code_min, code_max, threshold,
	window_seconds, integration_ids, enabled, suggestion, created_by, created_at, updated_at`

type alertRuleRow struct {
	ID             int64          `db:"id"`
	OrgID          int64          `db:"org_id"`
	Name           string         `db:"name"`
	Actions        pq.StringArray `db:"actions"`
	Actor          string         `db:"actor"`
	Target         string         `db:"target"`
	Codes          pq.Int64Array  `db:"codes"`
	CodeMin        int            `db:"code_min"`
	CodeMax        int            `db:"code_max"`
	Threshold      int            `db:"threshold"`
	WindowSeconds  int            `db:"window_seconds"`
	IntegrationIDs pq.Int64Array  `db:"integration_ids"`
	Enabled        bool           `db:"enabled"`
	Suggestion     string         `db:"suggestion"`
	CreatedBy      *int64         `db:"created_by"`
	CreatedAt      time.Time      `db:"created_at"`
	UpdatedAt      time.Time      `db:"updated_at"`
}

func (r alertRuleRow) rule() entity.AlertRule {
	codes := make([]int, len(r.Codes))
	for i, c := range r.Codes {
		codes[i] = int(c)
	}
	return entity.AlertRule{
		Rule: entity.Rule{
			ID: r.ID, OrgID: r.OrgID, Name: r.Name, Actions: []string(r.Actions), Actor: r.Actor, Target: r.Target,
			Codes: codes, CodeMin: r.CodeMin, CodeMax: r.CodeMax, Threshold: r.Threshold,
			Window: time.Duration(r.WindowSeconds) * time.Second, Integrations: []int64(r.IntegrationIDs),
			Enabled: r.Enabled, Suggestion: r.Suggestion,
		},
		CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
}

func ruleArgs(r entity.Rule) []any {
	codes := make(pq.Int64Array, len(r.Codes))
	for i, c := range r.Codes {
		codes[i] = int64(c)
	}
	return []any{r.Name, pq.StringArray(r.Actions), r.Actor, r.Target, codes, r.CodeMin, r.CodeMax, r.Threshold,
		int(r.Window / time.Second), int64Array(r.Integrations), r.Enabled, r.Suggestion}
}

// CreateAlertRule stores a new rule of r.OrgID. A name the organization
// already uses is ErrConflict; an integration that is not the
// organization's is ErrInvalid.
func (tx *Tx) CreateAlertRule(ctx context.Context, r entity.Rule, createdBy *int64) (entity.AlertRule, error) {
	if err := tx.checkRuleIntegrations(ctx, r); err != nil {
		return entity.AlertRule{}, err
	}
	var row alertRuleRow
	err := tx.get(ctx, &row, `INSERT INTO alert_rules (name, actions, actor, target, codes, code_min, code_max,
			threshold, window_seconds, integration_ids, enabled, suggestion, org_id, created_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING `+alertRuleColumns,
		append(ruleArgs(r), r.OrgID, createdBy)...)
	if err != nil {
		return entity.AlertRule{}, fmt.Errorf("storage: create alert rule %q in organization %d: %w", r.Name, r.OrgID, classify(err))
	}
	return row.rule(), nil
}

// UpdateAlertRule replaces the conditions, integrations and enabled flag
// of rule r.ID (its organization stays). Changing a threshold rule resets
// its counters, since they counted under the old conditions.
func (tx *Tx) UpdateAlertRule(ctx context.Context, r entity.Rule) (entity.AlertRule, error) {
	if err := tx.checkRuleIntegrations(ctx, r); err != nil {
		return entity.AlertRule{}, err
	}
	var row alertRuleRow
	err := tx.get(ctx, &row, `UPDATE alert_rules SET name = $1, actions = $2, actor = $3, target = $4, codes = $5,
			code_min = $6, code_max = $7, threshold = $8, window_seconds = $9, integration_ids = $10, enabled = $11,
			suggestion = $12, updated_at = now()
		WHERE id = $13 AND org_id = $14 RETURNING `+alertRuleColumns, append(ruleArgs(r), r.ID, r.OrgID)...)
	if err != nil {
		return entity.AlertRule{}, notFound(classify(err), "storage: update alert rule %d", r.ID)
	}
	if _, err := tx.exec(ctx, `DELETE FROM alert_counters WHERE rule_id = $1`, r.ID); err != nil {
		return entity.AlertRule{}, fmt.Errorf("storage: reset counters of alert rule %d: %w", r.ID, err)
	}
	return row.rule(), nil
}

// checkRuleIntegrations makes sure every integration of r belongs to r's
// organization.
func (tx *Tx) checkRuleIntegrations(ctx context.Context, r entity.Rule) error {
	var n int
	if err := tx.get(ctx, &n, `SELECT count(*) FROM integrations WHERE org_id = $1 AND id = ANY($2)`,
		r.OrgID, int64Array(r.Integrations)); err != nil {
		return fmt.Errorf("storage: alert rule integrations: %w", err)
	}
	if n != len(r.Integrations) {
		return fmt.Errorf("storage: alert rule %q: %w: an integration is not one of the organization's (or is listed twice)", r.Name, ErrInvalid)
	}
	return nil
}

// DeleteAlertRule removes a rule and its counters; its alerts still in the
// outbox are delivered.
func (tx *Tx) DeleteAlertRule(ctx context.Context, id int64) error {
	n, err := tx.exec(ctx, `DELETE FROM alert_rules WHERE id = $1`, id)
	if err == nil && n == 0 {
		err = ErrNotFound
	}
	return notFound(err, "storage: delete alert rule %d", id)
}

// AlertRule returns the rule with id.
func (q queries) AlertRule(ctx context.Context, id int64) (entity.AlertRule, error) {
	var row alertRuleRow
	err := q.get(ctx, &row, `SELECT `+alertRuleColumns+` FROM alert_rules WHERE id = $1`, id)
	return row.rule(), notFound(err, "storage: get alert rule %d", id)
}

// OrgAlertRules returns up to limit of an organization's rules with ids
// above afterID, oldest first.
func (q queries) OrgAlertRules(ctx context.Context, orgID, afterID int64, limit int) ([]entity.AlertRule, error) {
	var rows []alertRuleRow
	err := q.sel(ctx, &rows, `SELECT `+alertRuleColumns+` FROM alert_rules WHERE org_id = $1 AND id > $2
		ORDER BY id LIMIT $3`, orgID, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: alert rules of organization %d: %w", orgID, err)
	}
	rules := make([]entity.AlertRule, len(rows))
	for i, r := range rows {
		rules[i] = r.rule()
	}
	return rules, nil
}

// CountOrgAlertRules counts an organization's rules.
func (q queries) CountOrgAlertRules(ctx context.Context, orgID int64) (int, error) {
	var n int
	if err := q.get(ctx, &n, `SELECT count(*) FROM alert_rules WHERE org_id = $1`, orgID); err != nil {
		return 0, fmt.Errorf("storage: count alert rules of organization %d: %w", orgID, err)
	}
	return n, nil
}

// EnabledAlertRules returns an organization's enabled rules.
func (tx *Tx) EnabledAlertRules(ctx context.Context, orgID int64) ([]entity.Rule, error) {
	var rows []alertRuleRow
	err := tx.sel(ctx, &rows, `SELECT `+alertRuleColumns+` FROM alert_rules WHERE org_id = $1 AND enabled ORDER BY id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("storage: enabled alert rules of organization %d: %w", orgID, err)
	}
	rules := make([]entity.Rule, len(rows))
	for i, r := range rows {
		rules[i] = r.rule().Rule
	}
	return rules, nil
}

// AlertRuleBySuggestion returns the organization's rule made from a
// built-in suggestion.
func (q queries) AlertRuleBySuggestion(ctx context.Context, orgID int64, suggestion string) (entity.AlertRule, error) {
	var row alertRuleRow
	err := q.get(ctx, &row, `SELECT `+alertRuleColumns+` FROM alert_rules WHERE org_id = $1 AND suggestion = $2
		ORDER BY id LIMIT 1`, orgID, suggestion)
	return row.rule(), notFound(err, "storage: alert rule of suggestion %q in organization %d", suggestion, orgID)
}
