// The actions filter: the documented catalog (Query.auditActions) as
// checkboxes grouped by kind (artifact:, project:, run:, team:, user: …),
// in a disclosure so that the filters stay one row.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { CatalogAction } from './queries';

export function ActionsPicker({
  catalog,
  selected,
  onChange,
}: {
  catalog: CatalogAction[] | null;
  selected: string[];
  onChange: (actions: string[]) => void;
}) {
  const [open, setOpen] = useState(false);
  const wrap = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (!open) return;
    const onDown = (e: MouseEvent) => {
      if (!wrap.current?.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener('mousedown', onDown);
    return () => document.removeEventListener('mousedown', onDown);
  }, [open]);

  const groups = new Map<string, CatalogAction[]>();
  for (const a of catalog ?? []) {
    const g = groups.get(a.kind) ?? [];
    g.push(a);
    groups.set(a.kind, g);
  }
  const set = new Set(selected);
  const toggle = (names: string[], on: boolean) => {
    const next = new Set(set);
    for (const n of names) {
      if (on) next.add(n);
      else next.delete(n);
    }
    // Catalog order, so that the address is the same however they were picked.
    onChange((catalog ?? []).map((a) => a.name).filter((n) => next.has(n)));
  };
  const summary =
    selected.length === 0 ? 'All actions' : selected.length <= 2 ? selected.join(', ') : `${selected.length} actions`;

  return (
    <div
      class="field audit-actions"
      ref={wrap}
      onFocusOut={(e) => {
        // Tabbing out of the picker closes it, as a click elsewhere does.
        const to = e.relatedTarget as Node | null;
        if (open && to && !wrap.current?.contains(to)) setOpen(false);
      }}
    >
      <span class="label" id="audit-actions-label">
        Actions
      </span>
      <button
        ref={button}
        id="audit-actions"
        type="button"
        class="audit-actions-button"
        aria-expanded={open ? 'true' : 'false'}
        aria-controls="audit-actions-panel"
        aria-labelledby="audit-actions-label audit-actions"
        onClick={() => setOpen(!open)}
      >
        {summary} <span aria-hidden="true">▾</span>
      </button>
      <div
        id="audit-actions-panel"
        class="audit-actions-panel"
        hidden={!open}
        onKeyDown={(e) => {
          if (e.key === 'Escape') {
            e.stopPropagation();
            setOpen(false);
            button.current?.focus();
          }
        }}
      >
        {!catalog ? (
          <p class="muted">Loading the actions…</p>
        ) : (
          <>
            <div class="audit-actions-head">
              <button type="button" id="audit-actions-clear" disabled={!selected.length} onClick={() => onChange([])}>
                Clear (all actions)
              </button>
            </div>
            <div class="audit-actions-groups">
              {[...groups].map(([kind, actions]) => {
                const names = actions.map((a) => a.name);
                const n = names.filter((x) => set.has(x)).length;
                return (
                  <fieldset key={kind} class="audit-action-group">
                    <legend>
                      <label class="check">
                        <input
                          type="checkbox"
                          data-kind={kind}
                          checked={n === names.length}
                          ref={(el) => {
                            if (el) el.indeterminate = n > 0 && n < names.length;
                          }}
                          onChange={(e) => toggle(names, (e.target as HTMLInputElement).checked)}
                        />
                        Every {kind}: action
                      </label>
                    </legend>
                    {actions.map((a) => (
                      <label key={a.name} class="check" title={a.description}>
                        <input
                          type="checkbox"
                          name="action"
                          value={a.name}
                          checked={set.has(a.name)}
                          onChange={(e) => toggle([a.name], (e.target as HTMLInputElement).checked)}
                        />
                        {a.name}
                      </label>
                    ))}
                  </fieldset>
                );
              })}
            </div>
          </>
        )}
      </div>
    </div>
  );
}
