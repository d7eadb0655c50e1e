// The Audit log page's page request, kept free of imports so that the early
// script (boot.ts) sends exactly the body the page would.

/** One page of Organization.auditEvents. */
export const PAGE_SIZE = 100;

export const pageQuery = `query AuditLogPage($org: String!, $first: Int!, $after: String, $filter: AuditEventFilter, $order: AuditEventOrder, $anonymize: Boolean) {
  organization(name: $org) {
    auditEvents(first: $first, after: $after, filter: $filter, order: $order, anonymize: $anonymize) {
      edges { cursor node { sequence json } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;

/** The variables of a page of events matching filter, newest first unless
 * oldestFirst, after the cursor after. */
export function pageVariables(
  org: string,
  filter: Record<string, unknown>,
  anonymize: boolean,
  after: string | null,
  oldestFirst: boolean,
): object {
  return { org, first: PAGE_SIZE, after, filter, order: oldestFirst ? 'OLDEST_FIRST' : 'NEWEST_FIRST', anonymize };
}
