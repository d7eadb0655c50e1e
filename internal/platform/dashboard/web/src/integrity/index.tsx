// The Integrity page (issue 13). Placeholder until the page lands.
import type { SectionProps } from '../app';

export function IntegrityPage({ org }: SectionProps) {
  return <p class="card">The integrity of {org}'s log is not in the dashboard yet. Query verifyAuditLog in the GraphQL API.</p>;
}
