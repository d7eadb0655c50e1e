// The Audit log page's filter: read from and written to the page's address
// (next to org and tab), turned into Organization.auditEvents' filter, the
// subscription's filter and GET /admin/audit_logs' window.

/** What the page shows. Empty strings and empty lists mean "any". */
export interface AuditFilter {
  actions: string[];
  actor: string;
  target: string;
  entity: string;
  project: string;
  codeMin: string;
  codeMax: string;
  /** The reference's window: startDate (YYYY-MM-DD, the newest day; empty:
   * today) and numDays days before it. */
  startDate: string;
  numDays: number;
  anonymize: boolean;
  live: boolean;
}

/** The window a page opens with: today and the 7 days before it (the
 * multi-tenant cap, and the reference's "last week" example). */
export const DEFAULT_NUM_DAYS = 7;

/** The page's own parameters in the address. */
const KEYS = ['actions', 'actor', 'target', 'entity', 'project', 'codeMin', 'codeMax', 'startDate', 'numDays', 'anonymize', 'live'];

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Today's UTC date, YYYY-MM-DD. */
export function todayUTC(): string {
  return new Date().toISOString().slice(0, 10);
}

function code(v: string | null): string {
  return v && /^\d{1,3}$/.test(v) ? v : '';
}

/** The filter an address names; values that cannot be right are dropped. */
export function readFilter(params: URLSearchParams, multiTenant: boolean): AuditFilter {
  const nd = params.get('numDays');
  let numDays = nd !== null && /^\d{1,5}$/.test(nd) ? parseInt(nd, 10) : DEFAULT_NUM_DAYS;
  if (multiTenant && numDays > 7) numDays = 7;
  const sd = params.get('startDate') ?? '';
  return {
    actions: (params.get('actions') ?? '')
      .split(',')
      .map((a) => a.trim())
      .filter((a) => /^[a-z_]+:[a-z_]+$/.test(a)),
    actor: params.get('actor') ?? '',
    target: params.get('target') ?? '',
    entity: params.get('entity') ?? '',
    project: params.get('project') ?? '',
    codeMin: code(params.get('codeMin')),
    codeMax: code(params.get('codeMax')),
    startDate: DATE.test(sd) ? sd : '',
    numDays,
    anonymize: params.get('anonymize') === 'true',
    live: params.get('live') === 'true',
  };
}

/** The address of the page with filter f: the current address with the
 * page's parameters replaced (org, tab and anything else kept). */
export function filterURL(current: URL, f: AuditFilter): string {
  const p = new URLSearchParams(current.search);
  for (const k of KEYS) p.delete(k);
  if (f.actions.length) p.set('actions', f.actions.join(','));
  if (f.actor) p.set('actor', f.actor);
  if (f.target) p.set('target', f.target);
  if (f.entity) p.set('entity', f.entity);
  if (f.project) p.set('project', f.project);
  if (f.codeMin) p.set('codeMin', f.codeMin);
  if (f.codeMax) p.set('codeMax', f.codeMax);
  if (f.startDate) p.set('startDate', f.startDate);
  if (f.numDays !== DEFAULT_NUM_DAYS) p.set('numDays', String(f.numDays));
  if (f.anonymize) p.set('anonymize', 'true');
  if (f.live) p.set('live', 'true');
  const q = p.toString().replace(/%3A/gi, ':').replace(/%2C/gi, ',');
  return current.pathname + (q ? '?' + q : '');
}

/** A key that changes whenever what the list holds would change (the live
 * switch does not change it). */
export function listKey(f: AuditFilter): string {
  return JSON.stringify({ ...f, live: false });
}

/** The conditions both the query and the subscription take. */
function conditions(f: AuditFilter): Record<string, unknown> {
  const c: Record<string, unknown> = {};
  if (f.actions.length) c.actions = f.actions;
  if (f.actor) c.actor = f.actor;
  if (f.target) c.targetUser = f.target;
  if (f.entity) c.entity = f.entity;
  if (f.project) c.project = f.project;
  if (f.codeMin) c.responseCodeMin = parseInt(f.codeMin, 10);
  if (f.codeMax) c.responseCodeMax = parseInt(f.codeMax, 10);
  return c;
}

/** Organization.auditEvents' filter: the conditions and the window. */
export function queryFilter(f: AuditFilter): Record<string, unknown> {
  return { ...conditions(f), startDate: f.startDate || todayUTC(), numDays: f.numDays };
}

/** The subscription's filter: the conditions only (it refuses windows). */
export function liveFilter(f: AuditFilter): Record<string, unknown> {
  return conditions(f);
}

/** What missed while the live feed was away: the conditions, after seq. */
export function gapFilter(f: AuditFilter, afterSeq: number): Record<string, unknown> {
  return { ...conditions(f), afterSequence: afterSeq };
}

/** Whether the window reaches today, so that live events belong in it. */
export function windowHasToday(f: AuditFilter): boolean {
  return !f.startDate || f.startDate >= todayUTC();
}

/** GET /admin/audit_logs for the window (path and query): the whole
 * window, since the REST API filters by time only. */
export function restPath(org: string, f: AuditFilter, multiTenant: boolean): string {
  const p = new URLSearchParams();
  p.set('org', org);
  p.set('startDate', f.startDate || todayUTC());
  p.set('numDays', String(f.numDays));
  if (f.anonymize && !multiTenant) p.set('anonymize', 'true');
  return '/admin/audit_logs?' + p.toString();
}

/** A shell-quoted string (single quotes). */
function sh(s: string): string {
  return "'" + s.replace(/'/g, "'\\''") + "'";
}

/** The curl command for the same request as the download, with the
 * credentials left as environment variables: no key is ever copied. */
export function curlCommand(origin: string, path: string): string {
  return `curl --fail --compressed -u "$AUDITGRAPH_USERNAME:$AUDITGRAPH_API_KEY" ${sh(origin + path)}`;
}

/** The file name of the window's download. */
export function downloadName(org: string, f: AuditFilter, anonymized: boolean): string {
  const start = f.startDate || todayUTC();
  return `audit-logs-${org}-${start}-${f.numDays}d${anonymized ? '-anonymized' : ''}.ndjson`;
}
