// The GraphQL documents a page sends as it loads, and their variables, in
// one small module: the early script (boot.ts) sends the same requests,
// byte for byte, before the bundle has even been parsed, and the page takes
// their answers (see wire.ts). Keep these free of preact and the UI.
import type { ActivityPeriod } from './activity/periods';

// ---- The viewer (app.tsx) ----

export const viewerQuery = `query DashboardViewer($after: String) {
  viewer { username name instanceAdmin defaultOrganization { name } }
  organizations(first: 100, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { name viewerRole } }
  }
}`;

export function viewerVariables(after: string | null) {
  return { after };
}

// ---- The users (users.tsx) ----

/** Rows per page of the users table. */
export const PAGE = 50;

export const memberFields = `name username email role modelsSeat weaveAccess status lastActiveDisplay
  dateAdded activeDays invitePending teams { name } user { deactivated }`;

export const usersQuery = `query DashboardUsers($org: String!, $first: Int, $after: String, $last: Int, $before: String,
    $filter: UserFilter, $orderBy: UserOrder) {
  organization(name: $org) {
    name
    viewerRole
    users(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      nodes { ${memberFields} }
    }
  }
}`;

export const teamsQuery = `query DashboardTeams($org: String!, $after: String) {
  organization(name: $org) {
    teams(first: 100, after: $after) {
      pageInfo { hasNextPage endCursor }
      edges { node { name } }
    }
  }
}`;

export function teamsVariables(org: string, after: string | null) {
  return { org, after };
}

export type SortField = 'NAME' | 'LAST_ACTIVE';
export interface Sort {
  field: SortField;
  direction: 'ASC' | 'DESC';
}

/** What the users table lists: the search (trimmed), the filters ('' for
 * all) and the order. */
export interface Listing {
  q: string;
  status: string;
  role: string;
  team: string;
  sort: Sort;
}

export const ROLES = ['ADMIN', 'MEMBER', 'VIEWER'];

export function statuses(multiTenant: boolean): string[] {
  return multiTenant ? ['ACTIVE', 'NEVER_ACTIVE'] : ['INVITE_PENDING', 'ACTIVE', 'INACTIVE', 'DEACTIVATED'];
}

export const defaultSort: Sort = { field: 'NAME', direction: 'ASC' };

const sortWords: Record<string, Sort> = {
  name: { field: 'NAME', direction: 'ASC' },
  '-name': { field: 'NAME', direction: 'DESC' },
  'last-active': { field: 'LAST_ACTIVE', direction: 'ASC' },
  '-last-active': { field: 'LAST_ACTIVE', direction: 'DESC' },
};

/** The listing an address names: ?q=<search>&status=<STATUS>&role=<ROLE>&
 * team=<team>&sort=<name|-name|last-active|-last-active>. Values the page
 * does not offer are ignored (the page shows all, by name). */
export function listingFromURL(params: URLSearchParams, multiTenant: boolean): Listing {
  const status = params.get('status') ?? '';
  const role = params.get('role') ?? '';
  return {
    q: (params.get('q') ?? '').trim(),
    status: statuses(multiTenant).includes(status) ? status : '',
    role: ROLES.includes(role) ? role : '',
    team: params.get('team') ?? '',
    sort: sortWords[params.get('sort') ?? ''] ?? defaultSort,
  };
}

/** Writes l into params (and removes what is at its default). */
export function listingToURL(l: Listing, params: URLSearchParams) {
  const set = (k: string, v: string) => (v ? params.set(k, v) : params.delete(k));
  set('q', l.q);
  set('status', l.status);
  set('role', l.role);
  set('team', l.team);
  const s = (l.sort.direction === 'DESC' ? '-' : '') + (l.sort.field === 'NAME' ? 'name' : 'last-active');
  set('sort', s === 'name' ? '' : s);
}

/** The users query's variables for one page of a listing: the first page,
 * the one after a cursor, or the one before. */
export function usersVariables(org: string, l: Listing, page: { after?: string; before?: string }) {
  const filter: Record<string, unknown> = {};
  if (l.q) filter.search = l.q;
  if (l.status) filter.status = [l.status];
  if (l.role) filter.role = [l.role];
  if (l.team) filter.team = l.team;
  const vars: Record<string, unknown> = { org, filter, orderBy: l.sort };
  if (page.before) {
    vars.last = PAGE;
    vars.before = page.before;
  } else {
    vars.first = PAGE;
    if (page.after) vars.after = page.after;
  }
  return vars;
}

// ---- The activity views (activity/) ----

export const totalActiveUsersQuery = `query TotalActiveUsers($org: String!, $period: ActivityPeriod!) {
  organization(name: $org) { activity { totalActiveUsers(period: $period) { from to count } } }
}`;

export const usersActiveOverTimeQuery = `query UsersActiveOverTime($org: String!, $period: ActivityPeriod!) {
  organization(name: $org) { activity { usersActiveOverTime(period: $period) { from to points { date activeUsers } } } }
}`;

/** The Activity Panel's three parts share one date range: one request. */
export const activityPanelQuery = `query ActivityPanel($org: String!, $period: ActivityPeriod!) {
  organization(name: $org) {
    activity {
      activeUserCount(period: $period) { from to count }
      weeklyActiveUsers(period: $period) { from to points { date activeUsers } }
      mostActiveUsers(period: $period) { users { rank activeDays lastActiveAt user { username name } } }
    }
  }
}`;

export function activityVariables(org: string, period: ActivityPeriod) {
  return { org, period };
}
