// The signed-in pages: the header (who, sign out, organization picker) and
// the dashboard of the server's deployment family.
import type { ComponentChildren } from 'preact';
import { useEffect, useLayoutEffect, useState } from 'preact/hooks';
import { deployment, gql, signOut } from './api';
import { viewerQuery, viewerVariables } from './queries';
import { Link, Messages, clearMessages, errorText, lazy, navigate, useLocation } from './ui';
import { UsersPanel } from './users';
import { AuditLogPage } from './audit';
import { AlertsPage } from './alerts';
import { IntegrityPage } from './integrity';

// The activity views (and uPlot) are a chunk of their own: the Users page
// does not wait for it. A page that shows activity asks for it at once, as
// the bundle starts, beside its GraphQL requests.
let activityChunk: Promise<typeof import('./activity')> | null = null;
const loadActivity = () =>
  (activityChunk ??= import('./activity').catch((err) => {
    activityChunk = null; // Try again asks again
    throw err;
  }));
const prefetchActivity = () => void loadActivity().catch(() => {});
const ActivityTab = lazy(() => loadActivity().then((m) => m.ActivityTab));
const ActivityPanel = lazy(() => loadActivity().then((m) => m.ActivityPanel));
if (
  deployment() === 'multi-tenant'
    ? /^\/account-settings\/[^/]+\/members\/?$/.test(location.pathname)
    : new URLSearchParams(location.search).get('tab') === 'activity'
)
  loadActivity();

/** The viewer and the organizations they can see. */
export interface Viewer {
  username: string;
  name: string;
  instanceAdmin: boolean;
  defaultOrg: string | null;
  orgs: { name: string; viewerRole: string | null }[];
}

interface ViewerData {
  viewer: { username: string; name: string; instanceAdmin: boolean; defaultOrganization: { name: string } | null };
  organizations: {
    totalCount: number;
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
    edges: { node: { name: string; viewerRole: string | null } }[];
  };
}

/** Loads the viewer and up to 1,000 organizations for the picker. */
async function loadViewer(): Promise<Viewer> {
  let after: string | null = null;
  let v: Viewer | null = null;
  for (let i = 0; i < 10; i++) {
    const d: ViewerData = await gql<ViewerData>(viewerQuery, viewerVariables(after));
    if (!v) {
      v = {
        username: d.viewer.username,
        name: d.viewer.name,
        instanceAdmin: d.viewer.instanceAdmin,
        defaultOrg: d.viewer.defaultOrganization?.name ?? null,
        orgs: [],
      };
    }
    v.orgs.push(...d.organizations.edges.map((e) => e.node));
    if (!d.organizations.pageInfo.hasNextPage) break;
    after = d.organizations.pageInfo.endCursor;
  }
  return v!;
}

export function App() {
  const [viewer, setViewer] = useState<Viewer | null>(null);
  const [loadError, setLoadError] = useState('');
  const url = useLocation();
  const mode = deployment();

  const load = () => {
    setLoadError('');
    loadViewer().then(setViewer, (err) => setLoadError(errorText(err)));
  };
  // Layout effects: the viewer is asked for (or the early script's answer
  // taken) as the page is drawn, not a frame later; and the previous page's
  // messages go before any answer can report an error.
  useLayoutEffect(load, []);
  // Each page starts without the previous one's messages.
  useLayoutEffect(() => clearMessages(), [url.pathname, url.searchParams.get('org')]);

  const org = currentOrg(url, mode === 'multi-tenant', viewer);
  // A page whose address names its organization starts its own queries at
  // once, beside the viewer's; the rest waits for the viewer.
  const named = mode === 'multi-tenant' ? !!org : !!url.searchParams.get('org');

  return (
    <div class="layout">
      <Header viewer={viewer} org={org} />
      <main id="main">
        <Messages />
        {loadError ? (
          <div class="card state-error">
            <p>{loadError}</p>
            <button type="button" onClick={load}>
              Try again
            </button>
          </div>
        ) : !viewer && !named ? (
          <div class="card state-loading" aria-busy="true">
            Loading…
          </div>
        ) : mode === 'multi-tenant' ? (
          <MultiTenant url={url} viewer={viewer} org={org} />
        ) : (
          <OrgDashboard url={url} viewer={viewer} org={org} />
        )}
      </main>
    </div>
  );
}

/** The organization the address names, or (self-managed, dedicated) the one
 * the viewer has when the address names none. */
function currentOrg(url: URL, multiTenant: boolean, viewer: Viewer | null): string | null {
  if (multiTenant) {
    const m = url.pathname.match(/^\/account-settings\/([^/]+)\/(members|audit-log|alerts|integrity)\/?$/);
    return m ? decodeURIComponent(m[1]) : null;
  }
  const named = url.searchParams.get('org');
  if (named) return named;
  if (!viewer) return null;
  if (viewer.orgs.length === 1) return viewer.orgs[0].name;
  if (viewer.defaultOrg) return viewer.defaultOrg;
  return viewer.orgs[0]?.name ?? null;
}

/** The address of the same page for another organization. */
function pageFor(org: string): string {
  if (deployment() === 'multi-tenant') return `/account-settings/${encodeURIComponent(org)}/members`;
  const u = new URL(location.href);
  const p = new URLSearchParams();
  p.set('org', org);
  if (u.searchParams.get('tab') === 'activity') p.set('tab', 'activity');
  return '/org/dashboard?' + p.toString();
}

function Header({ viewer, org }: { viewer: Viewer | null; org: string | null }) {
  const [signingOut, setSigningOut] = useState(false);
  const home = deployment() === 'multi-tenant' ? '/account-settings/' : '/org/dashboard';
  const showPicker = !!viewer && (viewer.orgs.length > 1 || viewer.instanceAdmin);
  // A named organization not in the list (an instance admin's typed address)
  // still shows as chosen.
  const names = viewer ? viewer.orgs.map((o) => o.name) : [];
  if (org && !names.includes(org)) names.unshift(org);
  return (
    <header class="topbar">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <Link href={home} class="brand">
        auditgraph
      </Link>
      {showPicker && (
        <div class="picker">
          <label for="org-picker">Organization</label>
          <select
            id="org-picker"
            value={org ?? ''}
            onChange={(e) => {
              const v = (e.target as HTMLSelectElement).value;
              if (v) navigate(pageFor(v));
            }}
          >
            {!org && <option value="">Choose…</option>}
            {names.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </div>
      )}
      <div class="who">
        {viewer && (
          <span id="whoami" title={viewer.name || viewer.username}>
            {viewer.username}
          </span>
        )}
        <button
          id="signout"
          type="button"
          disabled={signingOut}
          onClick={async () => {
            setSigningOut(true);
            await signOut();
            location.assign('/signin');
          }}
        >
          Sign out
        </button>
      </div>
    </header>
  );
}

/** Whether the viewer administers org; null while the viewer is loading. */
function isAdmin(viewer: Viewer | null, org: string): boolean | null {
  if (!viewer) return null;
  return viewer.instanceAdmin || viewer.orgs.find((o) => o.name === org)?.viewerRole === 'ADMIN';
}

/** The activity views for admins, a note for other members. While the
 * viewer loads, the views are mounted hidden (ready false) so that their
 * queries start beside the viewer's; they show once the viewer proves an
 * admin, and are dropped, answers and all, if not. */
function AdminActivity({
  viewer,
  org,
  children,
}: {
  viewer: Viewer | null;
  org: string;
  children: (ready: boolean) => ComponentChildren;
}) {
  const admin = isAdmin(viewer, org);
  return (
    <>
      {admin === null && (
        <div class="state-loading" aria-busy="true">
          Loading…
        </div>
      )}
      {admin === false && <AdminsOnly org={org} />}
      {admin !== false && children(admin === true)}
    </>
  );
}

/** What a member who is not an admin sees instead of the activity views,
 * which the API answers for admins only (no request that can only fail). */
function AdminsOnly({ org }: { org: string }) {
  return (
    <p class="card admins-only">
      Activity of {org} is shown to its admins. Ask an admin of {org} if you need these figures.
    </p>
  );
}

function NoOrg() {
  return (
    <div class="card state-empty">
      <h1>No organization</h1>
      <p>You are not a member of any organization yet. Ask an admin to invite you.</p>
    </div>
  );
}

/** The dashboard's sections, in tab order. The first is the default. In
 * self-managed and dedicated each is a tab of /org/dashboard (?tab=<id>, none
 * for users); in multi-tenant each is /account-settings/<org>/<path>. */
export const sections = [
  { id: 'users', label: 'Users', path: 'members' },
  { id: 'activity', label: 'Activity', path: 'members' },
  { id: 'audit-log', label: 'Audit log', path: 'audit-log' },
  { id: 'alerts', label: 'Alerts & integrations', path: 'alerts' },
  { id: 'integrity', label: 'Integrity', path: 'integrity' },
] as const;
export type SectionId = (typeof sections)[number]['id'];

/** Props every section page gets from the shell. admin is null while the
 * viewer loads; instanceAdmin is false until then. */
export interface SectionProps {
  org: string;
  admin: boolean | null;
  instanceAdmin: boolean;
}

function sectionPage(id: SectionId, p: SectionProps) {
  switch (id) {
    case 'audit-log':
      return <AuditLogPage key={'audit-' + p.org} {...p} />;
    case 'alerts':
      return <AlertsPage key={'alerts-' + p.org} {...p} />;
    case 'integrity':
      return <IntegrityPage key={'integrity-' + p.org} {...p} />;
    default:
      return null;
  }
}

/** Self-managed and dedicated: /org/dashboard with the Users, Activity,
 * Audit log, Alerts & integrations and Integrity tabs. */
function OrgDashboard({ url, viewer, org }: { url: URL; viewer: Viewer | null; org: string | null }) {
  const tab: SectionId = sections.find((s) => s.id === url.searchParams.get('tab'))?.id ?? 'users';
  // The Users panel stays mounted (hidden) once seen, so that coming back
  // from another tab keeps its search, filters, order and page.
  const [usersOrg, setUsersOrg] = useState<string | null>(null);
  useEffect(() => {
    if (tab === 'users' && org) setUsersOrg(org);
  }, [tab, org]);
  useEffect(() => {
    document.title = org ? `${org} · Organization dashboard · auditgraph` : 'Organization dashboard · auditgraph';
  }, [org]);
  if (!org) return <NoOrg />;

  const select = (t: SectionId, focus = false) => {
    // A tab's address keeps only the organization: each section's own
    // parameters (the audit log's filter) belong to that section.
    const p = new URLSearchParams();
    if (url.searchParams.get('org') || !viewer || viewer.orgs.length !== 1) p.set('org', org);
    if (t !== 'users') p.set('tab', t);
    const q = p.toString();
    navigate('/org/dashboard' + (q ? '?' + q : ''));
    if (focus) requestAnimationFrame(() => document.getElementById('tab-' + t)?.focus());
  };
  const onTabKey = (e: KeyboardEvent) => {
    const i = sections.findIndex((s) => s.id === tab);
    let j = -1;
    if (e.key === 'ArrowRight') j = (i + 1) % sections.length;
    else if (e.key === 'ArrowLeft') j = (i + sections.length - 1) % sections.length;
    else if (e.key === 'Home') j = 0;
    else if (e.key === 'End') j = sections.length - 1;
    if (j >= 0) {
      e.preventDefault();
      select(sections[j].id, true);
    }
  };
  const props: SectionProps = { org, admin: isAdmin(viewer, org), instanceAdmin: !!viewer?.instanceAdmin };

  return (
    <div class="page">
      <div class="page-head">
        <h1>
          Organization dashboard <span class="org-name">{org}</span>
        </h1>
      </div>
      <div role="tablist" aria-label="Dashboard" class="tabs" onKeyDown={onTabKey}>
        {sections.map((s) => (
          <button
            key={s.id}
            id={'tab-' + s.id}
            type="button"
            role="tab"
            aria-selected={tab === s.id ? 'true' : 'false'}
            aria-controls={'panel-' + s.id}
            tabIndex={tab === s.id ? 0 : -1}
            onClick={() => select(s.id)}
            // About to open Activity: its chunk starts loading.
            onPointerEnter={s.id === 'activity' ? prefetchActivity : undefined}
            onFocus={s.id === 'activity' ? prefetchActivity : undefined}
          >
            {s.label}
          </button>
        ))}
      </div>
      {tab === 'users' || usersOrg === org ? (
        <UsersPanel key={org} org={org} tabbed hidden={tab !== 'users'} ready={!!viewer} admin={!!isAdmin(viewer, org)} />
      ) : (
        <div id="panel-users" role="tabpanel" aria-labelledby="tab-users" hidden />
      )}
      <div id="panel-activity" role="tabpanel" aria-labelledby="tab-activity" hidden={tab !== 'activity'} class="panel">
        {tab === 'activity' && (
          <AdminActivity viewer={viewer} org={org}>
            {(ready) => <ActivityTab key={org} org={org} ready={ready} />}
          </AdminActivity>
        )}
      </div>
      {sections
        .filter((s) => s.id !== 'users' && s.id !== 'activity')
        .map((s) => (
          <div key={s.id} id={'panel-' + s.id} role="tabpanel" aria-labelledby={'tab-' + s.id} hidden={tab !== s.id} class="panel">
            {tab === s.id && sectionPage(s.id, props)}
          </div>
        ))}
    </div>
  );
}

/** Multi-tenant: the links between an organization's pages. */
function MultiTenantNav({ org, current }: { org: string; current: string }) {
  const paths = [
    { path: 'members', label: 'Members' },
    { path: 'audit-log', label: 'Audit log' },
    { path: 'alerts', label: 'Alerts & integrations' },
    { path: 'integrity', label: 'Integrity' },
  ];
  return (
    <nav class="tabs subnav" aria-label="Organization">
      {paths.map((p) => (
        <Link
          key={p.path}
          id={'nav-' + p.path}
          href={`/account-settings/${encodeURIComponent(org)}/${p.path}`}
          aria-current={current === p.path ? 'page' : undefined}
        >
          {p.label}
        </Link>
      ))}
    </nav>
  );
}

/** Multi-tenant: /account-settings/ (the viewer's organizations),
 * /account-settings/<org>/members (the Activity Panel above the users) and
 * the organization's other pages (/audit-log, /alerts, /integrity). */
function MultiTenant({ url, viewer, org }: { url: URL; viewer: Viewer | null; org: string | null }) {
  const list = url.pathname === '/account-settings/' || url.pathname === '/account-settings';
  useEffect(() => {
    if (list && viewer?.orgs.length === 1) navigate(pageFor(viewer.orgs[0].name), true);
  }, [list, viewer]);
  useEffect(() => {
    const page = url.pathname.replace(/\/$/, '').split('/').pop();
    const label = sections.find((x) => x.path === page && x.id !== 'activity')?.label ?? 'Members';
    document.title = org ? `${org} · ${label === 'Users' ? 'Members' : label} · auditgraph` : 'Organizations · auditgraph';
  }, [org, url.pathname]);

  if (list || !org) {
    if (!viewer) {
      return (
        <div class="card state-loading" aria-busy="true">
          Loading…
        </div>
      );
    }
    if (viewer.orgs.length === 0) return <NoOrg />;
    return (
      <div class="page">
        <div class="page-head">
          <h1>Your organizations</h1>
        </div>
        <ul class="card org-list">
          {viewer.orgs.map((o) => (
            <li key={o.name}>
              <Link href={pageFor(o.name)} class="org-link">
                {o.name}
              </Link>
              {o.viewerRole && <span class="muted"> {o.viewerRole === 'ADMIN' ? 'Admin' : o.viewerRole === 'VIEWER' ? 'Viewer' : 'Member'}</span>}
            </li>
          ))}
        </ul>
      </div>
    );
  }
  const sub = url.pathname.replace(/\/$/, '').split('/').pop() ?? 'members';
  if (sub !== 'members') {
    const s = sections.find((x) => x.path === sub)!;
    const props: SectionProps = { org, admin: isAdmin(viewer, org), instanceAdmin: !!viewer?.instanceAdmin };
    return (
      <div class="page">
        <div class="page-head">
          <h1>
            {s.label} <span class="org-name">{org}</span>
          </h1>
        </div>
        <MultiTenantNav org={org} current={sub} />
        <div id={'panel-' + s.id} class="panel">
          {sectionPage(s.id, props)}
        </div>
      </div>
    );
  }
  return (
    <div class="page">
      <div class="page-head">
        <h1>
          Members <span class="org-name">{org}</span>
        </h1>
      </div>
      <MultiTenantNav org={org} current="members" />
      <AdminActivity viewer={viewer} org={org}>
        {(ready) => <ActivityPanel key={'a-' + org} org={org} ready={ready} />}
      </AdminActivity>
      <UsersPanel key={org} org={org} tabbed={false} ready={!!viewer} admin={!!isAdmin(viewer, org)} />
    </div>
  );
}
