// The Alerts & integrations page (issue 13). Placeholder until the page lands.
import type { SectionProps } from '../app';

export function AlertsPage({ org }: SectionProps) {
  return <p class="card">Alerts and integrations of {org} are not in the dashboard yet. They are in the GraphQL API.</p>;
}
