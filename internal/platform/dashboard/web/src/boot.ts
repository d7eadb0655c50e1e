// The early script: the shell runs it before the bundle (a small file of its
// own, src="/ui/boot.<hash>.js", no inline code), and it sends the GraphQL
// requests the page's address calls for at once, while the browser still
// fetches and parses the bundle. The bundle's gql() then takes the answers
// (wire.ts). It asks exactly what the page would ask first, with the same
// bodies, so no request is sent twice and none that the page would not send.
import { defaultOverTimePeriod, defaultPanelRange, defaultTotalPeriod } from './activity/periods';
import {
  activityPanelQuery,
  activityVariables,
  listingFromURL,
  teamsQuery,
  teamsVariables,
  totalActiveUsersQuery,
  usersActiveOverTimeQuery,
  usersQuery,
  usersVariables,
  viewerQuery,
  viewerVariables,
} from './queries';
import { post, requestBody } from './wire';
import { queryFilter, readFilter } from './audit/filter';
import { pageQuery, pageVariables } from './audit/request';

/** The requests a page at url sends as it loads (as app.tsx, users.tsx and
 * activity/ do): the viewer, and the named organization's page. */
export function firstRequests(url: URL, multiTenant: boolean): [string, object][] {
  if (url.pathname === '/signin') return [];
  const out: [string, object][] = [[viewerQuery, viewerVariables(null)]];
  const users = (org: string) => {
    out.push([usersQuery, usersVariables(org, listingFromURL(url.searchParams, multiTenant), {})]);
    out.push([teamsQuery, teamsVariables(org, null)]);
  };
  if (multiTenant) {
    const m = url.pathname.match(/^\/account-settings\/([^/]+)\/members\/?$/);
    if (m) {
      let org: string;
      try {
        org = decodeURIComponent(m[1]);
      } catch {
        return out;
      }
      out.push([activityPanelQuery, activityVariables(org, defaultPanelRange)]);
      users(org);
    }
    return out;
  }
  const org = url.searchParams.get('org');
  if (!org || (url.pathname !== '/org/dashboard' && url.pathname !== '/org/dashboard/')) return out;
  // As app.tsx: an unknown tab is the Users tab.
  const tab = url.searchParams.get('tab') ?? '';
  if (tab === 'activity') {
    out.push([totalActiveUsersQuery, activityVariables(org, defaultTotalPeriod)]);
    out.push([usersActiveOverTimeQuery, activityVariables(org, defaultOverTimePeriod)]);
  } else if (tab === 'audit-log') {
    // As audit/AuditLog.tsx's first page (an admin's; a member's is refused
    // and never claimed).
    const f = readFilter(url.searchParams, false);
    out.push([pageQuery, pageVariables(org, queryFilter(f), f.anonymize, null, false)]);
  } else if (!['alerts', 'integrity'].includes(tab)) users(org);
  return out;
}

if (!window.__agPreload) {
  const mode = document.querySelector('meta[name="auditgraph-deployment"]')?.getAttribute('content');
  const m = new Map<string, Promise<Response>>();
  for (const [query, variables] of firstRequests(new URL(location.href), mode === 'multi-tenant')) {
    const body = requestBody(query, variables);
    const r = post(body);
    // Unclaimed, a failure is nobody's business; claimed, gql() reports it.
    r.catch(() => {});
    m.set(body, r);
  }
  window.__agPreload = m;
}
