// The documented audit action catalog for the rules' actions picker,
// grouped by kind. It comes from the API (Query.auditActions, read once per
// page load and shared with the Audit log page), so the server's one list
// decides it.
import { useEffect, useState } from 'preact/hooks';
import { loadCatalog } from '../audit/queries';
import { errorText } from '../ui';

/** One kind (user, team, run …) with its actions, in catalog order. */
export interface ActionGroup {
  kind: string;
  actions: string[];
}

/** Groups action names by the part before the colon, keeping their order. */
export function groupActions(names: string[]): ActionGroup[] {
  const out: ActionGroup[] = [];
  for (const a of names) {
    const kind = a.slice(0, a.indexOf(':'));
    let g = out.find((x) => x.kind === kind);
    if (!g) {
      g = { kind, actions: [] };
      out.push(g);
    }
    g.actions.push(a);
  }
  return out;
}

/** The catalog's groups once loaded (null before), and the error that
 * stopped it loading, if any. */
export function useActionGroups(): { groups: ActionGroup[] | null; error: string } {
  const [groups, setGroups] = useState<ActionGroup[] | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    let live = true;
    loadCatalog().then(
      (c) => live && setGroups(groupActions(c.map((a) => a.name))),
      (err) => live && setError(errorText(err)),
    );
    return () => {
      live = false;
    };
  }, []);
  return { groups, error };
}
