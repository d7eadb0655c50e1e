// The Alerts & integrations page (issue 13), on the public GraphQL API only
// (schema/slack.graphqls, integration.graphqls, alert.graphqls):
// - instance admins register the Slack app (client ID and a write-only
//   client secret) and read the redirect URL to give Slack;
// - the organization's admins connect Slack (Add to Slack: the server's
//   install link, which binds the install to this browser with a cookie)
//   and signed webhooks, send test alerts, disconnect, and read each
//   integration's state, last delivery and delivery history;
// - they write alert rules, switch them on and off, and enable the
//   built-in suggestions in one click.
// A member who is not an admin gets a note and no request that could only
// be refused.
import './alerts.css';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { SectionProps } from '../app';
import { gql } from '../api';
import { Dialog, clearError, errorText, notify, reportError } from '../ui';
import {
  type AlertDelivery,
  type ChangesData,
  type ConfigChange,
  changesQuery,
  type AlertRule,
  type HistoryData,
  type Integration,
  type PageData,
  type SlackApp,
  SUGGESTIONS,
  clearSlackAppMutation,
  createWebhookMutation,
  deleteRuleMutation,
  disconnectMutation,
  historyQuery,
  installURLMutation,
  pageQuery,
  ruleInput,
  setSlackAppMutation,
  slackAppQuery,
  suggestMutation,
  testAlertMutation,
  updateRuleMutation,
} from './queries';
import { usePagedList } from './paging';
import { RuleDialog, ruleSummary } from './RuleDialog';
import { Badge, CopyButton, Time, plural } from './util';

export function AlertsPage({ org, admin, instanceAdmin }: SectionProps) {
  if (admin === null) {
    return (
      <div class="state-loading" aria-busy="true">
        Loading…
      </div>
    );
  }
  if (!admin) {
    return (
      <p class="card admins-only" id="alerts-admins-only">
        Alerts and integrations of {org} are managed by its admins. Ask an admin of {org} to connect Slack, add a
        webhook or change an alert rule.
      </p>
    );
  }
  return (
    <div class="alerts-page" id="alerts-page">
      {instanceAdmin && <SlackAppCard />}
      <OrgAlerts org={org} instanceAdmin={instanceAdmin} />
    </div>
  );
}

// ---- The Slack app registration (instance admins) ----

function SlackAppCard() {
  const [app, setApp] = useState<SlackApp | null>(null);
  const [error, setError] = useState('');
  const [clientId, setClientId] = useState('');
  const [secret, setSecret] = useState('');
  const [busy, setBusy] = useState(false);
  const [formError, setFormError] = useState('');

  useEffect(() => {
    gql<{ slackApp: SlackApp }>(slackAppQuery).then(
      (d) => {
        setApp(d.slackApp);
        setClientId(d.slackApp.clientId ?? '');
      },
      (err) => setError(errorText(err)),
    );
  }, []);

  const save = async (e: Event) => {
    e.preventDefault();
    setFormError('');
    if (!clientId.trim()) return setFormError('Enter the Slack app’s client ID.');
    if (!secret) return setFormError('Enter the Slack app’s client secret.');
    setBusy(true);
    try {
      const d = await gql<{ setSlackApp: SlackApp }>(setSlackAppMutation, { id: clientId.trim(), secret });
      setApp(d.setSlackApp);
      setSecret('');
      notify('The Slack app registration was stored. Organizations can now add Slack.');
    } catch (err) {
      setFormError(errorText(err, undefined, true));
    } finally {
      setBusy(false);
    }
  };
  const clear = async () => {
    setBusy(true);
    setFormError('');
    try {
      const d = await gql<{ clearSlackApp: SlackApp }>(clearSlackAppMutation);
      setApp(d.clearSlackApp);
      setClientId('');
      notify('The Slack app registration was removed. Channels already connected keep working.');
    } catch (err) {
      setFormError(errorText(err, undefined, true));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card alerts-card" id="slack-app" aria-labelledby="slack-app-title">
      <h2 id="slack-app-title">Slack app (instance setting)</h2>
      <p class="muted">
        Alerts reach Slack through a Slack app of your own. Create one at api.slack.com/apps in the workspace that
        gets the alerts, give it the <code>incoming-webhook</code> scope (OAuth &amp; Permissions), add the redirect
        URL below to its Redirect URLs and save them; then store its client ID and client secret (Basic Information)
        here.
      </p>
      {error && <p class="error">{error}</p>}
      {!app && !error && (
        <p class="state-loading" aria-busy="true">
          Loading…
        </p>
      )}
      {app && (
        <>
          <dl class="facts">
            <dt>Status</dt>
            <dd id="slack-app-status">{app.configured ? 'Registered' : 'Not registered'}</dd>
            <dt>Client ID</dt>
            <dd id="slack-app-client-id">{app.clientId ?? <span class="muted">none stored</span>}</dd>
            <dt>Client secret</dt>
            <dd id="slack-app-secret">{app.clientSecretSet ? 'Set (never shown)' : 'Not set'}</dd>
            <dt>Redirect URL</dt>
            <dd class="redirect">
              <code id="slack-redirect-url">{app.redirectUrl}</code>{' '}
              <CopyButton text={app.redirectUrl} label="Copy the redirect URL" id="slack-redirect-copy" />
            </dd>
            {app.updatedAt && (
              <>
                <dt>Last stored</dt>
                <dd>
                  <Time t={app.updatedAt} />
                </dd>
              </>
            )}
          </dl>
          <form class="inline-form" onSubmit={save} aria-labelledby="slack-app-form-title">
            <h3 id="slack-app-form-title">{app.configured ? 'Replace the registration' : 'Register the Slack app'}</h3>
            <div class="field">
              <label for="slack-client-id">Client ID</label>
              <input
                id="slack-client-id"
                autocomplete="off"
                spellcheck={false}
                value={clientId}
                onInput={(e) => setClientId((e.target as HTMLInputElement).value)}
              />
            </div>
            <div class="field">
              <label for="slack-client-secret">Client secret</label>
              <input
                id="slack-client-secret"
                type="password"
                autocomplete="new-password"
                aria-describedby="slack-client-secret-hint"
                value={secret}
                onInput={(e) => setSecret((e.target as HTMLInputElement).value)}
              />
              <span id="slack-client-secret-hint" class="hint">
                {app.clientSecretSet
                  ? 'A secret is stored and is never shown. Enter it again (or a new one) to save.'
                  : 'Stored encrypted; it is never shown again.'}
              </span>
            </div>
            {formError && (
              <p class="error" role="alert">
                {formError}
              </p>
            )}
            <div class="form-actions">
              <button id="slack-app-save" type="submit" class="primary" disabled={busy}>
                Save
              </button>
              {app.configured && (
                <button id="slack-app-clear" type="button" class="danger" disabled={busy} onClick={clear}>
                  Remove registration
                </button>
              )}
            </div>
          </form>
        </>
      )}
    </section>
  );
}

// ---- The organization's integrations and rules ----

interface Data {
  integrations: Integration[];
  rules: AlertRule[];
}

async function loadAll(org: string): Promise<Data> {
  const out: Data = { integrations: [], rules: [] };
  let ia: string | null = null;
  let ra: string | null = null;
  let moreI = true;
  let moreR = true;
  for (let i = 0; i < 20 && (moreI || moreR); i++) {
    const d: PageData = await gql<PageData>(pageQuery, { org, ia, ra });
    const o = d.organization;
    if (!o) throw new Error(`There is no organization ${org}, or you are not a member of it.`);
    if (moreI) {
      out.integrations.push(...o.integrations.edges.map((e) => e.node));
      moreI = o.integrations.pageInfo.hasNextPage;
      ia = o.integrations.pageInfo.endCursor;
    }
    if (moreR) {
      out.rules.push(...o.alertRules.edges.map((e) => e.node));
      moreR = o.alertRules.pageInfo.hasNextPage;
      ra = o.alertRules.pageInfo.endCursor;
    }
  }
  return out;
}

/** Whether alerts can go to an integration (a rule may point at it). */
export function inUse(i: { status: string }): boolean {
  return i.status === 'OK' || i.status === 'FAILING';
}

interface Confirm {
  title: string;
  text: string;
  ok: string;
  run: () => Promise<void>;
}

function OrgAlerts({ org, instanceAdmin }: { org: string; instanceAdmin: boolean }) {
  const [data, setData] = useState<Data | null>(null);
  const [loading, setLoading] = useState(true);
  const [loadError, setLoadError] = useState('');
  const [tick, setTick] = useState(0); // bumps on every reload, for the histories
  const [confirm, setConfirm] = useState<Confirm | null>(null);
  const [editing, setEditing] = useState<AlertRule | 'new' | null>(null);
  const seq = useRef(0);

  const reload = async () => {
    const my = ++seq.current;
    setLoading(true);
    try {
      const d = await loadAll(org);
      if (my !== seq.current) return;
      setData(d);
      setLoadError('');
      clearError('alerts');
    } catch (err) {
      if (my !== seq.current) return;
      setLoadError(errorText(err, org));
    } finally {
      if (my === seq.current) {
        setLoading(false);
        setTick((t) => t + 1);
      }
    }
  };
  useEffect(() => {
    reload();
  }, [org]);

  // Keeps the delivery figures current: every 5 s while an alert waits for
  // delivery, else every 30 s; only while the page is visible.
  const pending = data?.integrations.some((i) => i.delivery.pending > 0) ?? false;
  useEffect(() => {
    const t = setInterval(
      () => {
        if (document.visibilityState === 'visible') reload();
      },
      pending ? 5000 : 30000,
    );
    return () => clearInterval(t);
  }, [org, pending]);

  const act = async (what: () => Promise<unknown>, done: string) => {
    try {
      await what();
      notify(done);
    } catch (err) {
      reportError('action', err, org, true);
    }
    await reload();
  };

  if (!data) {
    return loadError ? (
      <div class="card state-error">
        <p>{loadError}</p>
        <button type="button" onClick={reload}>
          Try again
        </button>
      </div>
    ) : (
      <div class="card state-loading" aria-busy="true">
        Loading…
      </div>
    );
  }
  const usable = data.integrations.filter(inUse);
  return (
    <>
      <div class="alerts-toolbar">
        <p class="muted" aria-live="polite">
          {loading ? 'Updating…' : loadError ? loadError : `${plural(usable.length, 'integration')} in use, ${plural(data.rules.length, 'rule')}`}
        </p>
        <button id="alerts-refresh" type="button" onClick={reload} disabled={loading}>
          Refresh
        </button>
      </div>
      <Integrations
        org={org}
        instanceAdmin={instanceAdmin}
        list={data.integrations}
        tick={tick}
        onChanged={reload}
        act={act}
        setConfirm={setConfirm}
      />
      <Rules
        org={org}
        rules={data.rules}
        usable={usable}
        onEdit={setEditing}
        act={act}
        setConfirm={setConfirm}
      />
      <Changes org={org} tick={tick} />
      <RuleDialog
        org={org}
        rule={editing}
        integrations={data.integrations}
        onClose={() => setEditing(null)}
        onSaved={(name, created) => {
          setEditing(null);
          notify(created ? `Alert rule ${name} created.` : `Alert rule ${name} saved.`);
          reload();
        }}
      />
      <ConfirmDialog org={org} confirm={confirm} onClose={() => setConfirm(null)} />
    </>
  );
}

// ---- Integrations ----

function Integrations(props: {
  org: string;
  instanceAdmin: boolean;
  list: Integration[];
  tick: number;
  onChanged: () => void;
  act: (what: () => Promise<unknown>, done: string) => Promise<void>;
  setConfirm: (c: Confirm | null) => void;
}) {
  const { org, list } = props;
  const [showOld, setShowOld] = useState(false);
  const current = list.filter((i) => i.status !== 'DISCONNECTED');
  const old = list.filter((i) => i.status === 'DISCONNECTED');
  return (
    <section class="card alerts-card" id="integrations" aria-labelledby="integrations-title">
      <h2 id="integrations-title">Integrations</h2>
      <p class="muted">Where the alerts of {org} go: Slack channels and signed webhooks.</p>
      <AddToSlack org={org} instanceAdmin={props.instanceAdmin} />
      <AddWebhook org={org} onAdded={props.onChanged} />
      <h3 class="list-title">Connected</h3>
      {current.length === 0 ? (
        <p class="state-empty" id="integrations-empty">
          No integration is connected yet. Add Slack or a webhook above.
        </p>
      ) : (
        <ul class="integrations" id="integrations-list">
          {current.map((i) => (
            <IntegrationItem key={i.id} {...props} i={i} />
          ))}
        </ul>
      )}
      {old.length > 0 && (
        <>
          <button
            type="button"
            class="link-button"
            id="show-disconnected"
            aria-expanded={showOld ? 'true' : 'false'}
            aria-controls="integrations-disconnected"
            onClick={() => setShowOld(!showOld)}
          >
            {showOld ? 'Hide' : 'Show'} {plural(old.length, 'disconnected integration')}
          </button>
          <ul class="integrations" id="integrations-disconnected" hidden={!showOld}>
            {showOld && old.map((i) => <IntegrationItem key={i.id} {...props} i={i} />)}
          </ul>
        </>
      )}
    </section>
  );
}

function AddToSlack({ org, instanceAdmin }: { org: string; instanceAdmin: boolean }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  return (
    <div class="connect-slack">
      <button
        id="add-to-slack"
        type="button"
        class="primary slack-button"
        disabled={busy}
        aria-describedby="add-to-slack-hint"
        onClick={async () => {
          setBusy(true);
          setError('');
          try {
            // The server checks the rights and the registration first and
            // answers its install link, which sets this browser's install
            // cookie and sends it on to Slack.
            const d = await gql<{ slackInstallURL: string }>(installURLMutation, { org });
            location.assign(d.slackInstallURL);
          } catch (err) {
            let msg = errorText(err, org, true);
            if (/setSlackApp|no Slack app is registered/.test(msg)) {
              msg = instanceAdmin
                ? 'No Slack app is registered yet: store its client ID and client secret under Slack app above first.'
                : 'No Slack app is registered on this server yet: ask an instance admin to register one.';
            }
            setError(msg);
            setBusy(false);
          }
        }}
      >
        Add to Slack
      </button>
      <p id="add-to-slack-hint" class="hint">
        Slack asks you to pick the channel for the alerts, then sends you back here. Finish the install in this browser
        within 10 minutes: an install is bound to the browser that started it and works once.
      </p>
      {error && (
        <p class="error" role="alert" id="add-to-slack-error">
          {error}
        </p>
      )}
    </div>
  );
}

function AddWebhook({ org, onAdded }: { org: string; onAdded: () => void }) {
  const [name, setName] = useState('');
  const [url, setURL] = useState('');
  const [secret, setSecret] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [shown, setShown] = useState<{ name: string; secret: string } | null>(null);
  return (
    <>
      <form
        class="inline-form webhook-form"
        aria-labelledby="webhook-form-title"
        onSubmit={async (e) => {
          e.preventDefault();
          setError('');
          if (!name.trim()) return setError('Enter a name for the webhook.');
          if (!/^https?:\/\/\S+$/i.test(url.trim())) return setError('Enter the webhook’s URL, starting with https:// or http://.');
          if (secret && secret.length < 16) return setError('A signing secret you give must be at least 16 characters; leave it empty to have one generated.');
          setBusy(true);
          try {
            const d = await gql<{ createWebhookIntegration: { integration: { name: string }; signingSecret: string | null } }>(
              createWebhookMutation,
              { org, name: name.trim(), url: url.trim(), secret: secret || null },
            );
            const p = d.createWebhookIntegration;
            setName('');
            setURL('');
            setSecret('');
            if (p.signingSecret) setShown({ name: p.integration.name, secret: p.signingSecret });
            notify(`Webhook ${p.integration.name} connected.`);
            onAdded();
          } catch (err) {
            setError(errorText(err, org, true));
          } finally {
            setBusy(false);
          }
        }}
      >
        <h3 id="webhook-form-title">Add a webhook</h3>
        <p class="hint">
          Alerts are POSTed as JSON, signed with HMAC-SHA256 in the <code>X-Auditgraph-Signature</code> header.
        </p>
        <div class="form-row">
          <div class="field">
            <label for="webhook-name">Name</label>
            <input id="webhook-name" autocomplete="off" maxLength={100} value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
          </div>
          <div class="field grow">
            <label for="webhook-url">URL</label>
            <input
              id="webhook-url"
              type="url"
              autocomplete="off"
              spellcheck={false}
              placeholder="https://…"
              value={url}
              onInput={(e) => setURL((e.target as HTMLInputElement).value)}
            />
          </div>
          <div class="field">
            <label for="webhook-secret-input">Signing secret (optional)</label>
            <input
              id="webhook-secret-input"
              type="password"
              autocomplete="new-password"
              aria-describedby="webhook-secret-hint"
              value={secret}
              onInput={(e) => setSecret((e.target as HTMLInputElement).value)}
            />
          </div>
          <button id="webhook-add" type="submit" disabled={busy}>
            Add webhook
          </button>
        </div>
        <p id="webhook-secret-hint" class="hint">
          Leave the signing secret empty to have one generated; it is shown once.
        </p>
        {error && (
          <p class="error" role="alert" id="webhook-error">
            {error}
          </p>
        )}
      </form>
      <Dialog id="webhook-secret-dialog" title={`Signing secret of ${shown?.name ?? ''}`} open={!!shown} onClose={() => setShown(null)}>
        {shown && (
          <form method="dialog" onSubmit={(e) => (e.preventDefault(), setShown(null))}>
            <p>
              This is the only time the signing secret is shown. Store it with the receiver now: it checks each request’s
              <code> X-Auditgraph-Signature</code> with it.
            </p>
            <p class="secret">
              <code id="webhook-secret">{shown.secret}</code>
            </p>
            <CopyButton text={shown.secret} label="Copy the signing secret" id="webhook-secret-copy" />
            <div class="dialog-actions">
              <button id="webhook-secret-done" type="submit" class="primary">
                I have stored it
              </button>
            </div>
          </form>
        )}
      </Dialog>
    </>
  );
}

function IntegrationItem(props: {
  org: string;
  i: Integration;
  tick: number;
  act: (what: () => Promise<unknown>, done: string) => Promise<void>;
  setConfirm: (c: Confirm | null) => void;
}) {
  const { i, org } = props;
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const d = i.delivery;
  const histId = 'history-' + i.id;
  return (
    <li class="integration" data-name={i.name} data-kind={i.kind} data-status={i.status}>
      <div class="integration-head">
        <h4 class="integration-name">{i.name}</h4>
        <Badge status={i.status} />
      </div>
      <p class="muted integration-where">
        {i.kind === 'SLACK' ? (
          <>
            Slack: <span class="slack-channel">{i.slackChannel}</span> in {i.slackTeam}
          </>
        ) : (
          'Webhook'
        )}
        {' · connected '}
        <Time t={i.createdAt} />
      </p>
      {i.statusReason && <p class="status-reason">{i.statusReason}</p>}
      <dl class="delivery-facts">
        <div>
          <dt>Last delivery</dt>
          <dd class="last-delivery">
            <Time t={d.lastSuccessAt} empty="never" />
          </dd>
        </div>
        <div>
          <dt>Delivered</dt>
          <dd class="delivered">{d.delivered}</dd>
        </div>
        <div>
          <dt>Pending</dt>
          <dd class="pending">{d.pending}</dd>
        </div>
        <div>
          <dt>Failed</dt>
          <dd class="failed">{d.failed}</dd>
        </div>
        {d.dropped > 0 && (
          <div>
            <dt>Dropped</dt>
            <dd>{d.dropped}</dd>
          </div>
        )}
        <div>
          <dt>Attempts</dt>
          <dd>{d.attempts}</dd>
        </div>
        {d.lastError && (
          <div class="wide">
            <dt>Last error</dt>
            <dd class={d.recovered ? 'last-error recovered' : 'last-error'} data-recovered={d.recovered ? 'true' : 'false'}>
              {d.lastError} (<Time t={d.lastErrorAt} />)
              {d.recovered && <span class="muted"> · delivered since: working again</span>}
            </dd>
          </div>
        )}
      </dl>
      <div class="integration-actions">
        <button
          type="button"
          class="history-toggle"
          aria-expanded={open ? 'true' : 'false'}
          aria-controls={histId}
          onClick={() => setOpen(!open)}
        >
          {open ? 'Hide delivery history' : 'Delivery history'}
        </button>
        {inUse(i) && (
          <button
            type="button"
            class="test-alert"
            disabled={busy}
            onClick={async () => {
              setBusy(true);
              await props.act(() => gql(testAlertMutation, { id: i.id }), `A test alert to ${i.name} is on its way; follow it in the delivery history.`);
              setBusy(false);
              setOpen(true);
            }}
          >
            Send test alert
          </button>
        )}
        {i.status !== 'DISCONNECTED' && (
          <button
            type="button"
            class="disconnect danger"
            onClick={() =>
              props.setConfirm({
                title: `Disconnect ${i.name}?`,
                text: `No alert of ${org} goes to ${i.name} any more, and alerts not yet delivered to it are dropped. It stays listed so its history stays readable; to use it again, connect it anew.`,
                ok: 'Disconnect',
                run: () => props.act(() => gql(disconnectMutation, { id: i.id }), `${i.name} was disconnected.`),
              })
            }
          >
            Disconnect
          </button>
        )}
      </div>
      <div id={histId} hidden={!open}>
        {open && <History org={org} i={i} tick={props.tick} />}
      </div>
    </li>
  );
}

function History({ org, i, tick }: { org: string; i: Integration; tick: number }) {
  const list = usePagedList<AlertDelivery>(async (after, first) => {
    const d = await gql<HistoryData>(historyQuery, { id: i.id, first, after });
    const r = d.integration?.delivery.recent;
    if (!r) throw new Error(`Integration ${i.name} is gone: press Refresh.`);
    return { rows: r.edges, hasNext: r.pageInfo.hasNextPage };
  }, 20);
  const { rows, busy } = list;
  const error = list.error ? errorText(list.error, org) : '';
  // Reloads with the page (Refresh, the page's polling, an action), and
  // every 3 s while an alert here is still pending; either way down to the
  // oldest row shown, so that the reader keeps their place.
  useEffect(() => {
    list.refresh();
  }, [tick]);
  const waiting = rows?.some((r) => r.status === 'PENDING') ?? false;
  useEffect(() => {
    if (!waiting) return;
    const t = setInterval(() => list.refresh(), 3000);
    return () => clearInterval(t);
  }, [waiting]);

  return (
    <div class="history" aria-busy={busy ? 'true' : 'false'}>
      <h5 class="history-title">Delivery history of {i.name}</h5>
      {error && <p class="error">{error}</p>}
      {rows && rows.length === 0 && <p class="state-empty">No alert was sent to {i.name} yet.</p>}
      {rows && rows.length > 0 && (
        <div class="table-scroll" tabIndex={0} role="region" aria-label={`Delivery history of ${i.name}`}>
          <table class="deliveries">
            <caption class="visually-hidden">Latest alerts sent to {i.name}, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Raised</th>
                <th scope="col">Rule</th>
                <th scope="col">Event</th>
                <th scope="col">Status</th>
                <th scope="col">Attempts</th>
                <th scope="col">Last attempt</th>
                <th scope="col">Next retry</th>
                <th scope="col">Error</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.id} data-id={r.id} data-status={r.status} data-rule={r.rule} data-sequence={r.eventSequence ?? ''}>
                  <td>
                    <Time t={r.createdAt} />
                  </td>
                  <td class="rule">{r.rule}</td>
                  <td>{r.eventSequence == null ? <span class="muted">test</span> : '#' + r.eventSequence}</td>
                  <td>
                    <Badge status={r.status} />
                    {r.deliveredAt && (
                      <span class="muted">
                        {' '}
                        <Time t={r.deliveredAt} />
                      </span>
                    )}
                  </td>
                  <td class="attempts">{r.attempts}</td>
                  <td>
                    <Time t={r.lastAttemptAt} />
                  </td>
                  <td class="next-retry">
                    <Time t={r.nextAttemptAt} />
                  </td>
                  <td class="error-cell">{r.lastError || <span class="muted">—</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {list.more && (
        <button type="button" class="link-button history-more" disabled={busy} onClick={() => list.showMore()}>
          Show older alerts
        </button>
      )}
    </div>
  );
}

// ---- Rules ----

function Rules(props: {
  org: string;
  rules: AlertRule[];
  usable: Integration[];
  onEdit: (r: AlertRule | 'new') => void;
  act: (what: () => Promise<unknown>, done: string) => Promise<void>;
  setConfirm: (c: Confirm | null) => void;
}) {
  const { org, rules, usable } = props;
  const [busy, setBusy] = useState('');
  const toggle = async (r: AlertRule) => {
    setBusy(r.id);
    const input = { ...ruleInput(r), enabled: !r.enabled };
    // A rule keeps only the integrations still in use: the API refuses one
    // that was disconnected.
    input.integrations = r.integrations.filter(inUse).map((x) => x.id);
    await props.act(() => gql(updateRuleMutation, { id: r.id, input }), `Alert rule ${r.name} ${r.enabled ? 'disabled' : 'enabled'}.`);
    setBusy('');
  };
  return (
    <section class="card alerts-card" id="alert-rules" aria-labelledby="alert-rules-title">
      <div class="section-head">
        <h2 id="alert-rules-title">Alert rules</h2>
        <button id="new-rule" type="button" class="primary" onClick={() => props.onEdit('new')} disabled={usable.length === 0}>
          New rule
        </button>
      </div>
      <p class="muted">
        A rule raises an alert for each audit event of {org} that meets all its conditions, or once when a threshold of
        such events by one actor falls within its window.
        {usable.length === 0 && ' Connect an integration first: every rule delivers to at least one.'}
      </p>
      <Suggestions org={org} rules={rules} usable={usable} act={props.act} />
      {rules.length === 0 ? (
        <p class="state-empty" id="rules-empty">
          No alert rule yet.
        </p>
      ) : (
        <div class="table-scroll" tabIndex={0} role="region" aria-label="Alert rules">
          <table id="rules-table">
            <caption class="visually-hidden">Alert rules of {org}</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Conditions</th>
                <th scope="col">Alerts go to</th>
                <th scope="col">Enabled</th>
                <th scope="col" class="actions-col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rules.map((r) => (
                <tr key={r.id} data-rule={r.name} data-enabled={r.enabled ? 'true' : 'false'}>
                  <th scope="row" class="rule-name">
                    {r.name}
                  </th>
                  <td class="conditions">{ruleSummary(r)}</td>
                  <td class="targets">
                    {r.integrations.map((x, n) => (
                      <span key={x.id}>
                        {n > 0 && ', '}
                        {x.name}
                        {!inUse(x) && <span class="muted"> ({x.status.toLowerCase()})</span>}
                      </span>
                    ))}
                  </td>
                  <td>
                    <label class="switch">
                      <input
                        type="checkbox"
                        role="switch"
                        class="rule-enabled"
                        checked={r.enabled}
                        disabled={busy === r.id}
                        aria-label={`${r.name} enabled`}
                        onChange={() => toggle(r)}
                      />
                      <span aria-hidden="true">{r.enabled ? 'On' : 'Off'}</span>
                    </label>
                  </td>
                  <td class="actions-col">
                    <div class="row-actions">
                      <button type="button" class="rule-edit" aria-label={`Edit ${r.name}`} onClick={() => props.onEdit(r)}>
                        Edit
                      </button>
                      <button
                        type="button"
                        class="rule-delete danger"
                        aria-label={`Delete ${r.name}`}
                        onClick={() =>
                          props.setConfirm({
                            title: `Delete ${r.name}?`,
                            text: `The rule stops raising alerts; alerts it raised that are not yet delivered still are.`,
                            ok: 'Delete',
                            run: () => props.act(() => gql(deleteRuleMutation, { id: r.id }), `Alert rule ${r.name} deleted.`),
                          })
                        }
                      >
                        Delete
                      </button>
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function Suggestions(props: {
  org: string;
  rules: AlertRule[];
  usable: Integration[];
  act: (what: () => Promise<unknown>, done: string) => Promise<void>;
}) {
  const [busy, setBusy] = useState('');
  const to = props.usable.map((i) => i.name).join(', ');
  return (
    <div class="suggestions" id="suggestions">
      <h3>Suggested rules</h3>
      <p class="hint">
        {props.usable.length ? `One click enables a rule that alerts ${to}.` : 'Connect an integration to enable these.'}
      </p>
      <ul>
        {SUGGESTIONS.map((s) => {
          const have = props.rules.find((r) => r.suggestion === s.id);
          return (
            <li key={s.id} data-suggestion={s.id}>
              <div>
                <strong>{s.title}</strong> <span class="muted">{s.text}</span>
              </div>
              {have?.enabled ? (
                <span class="suggestion-on">Enabled</span>
              ) : (
                <button
                  type="button"
                  class="suggestion-enable"
                  data-suggestion={s.id}
                  disabled={!props.usable.length || busy === s.id}
                  aria-label={`Enable ${s.title}`}
                  onClick={async () => {
                    setBusy(s.id);
                    await props.act(
                      () => gql(suggestMutation, { org: props.org, s: s.id, ids: props.usable.map((i) => i.id) }),
                      `Suggested rule ${s.title} enabled.`,
                    );
                    setBusy('');
                  }}
                >
                  Enable
                </button>
              )}
            </li>
          );
        })}
      </ul>
    </div>
  );
}

function ConfirmDialog({ org, confirm, onClose }: { org: string; confirm: Confirm | null; onClose: () => void }) {
  const [busy, setBusy] = useState(false);
  return (
    <Dialog id="alerts-confirm" title={confirm?.title ?? ''} open={!!confirm} onClose={onClose}>
      {confirm && (
        <form
          method="dialog"
          onSubmit={async (e) => {
            e.preventDefault();
            setBusy(true);
            try {
              await confirm.run();
            } catch (err) {
              reportError('action', err, org, true);
            } finally {
              setBusy(false);
              onClose();
            }
          }}
        >
          <p>{confirm.text}</p>
          <div class="dialog-actions">
            <button type="button" onClick={onClose}>
              Cancel
            </button>
            <button id="alerts-confirm-ok" type="submit" class="primary danger-fill" disabled={busy}>
              {confirm.ok}
            </button>
          </div>
        </form>
      )}
    </Dialog>
  );
}

// ---- Configuration changes ----

const changeWords: Record<string, string> = {
  'integration:connect': 'connected',
  'integration:disconnect': 'disconnected',
  'slack_app:update': 'registered the Slack app',
  'slack_app:clear': 'removed the Slack app',
  'alert_rule:create': 'created the rule',
  'alert_rule:update': 'changed the rule',
  'alert_rule:delete': 'deleted the rule',
  'integration:test_alert': 'sent a test alert to',
};

/** Who changed what in the organization's alerting, newest first (configChanges). */
function Changes({ org, tick }: { org: string; tick: number }) {
  const list = usePagedList<ConfigChange>(async (after, first) => {
    const d = await gql<ChangesData>(changesQuery, { org, first, after });
    const c = d.organization?.configChanges;
    if (!c) throw new Error(`There is no organization ${org}, or you are not a member of it.`);
    return { rows: c.edges, hasNext: c.pageInfo.hasNextPage };
  }, 10);
  const { rows } = list;
  const error = list.error ? errorText(list.error, org) : '';
  useEffect(() => {
    list.refresh();
  }, [org, tick]);
  return (
    <section class="card alerts-card" id="config-changes" aria-labelledby="config-changes-title">
      <h2 id="config-changes-title">Changes</h2>
      <p class="muted">Who changed the alerting of {org}, newest first (the configuration change log).</p>
      {error && <p class="error">{error}</p>}
      {rows && rows.length === 0 && <p class="state-empty">No change yet.</p>}
      {rows && rows.length > 0 && (
        <ul class="changes">
          {rows.map((c) => (
            <li key={c.id} data-action={c.action}>
              <Time t={c.createdAt} /> <strong>{c.actorUsername}</strong> {changeWords[c.action] ?? c.action}
              {c.target && !c.action.startsWith('slack_app:') && <> {c.target}</>}
            </li>
          ))}
        </ul>
      )}
      {list.more && (
        <button type="button" class="link-button changes-more" disabled={list.busy} onClick={() => list.showMore()}>
          Show older changes
        </button>
      )}
    </section>
  );
}
