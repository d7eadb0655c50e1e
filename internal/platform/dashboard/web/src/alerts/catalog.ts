// The documented audit action catalog (audit/action.go), grouped by kind for
// the rules' actions picker. A browser test checks it against the server's.
export const ACTIONS: readonly string[] = [
  'artifact:create',
  'artifact:delete',
  'artifact:read',
  'project:delete',
  'project:read',
  'report:read',
  'run:delete',
  'run:delete_many',
  'run:stop',
  'run:undelete_many',
  'run:update',
  'run:update_many',
  'sweep:create_agent',
  'team:create',
  'team:create_service_account',
  'team:delete',
  'team:invite_user',
  'team:uninvite',
  'user:create',
  'user:create_api_key',
  'user:deactivate',
  'user:delete_api_key',
  'user:initiate_login',
  'user:login',
  'user:logout',
  'user:permanently_delete',
  'user:reactivate',
  'user:read',
  'user:update',
];

/** The catalog's kinds (user, team, run …) with their actions, in order. */
export function actionGroups(): { kind: string; actions: string[] }[] {
  const out: { kind: string; actions: string[] }[] = [];
  for (const a of ACTIONS) {
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
