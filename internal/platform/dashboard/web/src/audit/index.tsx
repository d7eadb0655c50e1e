// The Audit log page (issue 13): the organization's audit log, filtered
// (the filter lives in the address), newest first, read on while
// scrolling, with a live tail over graphql-transport-ws, the NDJSON
// download and copy-as-curl of GET /admin/audit_logs. Only the public API:
// Query.auditActions, Organization.auditEvents, Subscription.auditEvents.
//
// Who may read the log is who the API lets (schema/auditevent.graphqls):
// organization admins and instance admins; in multi-tenant, admins of an
// organization on the Enterprise plan. Others get a note, not a request
// that can only fail.
import './audit.css';
import { useEffect, useState } from 'preact/hooks';
import { deployment } from '../api';
import type { SectionProps } from '../app';
import { errorText } from '../ui';
import { AuditLog } from './AuditLog';
import { loadPlan } from './queries';

export function AuditLogPage({ org, admin }: SectionProps) {
  const multiTenant = deployment() === 'multi-tenant';
  if (admin === null) {
    return (
      <div class="state-loading" aria-busy="true">
        Loading…
      </div>
    );
  }
  if (!admin) {
    return (
      <p class="card admins-only" id="audit-admins-only">
        The audit log of {org} is shown to its admins{multiTenant ? '' : ' and instance admins'}. Ask an admin of {org} if you
        need to know who did what.
      </p>
    );
  }
  return multiTenant ? <EnterpriseOnly org={org} /> : <AuditLog org={org} multiTenant={false} />;
}

/** Multi-tenant: the audit log is for organizations on the Enterprise plan. */
function EnterpriseOnly({ org }: { org: string }) {
  const [plan, setPlan] = useState<string | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    loadPlan(org).then(
      (p) => setPlan(p ?? ''),
      (err) => setError(errorText(err, org)),
    );
  }, [org]);
  if (error) return <p class="card state-error">{error}</p>;
  if (plan === null) {
    return (
      <div class="state-loading" aria-busy="true">
        Loading…
      </div>
    );
  }
  if (plan !== 'ENTERPRISE') {
    return (
      <p class="card admins-only" id="audit-enterprise-only">
        Audit logs are available to organizations on the Enterprise plan; {org} is on the {plan.charAt(0) + plan.slice(1).toLowerCase()}{' '}
        plan.
      </p>
    );
  }
  return <AuditLog org={org} multiTenant />;
}
