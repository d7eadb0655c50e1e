// The dialog that creates or edits an alert rule: the actions picker (the
// documented catalog grouped by kind, or every action of a kind), the
// actor and target filters, response codes, the threshold and its window,
// the integrations, and whether it is enabled.
import { useState } from 'preact/hooks';
import { gql } from '../api';
import { Dialog, errorText } from '../ui';
import { useActionGroups } from './catalog';
import { type AlertRule, type AlertRuleInput, type Integration, createRuleMutation, updateRuleMutation } from './queries';
import { fmtSeconds } from './util';

/** A rule's conditions in words. */
export function ruleSummary(r: AlertRule): string {
  const parts: string[] = [r.actions.join(', ')];
  if (r.actor) parts.push(`by ${r.actor}`);
  if (r.target) parts.push(`about ${r.target}`);
  if (r.responseCodes.length) parts.push(`response ${r.responseCodes.join(' or ')}`);
  if (r.responseCodeMin != null && r.responseCodeMax != null) parts.push(`response ${r.responseCodeMin}–${r.responseCodeMax}`);
  else if (r.responseCodeMin != null) parts.push(`response ≥ ${r.responseCodeMin}`);
  else if (r.responseCodeMax != null) parts.push(`response ≤ ${r.responseCodeMax}`);
  if (r.threshold && r.threshold > 1 && r.windowSeconds) {
    parts.push(`${r.threshold} by one actor within ${fmtSeconds(r.windowSeconds)}`);
  } else {
    parts.push('every event');
  }
  return parts.join('; ');
}

const UNITS = [
  { v: 1, label: 'seconds' },
  { v: 60, label: 'minutes' },
  { v: 3600, label: 'hours' },
];

interface Form {
  name: string;
  actions: Set<string>;
  actor: string;
  target: string;
  codes: string;
  min: string;
  max: string;
  threshold: string;
  window: string;
  unit: number;
  integrations: Set<string>;
  enabled: boolean;
}

function formOf(r: AlertRule | null, usable: Integration[]): Form {
  if (!r) {
    return {
      name: '',
      actions: new Set(),
      actor: '',
      target: '',
      codes: '',
      min: '',
      max: '',
      threshold: '',
      window: '10',
      unit: 60,
      integrations: new Set(usable.length === 1 ? [usable[0].id] : []),
      enabled: true,
    };
  }
  const w = r.windowSeconds ?? 600;
  const unit = w % 3600 === 0 ? 3600 : w % 60 === 0 ? 60 : 1;
  return {
    name: r.name,
    actions: new Set(r.actions),
    actor: r.actor ?? '',
    target: r.target ?? '',
    codes: r.responseCodes.join(', '),
    min: r.responseCodeMin?.toString() ?? '',
    max: r.responseCodeMax?.toString() ?? '',
    threshold: r.threshold && r.threshold > 1 ? String(r.threshold) : '',
    window: String(w / unit),
    unit,
    integrations: new Set(r.integrations.filter((i) => i.status === 'OK' || i.status === 'FAILING').map((i) => i.id)),
    enabled: r.enabled,
  };
}

/** The form as the API's input, or the first thing wrong with it. */
function inputOf(f: Form): AlertRuleInput | string {
  if (!f.name.trim()) return 'Give the rule a name.';
  if (f.actions.size === 0) return 'Pick at least one action.';
  if (f.integrations.size === 0) return 'Pick at least one integration for the alerts.';
  const codes: number[] = [];
  for (const c of f.codes.split(/[\s,]+/).filter(Boolean)) {
    const n = Number(c);
    if (!Number.isInteger(n) || n < 100 || n > 599) return `Response codes: ${c} is not a code from 100 to 599.`;
    codes.push(n);
  }
  const num = (s: string, what: string): number | null | string => {
    if (!s.trim()) return null;
    const n = Number(s);
    return Number.isInteger(n) ? n : `${what}: enter a whole number.`;
  };
  const min = num(f.min, 'Lowest response code');
  if (typeof min === 'string') return min;
  const max = num(f.max, 'Highest response code');
  if (typeof max === 'string') return max;
  const threshold = num(f.threshold, 'Threshold');
  if (typeof threshold === 'string') return threshold;
  let windowSeconds: number | null = null;
  if (threshold != null && threshold > 1) {
    const w = num(f.window, 'Window');
    if (typeof w === 'string') return w;
    if (w == null || w < 1) return 'Window: enter how long the threshold’s events may be spread over.';
    windowSeconds = w * f.unit;
  }
  return {
    name: f.name.trim(),
    actions: [...f.actions],
    actor: f.actor.trim() || null,
    target: f.target.trim() || null,
    responseCodes: codes,
    responseCodeMin: min,
    responseCodeMax: max,
    threshold: threshold != null && threshold > 1 ? threshold : null,
    windowSeconds,
    integrations: [...f.integrations],
    enabled: f.enabled,
  };
}

export function RuleDialog(props: {
  org: string;
  rule: AlertRule | 'new' | null;
  integrations: Integration[];
  onClose: () => void;
  onSaved: (name: string, created: boolean) => void;
}) {
  const existing = props.rule && props.rule !== 'new' ? props.rule : null;
  return (
    <Dialog id="rule-dialog" title={existing ? `Edit ${existing.name}` : 'New alert rule'} open={props.rule !== null} onClose={props.onClose}>
      {props.rule !== null && <RuleForm {...props} existing={existing} />}
    </Dialog>
  );
}

/** The dialog's form, mounted while it is open: its fields start from the
 * rule (or empty) at once, never from the previous opening. */
function RuleForm(props: {
  org: string;
  existing: AlertRule | null;
  integrations: Integration[];
  onClose: () => void;
  onSaved: (name: string, created: boolean) => void;
}) {
  const { existing } = props;
  const usable = props.integrations.filter((i) => i.status === 'OK' || i.status === 'FAILING');
  const [f, setF] = useState<Form>(() => formOf(existing, usable));
  const catalog = useActionGroups();
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const set = (patch: Partial<Form>) => setF((old) => ({ ...old, ...patch }));
  const toggleIn = (s: Set<string>, v: string, on: boolean) => {
    const n = new Set(s);
    if (on) n.add(v);
    else n.delete(v);
    return n;
  };
  const hasThreshold = Number(f.threshold) > 1;

  return (
    <form
      method="dialog"
      class="rule-form"
      noValidate
      onSubmit={async (e) => {
        e.preventDefault();
        const input = inputOf(f);
        if (typeof input === 'string') return setError(input);
        setBusy(true);
        setError('');
        try {
          if (existing) await gql(updateRuleMutation, { id: existing.id, input });
          else await gql(createRuleMutation, { org: props.org, input });
          props.onSaved(input.name, !existing);
        } catch (err) {
          setError(errorText(err, props.org, true));
        } finally {
          setBusy(false);
        }
      }}
    >
      <div class="field">
        <label for="rule-name">Name</label>
        <input id="rule-name" maxLength={100} autocomplete="off" value={f.name} onInput={(e) => set({ name: (e.target as HTMLInputElement).value })} />
      </div>

      <fieldset class="actions-picker">
        <legend>Actions</legend>
        <p class="hint">Alert on events with any of these actions ({f.actions.size} chosen).</p>
        {catalog.error && <p class="error">The actions could not be loaded: {catalog.error}</p>}
        {!catalog.groups && !catalog.error && (
          <p class="hint" aria-busy="true">
            Loading the actions…
          </p>
        )}
        <div class="action-groups">
          {(catalog.groups ?? []).map((g) => {
            const all = g.kind + ':*';
            const allOn = f.actions.has(all);
            return (
              <fieldset key={g.kind} class="action-group">
                <legend>{g.kind}</legend>
                <label class="check">
                  <input
                    type="checkbox"
                    name="action"
                    value={all}
                    checked={allOn}
                    onChange={(e) => {
                      let n = toggleIn(f.actions, all, (e.target as HTMLInputElement).checked);
                      // A prefix covers its actions: they go.
                      if ((e.target as HTMLInputElement).checked) for (const a of g.actions) n = toggleIn(n, a, false);
                      set({ actions: n });
                    }}
                  />
                  every {g.kind} action
                </label>
                {g.actions.map((a) => (
                  <label key={a} class="check">
                    <input
                      type="checkbox"
                      name="action"
                      value={a}
                      checked={allOn || f.actions.has(a)}
                      disabled={allOn}
                      onChange={(e) => set({ actions: toggleIn(f.actions, a, (e.target as HTMLInputElement).checked) })}
                    />
                    {a}
                  </label>
                ))}
              </fieldset>
            );
          })}
        </div>
      </fieldset>

      <div class="form-row">
        <div class="field grow">
          <label for="rule-actor">Actor (optional)</label>
          <input
            id="rule-actor"
            autocomplete="off"
            placeholder="email or user id"
            value={f.actor}
            onInput={(e) => set({ actor: (e.target as HTMLInputElement).value })}
          />
        </div>
        <div class="field grow">
          <label for="rule-target">Target user (optional)</label>
          <input
            id="rule-target"
            autocomplete="off"
            placeholder="email or user asset"
            value={f.target}
            onInput={(e) => set({ target: (e.target as HTMLInputElement).value })}
          />
        </div>
      </div>

      <div class="form-row">
        <div class="field grow">
          <label for="rule-codes">Response codes (optional)</label>
          <input
            id="rule-codes"
            autocomplete="off"
            inputMode="numeric"
            placeholder="e.g. 401, 403"
            value={f.codes}
            onInput={(e) => set({ codes: (e.target as HTMLInputElement).value })}
          />
        </div>
        <div class="field small">
          <label for="rule-code-min">At least</label>
          <input id="rule-code-min" type="number" min={100} max={599} value={f.min} onInput={(e) => set({ min: (e.target as HTMLInputElement).value })} />
        </div>
        <div class="field small">
          <label for="rule-code-max">At most</label>
          <input id="rule-code-max" type="number" min={100} max={599} value={f.max} onInput={(e) => set({ max: (e.target as HTMLInputElement).value })} />
        </div>
      </div>

      <div class="form-row">
        <div class="field small">
          <label for="rule-threshold">Threshold (optional)</label>
          <input
            id="rule-threshold"
            type="number"
            min={1}
            max={1000}
            aria-describedby="rule-threshold-hint"
            value={f.threshold}
            onInput={(e) => set({ threshold: (e.target as HTMLInputElement).value })}
          />
        </div>
        <div class="field small">
          <label for="rule-window">Within</label>
          <input
            id="rule-window"
            type="number"
            min={1}
            disabled={!hasThreshold}
            value={f.window}
            onInput={(e) => set({ window: (e.target as HTMLInputElement).value })}
          />
        </div>
        <div class="field small">
          <label for="rule-window-unit">Unit</label>
          <select
            id="rule-window-unit"
            disabled={!hasThreshold}
            value={String(f.unit)}
            onChange={(e) => set({ unit: Number((e.target as HTMLSelectElement).value) })}
          >
            {UNITS.map((u) => (
              <option key={u.v} value={String(u.v)}>
                {u.label}
              </option>
            ))}
          </select>
        </div>
      </div>
      <p id="rule-threshold-hint" class="hint">
        Empty: every matching event alerts. A number: one alert when that many matching events by one actor fall within
        the window (at most 1,000 events, 24 hours).
      </p>

      <fieldset class="integrations-picker">
        <legend>Alerts go to</legend>
        {usable.length === 0 && <p class="hint">No integration is in use: connect one first.</p>}
        {usable.map((i) => (
          <label key={i.id} class="check">
            <input
              type="checkbox"
              name="integration"
              value={i.id}
              data-name={i.name}
              checked={f.integrations.has(i.id)}
              onChange={(e) => set({ integrations: toggleIn(f.integrations, i.id, (e.target as HTMLInputElement).checked) })}
            />
            {i.name}
            {i.status === 'FAILING' && <span class="muted"> (failing)</span>}
          </label>
        ))}
      </fieldset>

      <label class="check">
        <input id="rule-enabled" type="checkbox" checked={f.enabled} onChange={(e) => set({ enabled: (e.target as HTMLInputElement).checked })} />
        Enabled
      </label>

      {error && (
        <p class="error" role="alert" id="rule-error">
          {error}
        </p>
      )}
      <div class="dialog-actions">
        <button type="button" onClick={props.onClose}>
          Cancel
        </button>
        <button id="rule-save" type="submit" class="primary" disabled={busy}>
          {existing ? 'Save rule' : 'Create rule'}
        </button>
      </div>
    </form>
  );
}
