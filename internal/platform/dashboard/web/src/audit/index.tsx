// The Audit log page (issue 13). Placeholder until the page lands.
import type { SectionProps } from '../app';

export function AuditLogPage({ org }: SectionProps) {
  return <p class="card">The audit log of {org} is not in the dashboard yet. It is in the REST API at /admin/audit_logs.</p>;
}
