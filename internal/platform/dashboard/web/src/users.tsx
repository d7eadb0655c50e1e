// The Users tab (self-managed, dedicated) and the members table of the
// multi-tenant Members page: search, filters, sort, paging through the API's
// cursor connection 50 rows at a time, and the admins' row actions. The
// search, filters and order are in the address (?q=&status=&role=&team=&sort=,
// see queries.ts), so that a link shows the same list.
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { deployment, gql } from './api';
import {
  PAGE,
  ROLES,
  listingFromURL,
  listingToURL,
  memberFields,
  statuses,
  teamsQuery,
  teamsVariables,
  usersQuery,
  usersVariables,
  type Listing,
  type SortField,
} from './queries';
import {
  Dialog,
  MenuButton,
  navigate,
  clearError,
  day,
  errorText,
  notify,
  reportError,
  memo,
  useDebounced,
  words,
} from './ui';

interface Member {
  name: string;
  username: string;
  email: string | null;
  role: string;
  modelsSeat: string;
  weaveAccess: string;
  status: string;
  lastActiveDisplay: string;
  dateAdded: string;
  activeDays: number;
  invitePending: boolean;
  teams: { name: string }[];
  user: { deactivated: boolean };
}

interface UsersData {
  organization: {
    name: string;
    viewerRole: string | null;
    users: {
      totalCount: number;
      pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
      nodes: Member[];
    };
  } | null;
}

interface TeamsData {
  organization: {
    teams: { pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: { node: { name: string } }[] };
  } | null;
}

/** Where the shown page is: the cursor it was asked from, and its offset. */
interface Page {
  key: string;
  after?: string;
  before?: string;
  offset: number;
}

const SEATS = ['FULL', 'VIEWER', 'NONE'];

const multiTenant = () => deployment() === 'multi-tenant';

/** The users of org. admin shows the admins' controls; ready is false while
 * the page still loads the viewer: the first rows wait for it, so that the
 * page draws once, with or without the admin controls (the query itself
 * starts at once). */
export function UsersPanel(props: { org: string; tabbed: boolean; admin: boolean; ready: boolean; hidden?: boolean }) {
  const { org } = props;
  // The listing starts as the address names it; the address follows it.
  const [initial] = useState(() => listingFromURL(new URLSearchParams(location.search), multiTenant()));
  const [search, setSearch] = useState(initial.q);
  const q = useDebounced(search.trim(), 250);
  const [status, setStatus] = useState(initial.status);
  const [role, setRole] = useState(initial.role);
  const [team, setTeam] = useState(initial.team);
  const [sort, setSort] = useState(initial.sort);
  const [pageState, setPageState] = useState<Page>({ key: '', offset: 0 });
  const [data, setData] = useState<UsersData['organization'] | undefined>(undefined);
  const [rows, setRows] = useState<Member[]>([]);
  const [loading, setLoading] = useState(true);
  const [failed, setFailed] = useState('');
  const [reload, setReload] = useState(0);
  const [teams, setTeams] = useState<string[]>([]);
  const seq = useRef(0);
  const listing: Listing = { q, status, role, team, sort };

  const filtered = !!(q || status || role || team);

  // The page shown belongs to one listing (search, filters, order): when
  // that changes, the list starts again from its first page.
  const listed = JSON.stringify([q, status, role, team, sort.field, sort.direction]);
  const listedRef = useRef(listed);
  listedRef.current = listed;
  const page: Page = pageState.key === listed ? pageState : { key: listed, offset: 0 };
  const setPage = (p: Omit<Page, 'key'>) => setPageState({ ...p, key: listed });

  // Layout effects, not effects: the requests (or the early script's
  // answers) are taken as the panel is drawn, not a frame later.
  useLayoutEffect(() => {
    const n = ++seq.current;
    setLoading(true);
    const vars = usersVariables(org, listing, page);
    gql<UsersData>(usersQuery, vars).then(
      (d) => {
        if (n !== seq.current) return;
        setLoading(false);
        if (!d.organization) {
          setFailed(`There is no organization ${org}, or you cannot see it.`);
          reportError('users', new Error(`There is no organization ${org}, or you cannot see it.`));
          return;
        }
        setFailed('');
        clearError('users');
        setData(d.organization);
        setRows(d.organization.users.nodes);
      },
      (err) => {
        if (n !== seq.current) return;
        setLoading(false);
        setFailed('The users could not be loaded.');
        reportError('users', err, org);
      },
    );
  }, [org, listed, page.after, page.before, page.offset, reload]);

  useLayoutEffect(() => {
    let stop = false;
    (async () => {
      const names: string[] = [];
      let after: string | null = null;
      for (let i = 0; i < 20 && !stop; i++) {
        const d: TeamsData = await gql<TeamsData>(teamsQuery, teamsVariables(org, after));
        if (!d.organization) break;
        names.push(...d.organization.teams.edges.map((e) => e.node.name));
        if (!d.organization.teams.pageInfo.hasNextPage) break;
        after = d.organization.teams.pageInfo.endCursor;
      }
      if (!stop) setTeams(names);
    })().catch(() => {
      // The team filter then offers only "All"; the users' query reports errors.
    });
    return () => {
      stop = true;
    };
  }, [org]);

  // The address names the listing shown (replacing its entry: each
  // keystroke is not a page to go Back to), while this panel is shown.
  useEffect(() => {
    if (props.hidden) return;
    const u = new URL(location.href);
    listingToURL(listing, u.searchParams);
    if (u.href !== location.href) navigate(u.pathname + u.search + u.hash, true);
  }, [listed, props.hidden]);
  // Back and Forward to an address of this page show its listing.
  useEffect(() => {
    const on = () => {
      const l = listingFromURL(new URLSearchParams(location.search), multiTenant());
      if (JSON.stringify([l.q, l.status, l.role, l.team, l.sort.field, l.sort.direction]) === listedRef.current) return;
      setSearch(l.q);
      setStatus(l.status);
      setRole(l.role);
      setTeam(l.team);
      setSort(l.sort);
    };
    window.addEventListener('popstate', on);
    return () => window.removeEventListener('popstate', on);
  }, []);

  const admin = props.admin || data?.viewerRole === 'ADMIN';
  // The admins' selects (three per row, 150 <select>s: most of the time it
  // takes Chromium to draw the rows) come in the task after the rows first
  // show, which show the values as text until then; the panel stays busy
  // meanwhile. Later pages draw them at once.
  const [selects, setSelects] = useState(false);
  const shown = rows.length > 0 && props.ready;
  useLayoutEffect(() => {
    if (!shown || selects) return;
    const t = setTimeout(() => setSelects(true), 0);
    return () => clearTimeout(t);
  }, [shown, selects]);
  const selectsPending = admin && shown && !selects;
  // Nothing was ever loaded (no such organization, or an error): only the
  // error and Try again show.
  const broken = data === undefined && !!failed;
  const total = data?.users.totalCount ?? 0;
  const info = data?.users.pageInfo;
  const first = rows.length ? page.offset + 1 : 0;
  const last = page.offset + rows.length;

  const sortBy = (field: SortField) => {
    if (sort.field === field) setSort({ field, direction: sort.direction === 'ASC' ? 'DESC' : 'ASC' });
    else setSort({ field, direction: field === 'LAST_ACTIVE' ? 'DESC' : 'ASC' });
  };
  const ariaSort = (field: SortField) =>
    sort.field === field ? (sort.direction === 'ASC' ? 'ascending' : 'descending') : undefined;
  const arrow = (field: SortField) => (sort.field === field ? (sort.direction === 'ASC' ? '▲' : '▼') : '↕');

  const refresh = () => setReload((n) => n + 1);
  // After a row action the row may be gone (removed, or filtered out): focus
  // then goes to the table rather than being lost to the page.
  const refocus = useRef(false);
  // The rows' callbacks never change, so that a row draws again only when
  // its own props do (Row is memoized).
  const [replaceRow, afterAction] = useMemo(
    () => [
      (m: Member) => setRows((rs) => rs.map((r) => (r.username === m.username ? m : r))),
      () => {
        refocus.current = true;
        setReload((n) => n + 1);
      },
    ],
    [],
  );
  const tip = useCellTooltip();
  const scroller = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!refocus.current || loading) return;
    refocus.current = false;
    const a = document.activeElement;
    if (!a || a === document.body || !a.isConnected) scroller.current?.focus();
  }, [rows, loading]);

  const [invite, setInvite] = useState(false);
  const [confirm, setConfirm] = useState<Confirm | null>(null);

  const panelProps = props.tabbed
    ? { role: 'tabpanel' as const, 'aria-labelledby': 'tab-users' }
    : { role: 'region' as const, 'aria-labelledby': 'users-heading' };

  return (
    <div
      id="panel-users"
      class="panel"
      {...panelProps}
      hidden={props.hidden}
      aria-busy={loading || !props.ready || selectsPending ? 'true' : 'false'}
    >
      <div class="toolbar">
        <h2 id="users-heading">
          Users {data && <span class="count muted">{total}</span>}
        </h2>
        <div class="toolbar-actions">
          {admin && !broken && (
            <button id="invite-user" type="button" class="primary" onClick={() => setInvite(true)}>
              Invite new user
            </button>
          )}
          {admin && !broken && (
            <MenuButton
              id="actions-menu"
              label="More actions"
              text={<span aria-hidden="true">⋯</span>}
              items={[
                {
                  key: 'csv',
                  render: (close) => (
                    <a
                      id="export-csv"
                      role="menuitem"
                      tabIndex={-1}
                      href={'/admin/users.csv?org=' + encodeURIComponent(org)}
                      download={`${org}-users.csv`}
                      onClick={() => close()}
                    >
                      Export as CSV
                    </a>
                  ),
                },
              ]}
            />
          )}
        </div>
      </div>
      <div class="filters" hidden={broken}>
        <div class="field grow">
          <label for="members-search">Search users</label>
          <input
            id="members-search"
            type="search"
            placeholder="Name, username or email"
            value={search}
            onInput={(e) => setSearch((e.target as HTMLInputElement).value)}
          />
        </div>
        <FilterSelect id="filter-status" label="Status" value={status} onChange={setStatus} options={statuses(multiTenant()).map((v) => [v, words(v)])} />
        <FilterSelect id="filter-role" label="Role" value={role} onChange={setRole} options={ROLES.map((v) => [v, words(v)])} />
        <FilterSelect id="filter-team" label="Team" value={team} onChange={setTeam} options={teams.map((t) => [t, t])} />
      </div>

      {(data === undefined && loading) || (!props.ready && !failed) ? (
        <div class="state-loading">Loading users…</div>
      ) : data === undefined && failed ? (
        <div class="state-error">
          <p>{failed}</p>
          <button type="button" onClick={refresh}>
            Try again
          </button>
        </div>
      ) : !filtered && total === 0 && !loading ? (
        <div id="members-empty" class="state-empty">
          <p>
            No users in {org} yet.{admin ? ' Invite the first one with Invite new user.' : ''}
          </p>
        </div>
      ) : (
        <>
          <div ref={scroller} class="table-scroll members-scroll" tabIndex={0} role="region" aria-label={`Users of ${org}`}>
            <table id="members-table" class={loading ? 'stale' : ''}>
              <thead>
                <tr>
                  <th id="col-name" scope="col" aria-sort={ariaSort('NAME')}>
                    <button type="button" class="sort" onClick={() => sortBy('NAME')}>
                      Name <span aria-hidden="true">{arrow('NAME')}</span>
                    </button>
                  </th>
                  <th scope="col">Username</th>
                  <th scope="col">Role</th>
                  <th scope="col">Models seat</th>
                  <th scope="col">Weave access</th>
                  <th scope="col">Email</th>
                  <th scope="col">Teams</th>
                  <th id="col-last-active" scope="col" aria-sort={ariaSort('LAST_ACTIVE')}>
                    <button type="button" class="sort" onClick={() => sortBy('LAST_ACTIVE')}>
                      Last Active <span aria-hidden="true">{arrow('LAST_ACTIVE')}</span>
                    </button>
                  </th>
                  {admin && (
                    <th scope="col" class="actions-col">
                      <span class="visually-hidden">Actions</span>
                    </th>
                  )}
                </tr>
              </thead>
              <tbody {...tip.handlers}>
                {rows.map((m) => (
                  <Row
                    key={m.username}
                    m={m}
                    org={org}
                    admin={admin}
                    selects={admin && selects}
                    tip={tip.shown === m.username}
                    onChanged={replaceRow}
                    onConfirm={setConfirm}
                    onGone={afterAction}
                  />
                ))}
              </tbody>
            </table>
          </div>
          {rows.length === 0 && !loading && <p class="state-empty no-match">No users match these filters.</p>}
        </>
      )}

      <nav class="pager" aria-label="Pages of users" hidden={broken}>
        <button
          id="page-prev"
          type="button"
          disabled={page.offset === 0 || !info?.startCursor}
          onClick={() =>
            // Ignored while a page loads; never disabled then, so it keeps focus.
            !loading && info?.startCursor && setPage({ before: info.startCursor, offset: Math.max(0, page.offset - PAGE) })
          }
        >
          Previous
        </button>
        <span id="page-status" aria-live="polite">
          {data ? (rows.length ? `${first}–${last} of ${total}` : `0 of ${total}`) : ''}
        </span>
        <button
          id="page-next"
          type="button"
          disabled={!(info?.hasNextPage || (rows.length > 0 && last < total)) || !info?.endCursor}
          onClick={() => !loading && info?.endCursor && setPage({ after: info.endCursor, offset: page.offset + rows.length })}
        >
          Next
        </button>
      </nav>

      {admin && <InviteDialog org={org} open={invite} onClose={() => setInvite(false)} onInvited={refresh} />}
      <ConfirmDialog org={org} confirm={confirm} onClose={() => setConfirm(null)} />
    </div>
  );
}

/** One of the filters above the table: "All" ('') or one of options
 * ([value, text]). A value the options lack (a team named by the address
 * before the teams load) shows as itself, so the select never lies. */
function FilterSelect(props: {
  id: string;
  label: string;
  value: string;
  options: [string, string][];
  onChange: (v: string) => void;
}) {
  const { id, label, value, options } = props;
  const all = value && !options.some(([v]) => v === value) ? [...options, [value, value] as [string, string]] : options;
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}>
        <option value="">All</option>
        {all.map(([v, text]) => (
          <option key={v} value={v}>
            {text}
          </option>
        ))}
      </select>
    </div>
  );
}

/** An action waiting for the admin's confirmation. */
interface Confirm {
  title: string;
  text: string;
  ok: string;
  run: () => Promise<void>;
}

/** The Last Active tooltip of the table: one at a time, for the cell the
 * pointer is over, else the one that has focus; Escape hides it until the
 * pointer or focus moves to a cell again. The table's body listens, not
 * each of its cells. */
function useCellTooltip() {
  const [hover, setHover] = useState<string | null>(null);
  const [focus, setFocus] = useState<string | null>(null);
  const [dismissed, setDismissed] = useState(false);
  const shown = dismissed ? null : (hover ?? focus);
  const user = (e: Event) =>
    (e.target as Element).closest?.('td.last-active')?.closest('tr')?.getAttribute('data-username') ?? null;
  const handlers = {
    onMouseOver: (e: MouseEvent) => {
      const u = user(e);
      if (u !== hover) {
        setHover(u);
        if (u) setDismissed(false);
      }
    },
    onMouseLeave: () => setHover(null),
    onFocusIn: (e: FocusEvent) => {
      const u = user(e);
      setFocus(u);
      if (u) setDismissed(false);
    },
    onFocusOut: () => setFocus(null),
    onKeyDown: (e: KeyboardEvent) => {
      if (e.key === 'Escape' && shown && user(e)) {
        setDismissed(true);
        e.stopPropagation();
      }
    },
  };
  return { shown, handlers };
}

/** The id of the Last Active tooltip while one is shown. */
const tipID = 'last-active-tip';

const Row = memo(function Row(props: {
  m: Member;
  org: string;
  admin: boolean;
  /** Whether the admin's selects are drawn yet (else their values, as text). */
  selects: boolean;
  tip: boolean;
  onChanged: (m: Member) => void;
  onConfirm: (c: Confirm) => void;
  onGone: () => void;
}) {
  const { m, org, admin } = props;
  const [busy, setBusy] = useState(false);

  const update = async (field: 'role' | 'modelsSeat' | 'weaveAccess', value: string, el: HTMLSelectElement) => {
    const old = m[field];
    setBusy(true);
    try {
      const d = await gql<{ updateMember: Member }>(
        `mutation DashboardUpdateMember($input: UpdateMemberInput!) { updateMember(input: $input) { ${memberFields} } }`,
        { input: { organization: org, username: m.username, [field]: value } },
      );
      props.onChanged(d.updateMember);
      const what = field === 'role' ? 'role' : field === 'modelsSeat' ? 'Models seat' : 'Weave access';
      notify(`Changed ${m.username}'s ${what} to ${words(d.updateMember[field])}`);
    } catch (err) {
      el.value = old;
      reportError('action', err, org, true);
    } finally {
      setBusy(false);
    }
  };

  const deactivated = m.user.deactivated || m.status === 'DEACTIVATED';
  const who = m.name ? `${m.name} (${m.username})` : m.username;

  return (
    <tr data-username={m.username} aria-busy={busy ? 'true' : undefined}>
      <td class="name">{m.name || <span class="muted">{m.username}</span>}</td>
      <td class="username">{m.username}</td>
      <td>
        {props.selects ? (
          choice({
            class: 'role-select',
            label: `Role for ${m.username}`,
            value: m.role,
            options: ROLES,
            disabled: busy,
            onChange: (v, el) => update('role', v, el),
          })
        ) : (
          admin ? (
            <span class="select-pending">{words(m.role)}</span>
          ) : (
            words(m.role)
          )
        )}
      </td>
      <td>
        {props.selects ? (
          choice({
            class: 'seat-select',
            label: `Models seat for ${m.username}`,
            value: m.modelsSeat,
            options: SEATS,
            disabled: busy,
            onChange: (v, el) => update('modelsSeat', v, el),
          })
        ) : (
          admin ? (
            <span class="select-pending">{words(m.modelsSeat)}</span>
          ) : (
            words(m.modelsSeat)
          )
        )}
      </td>
      <td>
        {props.selects ? (
          choice({
            class: 'weave-select',
            label: `Weave access for ${m.username}`,
            value: m.weaveAccess,
            options: SEATS,
            disabled: busy,
            onChange: (v, el) => update('weaveAccess', v, el),
          })
        ) : (
          admin ? (
            <span class="select-pending">{words(m.weaveAccess)}</span>
          ) : (
            words(m.weaveAccess)
          )
        )}
      </td>
      <td class="email">{m.email ?? <span class="muted">—</span>}</td>
      <td class="teams">{m.teams.length ? m.teams.map((t) => t.name).join(', ') : <span class="muted">—</span>}</td>
      <td class="last-active" tabIndex={0} aria-describedby={props.tip ? tipID : undefined}>
        <span class={'status status-' + m.status.toLowerCase()}>{m.lastActiveDisplay}</span>
        {props.tip && (
          <div role="tooltip" id={tipID} class="tooltip">
            <div>Date added: {day(m.dateAdded)}</div>
            <div>Active days: {m.activeDays}</div>
          </div>
        )}
      </td>
      {admin && (
        <td class="actions-col">
          <MenuButton
            class="row-menu"
            label={`Actions for ${m.username}`}
            text={<span aria-hidden="true">⋯</span>}
            items={[
              deactivated
                ? {
                    key: 'reactivate',
                    render: (close) => (
                      <button
                        type="button"
                        role="menuitem"
                        tabIndex={-1}
                        onClick={() => {
                          close();
                          props.onConfirm({
                            title: `Reactivate ${m.username}?`,
                            text: `${who} gets their access back; their API keys work again.`,
                            ok: 'Reactivate',
                            run: async () => {
                              await gql(`mutation DashboardReactivate($u: String!) { reactivateUser(username: $u) { username } }`, { u: m.username });
                              notify(`Reactivated ${m.username}`);
                              props.onGone();
                            },
                          });
                        }}
                      >
                        Reactivate
                      </button>
                    ),
                  }
                : {
                    key: 'deactivate',
                    render: (close) => (
                      <button
                        type="button"
                        role="menuitem"
                        tabIndex={-1}
                        onClick={() => {
                          close();
                          props.onConfirm({
                            title: `Deactivate ${m.username}?`,
                            text: `${who} loses access at once: their API keys and sessions stop working, in every organization, until an admin reactivates them.`,
                            ok: 'Deactivate',
                            run: async () => {
                              await gql(`mutation DashboardDeactivate($u: String!) { deactivateUser(username: $u) { username } }`, { u: m.username });
                              notify(`Deactivated ${m.username}`);
                              props.onGone();
                            },
                          });
                        }}
                      >
                        Deactivate
                      </button>
                    ),
                  },
              {
                key: 'remove',
                render: (close) => (
                  <button
                    type="button"
                    role="menuitem"
                    tabIndex={-1}
                    class="danger"
                    onClick={() => {
                      close();
                      props.onConfirm({
                        title: `Remove ${m.username} from ${org}?`,
                        text: m.invitePending
                          ? `The invitation to ${m.email ?? m.username} is withdrawn.`
                          : `${who} leaves ${org} and its teams. Their audit events stay.`,
                        ok: 'Remove',
                        run: async () => {
                          await gql(`mutation DashboardRemove($o: String!, $u: String!) { removeMember(organization: $o, username: $u) }`, {
                            o: org,
                            u: m.username,
                          });
                          notify(`Removed ${m.username} from ${org}`);
                          props.onGone();
                        },
                      });
                    }}
                  >
                    Remove from organization
                  </button>
                ),
              },
            ]}
          />
        </td>
      )}
    </tr>
  );
});

/** A select of enum values, shown in words: a plain function, not a
 * component, one less component per cell of the 50 rows. */
function choice(props: {
  class: string;
  label: string;
  value: string;
  options: string[];
  disabled: boolean;
  onChange: (v: string, el: HTMLSelectElement) => void;
}) {
  return (
    <select
      class={props.class}
      aria-label={props.label}
      value={props.value}
      disabled={props.disabled}
      onChange={(e) => {
        const el = e.target as HTMLSelectElement;
        props.onChange(el.value, el);
      }}
    >
      {props.options.map((o) => (
        <option key={o} value={o}>
          {words(o)}
        </option>
      ))}
    </select>
  );
}

function ConfirmDialog({ org, confirm, onClose }: { org: string; confirm: Confirm | null; onClose: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  useEffect(() => setError(''), [confirm]);
  return (
    <Dialog id="confirm-dialog" title={confirm?.title ?? ''} open={!!confirm} onClose={onClose}>
      {confirm && (
        <form
          method="dialog"
          onSubmit={async (e) => {
            e.preventDefault();
            setBusy(true);
            try {
              await confirm.run();
              onClose();
            } catch (err) {
              setError(errorText(err, org, true));
              reportError('action', err, org, true);
            } finally {
              setBusy(false);
            }
          }}
        >
          <p>{confirm.text}</p>
          {error && <p class="error">{error}</p>}
          <div class="dialog-actions">
            <button type="button" onClick={onClose}>
              Cancel
            </button>
            <button id="confirm-ok" type="submit" class="primary" disabled={busy}>
              {confirm.ok}
            </button>
          </div>
        </form>
      )}
    </Dialog>
  );
}

function InviteDialog(props: { org: string; open: boolean; onClose: () => void; onInvited: () => void }) {
  const [email, setEmail] = useState('');
  const [role, setRole] = useState('MEMBER');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  useEffect(() => {
    if (props.open) {
      setEmail('');
      setRole('MEMBER');
      setError('');
    }
  }, [props.open]);
  return (
    <Dialog id="invite-dialog" title={`Invite a user to ${props.org}`} open={props.open} onClose={props.onClose}>
      <form
        method="dialog"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError('');
          try {
            const d = await gql<{ inviteUser: { username: string; role: string } }>(
              `mutation DashboardInvite($input: InviteUserInput!) { inviteUser(input: $input) { username role } }`,
              { input: { organization: props.org, email: email.trim(), role } },
            );
            notify(`Invited ${email.trim()} to ${props.org} as ${words(d.inviteUser.role)}`);
            props.onClose();
            props.onInvited();
          } catch (err) {
            setError(errorText(err, props.org, true));
          } finally {
            setBusy(false);
          }
        }}
      >
        <label for="invite-email">Email</label>
        <input
          id="invite-email"
          type="email"
          required
          autocomplete="off"
          value={email}
          onInput={(e) => setEmail((e.target as HTMLInputElement).value)}
        />
        <label for="invite-role">Role</label>
        <select id="invite-role" value={role} onChange={(e) => setRole((e.target as HTMLSelectElement).value)}>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {words(r)}
            </option>
          ))}
        </select>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <div class="dialog-actions">
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
          <button id="invite-submit" type="submit" class="primary" disabled={busy}>
            Send invitation
          </button>
        </div>
      </form>
    </Dialog>
  );
}
