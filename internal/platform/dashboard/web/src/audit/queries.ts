// The Audit log page's requests to the public GraphQL API.
import { gql } from '../api';
import { pageQuery, pageVariables } from './request';
import { type Row, toRow } from './rows';

export { PAGE_SIZE } from './request';

interface PageData {
  organization: {
    auditEvents: {
      edges: { cursor: string; node: { sequence: number; json: string } }[];
      pageInfo: { hasNextPage: boolean; endCursor: string | null };
    };
  } | null;
}

export interface Page {
  rows: Row[];
  cursor: string | null;
  hasMore: boolean;
}

/** A page of events matching filter, newest first unless oldestFirst. Rows
 * of a newest-first page keep their cursor (the list reads on from it). */
export async function fetchPage(
  org: string,
  filter: Record<string, unknown>,
  anonymize: boolean,
  after: string | null,
  oldestFirst = false,
): Promise<Page> {
  const d = await gql<PageData>(pageQuery, pageVariables(org, filter, anonymize, after, oldestFirst));
  const c = d.organization?.auditEvents;
  if (!c) throw new Error(`There is no organization called ${org}, or you cannot see it.`);
  return {
    rows: c.edges.map((e) => toRow(e.node.sequence, e.node.json, oldestFirst ? undefined : e.cursor)),
    cursor: c.pageInfo.endCursor,
    hasMore: c.pageInfo.hasNextPage,
  };
}

export interface CatalogAction {
  name: string;
  kind: string;
  description: string;
}

let catalog: Promise<CatalogAction[]> | null = null;

/** The documented action catalog (Query.auditActions), read once. */
export function loadCatalog(): Promise<CatalogAction[]> {
  if (!catalog) {
    catalog = gql<{ auditActions: CatalogAction[] }>(`query AuditActions { auditActions { name kind description } }`).then(
      (d) => d.auditActions,
    );
    catalog.catch(() => (catalog = null));
  }
  return catalog;
}

/** The organization's plan (multi-tenant: only Enterprise has an audit log). */
export async function loadPlan(org: string): Promise<string | null> {
  const d = await gql<{ organization: { plan: string } | null }>(
    `query AuditLogPlan($org: String!) { organization(name: $org) { plan } }`,
    { org },
  );
  return d.organization?.plan ?? null;
}
