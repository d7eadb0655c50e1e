// The Audit log page itself, for an admin who may read the log: filters,
// the list (newest first, read on while scrolling), the live switch, the
// download and copy-as-curl.
import { Component } from 'preact';
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { redirectToSignIn } from '../api';
import { count, errorText, navigate, notify, reportError, useLocation } from '../ui';
import { ActionsPicker } from './ActionsPicker';
import { copyText } from './copy';
import {
  type AuditFilter,
  curlCommand,
  downloadName,
  filterURL,
  gapFilter,
  listKey,
  liveFilter,
  queryFilter,
  readFilter,
  restPath,
  todayUTC,
  windowHasToday,
} from './filter';
import { LiveFeed, type LiveStatus } from './live';
import { type CatalogAction, PAGE_SIZE, fetchPage, loadCatalog } from './queries';
import { MAX_ROWS, type Row, RowList, toRow } from './rows';

/** Gap reads stop after this many pages; past it the list reloads. */
const MAX_GAP_PAGES = MAX_ROWS / PAGE_SIZE;

export function AuditLog({ org, multiTenant }: { org: string; multiTenant: boolean }) {
  const url = useLocation();
  const f = useMemo(() => readFilter(url.searchParams, multiTenant), [url.search, multiTenant]);
  const key = listKey(f);
  const anonymize = f.anonymize && !multiTenant;

  const list = useRef(new RowList());
  const [, setVersion] = useState(0);
  const redraw = () => setVersion((v) => v + 1);
  const [loading, setLoading] = useState(true);
  const [loadingMore, setLoadingMore] = useState(false);
  const [loadError, setLoadError] = useState('');
  const gen = useRef(0);
  const tableTop = useRef<HTMLDivElement>(null);
  const sentinel = useRef<HTMLDivElement>(null);
  const expanded = useRef(new Set<number>());
  const [catalog, setCatalog] = useState<CatalogAction[] | null>(null);
  const [liveStatus, setLiveStatus] = useState<LiveStatus | null>(null);

  const setFilter = (patch: Partial<AuditFilter>) => navigate(filterURL(new URL(location.href), { ...f, ...patch }), true);

  useLayoutEffect(() => {
    loadCatalog().then(setCatalog, (err) => reportError('audit-catalog', err, org));
  }, []);

  // The first page, whenever the filter changes.
  const reload = async () => {
    const g = ++gen.current;
    list.current = new RowList();
    expanded.current.clear();
    setLoading(true);
    setLoadError('');
    redraw();
    try {
      const p = await fetchPage(org, queryFilter(f), anonymize, null);
      if (g !== gen.current) return;
      const l = list.current;
      l.appendPage(p.rows, p.cursor, p.hasMore);
      // Live events that came while the page loaded go on top.
      if (!l.pendingOverflow) l.release();
      setLoading(false);
      redraw();
    } catch (err) {
      if (g !== gen.current) return;
      setLoadError(errorText(err, org));
      setLoading(false);
    }
  };
  // A layout effect: the request starts as soon as the page is drawn, not
  // a frame later.
  useLayoutEffect(() => {
    reload();
  }, [key, org]);

  // Older pages, when the end of the list comes into view.
  const loadMore = async () => {
    const l = list.current;
    if (loading || loadingMore || !l.hasMore || !l.cursor) return;
    const g = gen.current;
    setLoadingMore(true);
    try {
      const p = await fetchPage(org, queryFilter(f), anonymize, l.cursor);
      if (g !== gen.current || l !== list.current) return;
      l.appendPage(p.rows, p.cursor, p.hasMore);
      redraw();
    } catch (err) {
      if (g === gen.current) reportError('audit-more', err, org);
    } finally {
      if (g === gen.current) setLoadingMore(false);
    }
  };
  const loadMoreRef = useRef(loadMore);
  loadMoreRef.current = loadMore;
  useEffect(() => {
    const el = sentinel.current;
    if (!el || typeof IntersectionObserver === 'undefined') return;
    const io = new IntersectionObserver((es) => es.some((e) => e.isIntersecting) && loadMoreRef.current(), {
      rootMargin: '800px 0px',
    });
    io.observe(el);
    return () => io.disconnect();
  }, [loading]);
  // After a page lands, read on if the end is still in view.
  useEffect(() => {
    const el = sentinel.current;
    if (!el || loading || loadingMore) return;
    const r = el.getBoundingClientRect();
    if (r.top < window.innerHeight + 800) loadMoreRef.current();
  });

  // ---- Live ----
  const liveOn = f.live && windowHasToday(f);
  const liveKey = JSON.stringify([org, liveFilter(f), anonymize]);
  const atTop = () => {
    const t = tableTop.current?.getBoundingClientRect().top;
    return t === undefined || t > -40;
  };
  const addLive = (rows: Row[]) => {
    const l = list.current;
    if (loading || l.pending.length || l.pendingOverflow || l.droppedNewer > 0 || !atTop()) l.hold(rows);
    else l.prepend(rows);
    redraw();
  };
  const addLiveRef = useRef(addLive);
  addLiveRef.current = addLive;
  const loadingRef = useRef(loading);
  loadingRef.current = loading;

  useEffect(() => {
    if (!liveOn) {
      setLiveStatus(null);
      return;
    }
    let fills: Promise<void> = Promise.resolve();
    let fillOnEvent = false;
    const timers: ReturnType<typeof setTimeout>[] = [];
    // Reads what the feed missed: events after the last sequence seen (or,
    // with none seen yet, the window's newest), in sequence order.
    const fill = () => {
      fills = fills.then(async () => {
        const l = list.current;
        const after = l.lastSeq;
        const filter = after > 0 ? gapFilter(f, after) : { ...queryFilter(f), afterSequence: 0 };
        const got: Row[] = [];
        let cursor: string | null = null;
        try {
          for (let i = 0; ; i++) {
            if (i === MAX_GAP_PAGES) {
              l.pendingOverflow = true;
              break;
            }
            const p = await fetchPage(org, filter, anonymize, cursor, after > 0);
            got.push(...p.rows);
            if (!p.hasMore || after === 0) break;
            cursor = p.cursor;
          }
        } catch (err) {
          reportError('audit-live', err, org);
          return;
        }
        if (l !== list.current) return;
        got.sort((a, b) => a.seq - b.seq);
        addLiveRef.current(got.filter((r) => !l.has(r.seq)));
      });
    };
    const feed = new LiveFeed(org, liveFilter(f), anonymize, {
      onStart: () => {
        // Once now, once the server has surely started the subscription,
        // and once more at its first event: the feed and the reads overlap,
        // and the list keeps each sequence once.
        fill();
        timers.push(setTimeout(fill, 1500));
        fillOnEvent = true;
      },
      onEvent: (e) => {
        addLiveRef.current([toRow(e.sequence, e.json)]);
        if (fillOnEvent) {
          fillOnEvent = false;
          fill();
        }
      },
      onStatus: setLiveStatus,
      onUnauthenticated: () => {
        // The session ended: the next request finds out and signs in again.
        fetchPage(org, queryFilter(f), anonymize, null).catch(() => redirectToSignIn());
      },
    });
    feed.start();
    return () => {
      feed.stop();
      timers.forEach(clearTimeout);
    };
  }, [liveOn, liveKey]);

  const showNew = () => {
    const l = list.current;
    if (l.pendingOverflow || l.droppedNewer > 0) reload();
    else {
      l.release();
      redraw();
    }
    tableTop.current?.scrollIntoView({ block: 'start' });
  };

  // ---- Download and curl ----
  const rest = restPath(org, f, multiTenant);
  const copyCurl = async () => {
    const ok = await copyText(curlCommand(location.origin, rest));
    if (ok) notify('Copied the curl command. Set AUDITGRAPH_USERNAME and AUDITGRAPH_API_KEY before running it.');
    else reportError('action', new Error('The browser did not let the page copy. Select the command and copy it yourself.'));
  };

  const l = list.current;
  const toggleRef = useRef<(seq: number) => void>(() => {});
  const copyRef = useRef<(r: Row) => void>(() => {});
  toggleRef.current = (seq: number) => {
    if (expanded.current.has(seq)) expanded.current.delete(seq);
    else expanded.current.add(seq);
    redraw();
  };
  copyRef.current = async (r: Row) => {
    if (await copyText(r.json)) notify(`Copied event ${r.seq}.`);
    else reportError('action', new Error('The browser did not let the page copy. Select the text and copy it yourself.'));
  };

  return (
    <div
      class="audit-log"
      aria-busy={loading ? 'true' : 'false'}
      data-rows={l.rows.length}
      data-read={l.rows.length + l.droppedNewer}
      data-last-seq={l.lastSeq}
    >
      <h2 id="audit-title">
        Audit log <span class="muted count">{org}</span>
      </h2>
      <Filters f={f} setFilter={setFilter} catalog={catalog} multiTenant={multiTenant} />

      <div class="toolbar audit-toolbar">
        <LiveSwitch f={f} on={liveOn} status={liveStatus} setFilter={setFilter} />
        <div class="toolbar-actions">
          <a id="audit-download" class="button-link" href={rest} download={downloadName(org, f, anonymize)}>
            Download NDJSON
          </a>
          <button id="audit-copy-curl" type="button" onClick={copyCurl}>
            Copy as curl
          </button>
        </div>
      </div>
      <p class="muted audit-note" id="audit-download-note">
        The download and the curl command hold every event of the window ({windowWords(f)}) as GET /admin/audit_logs writes
        them{anonymize ? ', without personal data' : ''}; the REST API does not filter by action, actor or code.
      </p>

      <div ref={tableTop} class="audit-top" />
      {l.pendingCount > 0 && (
        <button id="audit-new-events" type="button" class="audit-new-events primary" onClick={showNew}>
          {count(l.pendingCount)} new {l.pendingCount === 1 ? 'event' : 'events'}: show
        </button>
      )}
      {l.droppedNewer > 0 && (
        <p class="audit-dropped" id="audit-dropped-newer" role="note">
          {count(l.droppedNewer)} newer events were dropped from the page to keep it light (it holds at most {count(MAX_ROWS)}).{' '}
          <button type="button" onClick={showNew}>
            Back to the newest
          </button>
        </p>
      )}

      {loadError ? (
        <div class="card state-error" id="audit-error">
          <p>{loadError}</p>
          <button type="button" onClick={reload}>
            Try again
          </button>
        </div>
      ) : loading ? (
        <div class="state-loading" aria-busy="true">
          Loading…
        </div>
      ) : l.rows.length === 0 ? (
        <p class="card state-empty" id="audit-empty">
          No events match in {windowWords(f)}.
          {liveOn ? ' New ones will appear here.' : ''}
        </p>
      ) : (
        <div class="table-scroll">
          <table id="audit-table" aria-labelledby="audit-title" aria-describedby="audit-count">
            <colgroup>
              <col class="c-details" />
              <col class="c-time" />
              <col class="c-action" />
              <col span={4} />
              <col class="c-code" />
            </colgroup>
            <thead>
              <tr>
                <th scope="col">
                  <span class="visually-hidden">Details</span>
                </th>
                <th scope="col">Time (UTC)</th>
                <th scope="col">Action</th>
                <th scope="col">Actor</th>
                <th scope="col">Target user</th>
                <th scope="col">Entity</th>
                <th scope="col">Project</th>
                <th scope="col">Code</th>
              </tr>
            </thead>
            {l.rows.map((r) => (
              <EventRow key={r.seq} r={r} open={expanded.current.has(r.seq)} toggle={toggleRef} copy={copyRef} />
            ))}
          </table>
        </div>
      )}
      {!loading && !loadError && (
        <p id="audit-count" class="muted audit-count" aria-live="polite">
          {count(l.rows.length)} {l.rows.length === 1 ? 'event' : 'events'} shown, newest first
          {l.hasMore ? '; scroll for older ones.' : l.rows.length ? '; that is all of the window.' : '.'}
          {l.droppedOlder > 0 &&
            (l.droppedOlderLost
              ? ` ${count(l.droppedOlder)} older events were dropped to keep the page light: reload to see them.`
              : ` ${count(l.droppedOlder)} older events were dropped to keep the page light; scrolling down reads them again.`)}
        </p>
      )}
      <div ref={sentinel} class="audit-sentinel" />
      {!loading && l.hasMore && (
        <button id="audit-more" type="button" disabled={loadingMore} onClick={loadMore}>
          {loadingMore ? 'Loading older events…' : 'Load older events'}
        </button>
      )}
    </div>
  );
}

function windowWords(f: AuditFilter): string {
  const start = f.startDate || todayUTC();
  if (f.numDays === 0) return `${start} (UTC)`;
  return `${start} and the ${f.numDays} ${f.numDays === 1 ? 'day' : 'days'} before it (UTC)`;
}

interface EventRowProps {
  r: Row;
  open: boolean;
  toggle: { current: (seq: number) => void };
  copy: { current: (r: Row) => void };
}

/** One event's row (and, open, its JSON), in a <tbody> of its own so
 * that the list is one keyed element per event. Drawn again only when its row or
 * its open state changes: a page of older events or a live event leaves
 * the other rows alone, which keeps a 2,000-row list quick. */
class EventRow extends Component<EventRowProps> {
  shouldComponentUpdate(next: EventRowProps) {
    return next.r !== this.props.r || next.open !== this.props.open;
  }

  render({ r, open, toggle, copy }: EventRowProps) {
    const id = 'audit-event-' + r.seq;
    return (
      <tbody class="audit-event">
        <tr data-seq={r.seq} data-action={r.action} class={open ? 'open' : undefined}>
          <td>
            <button
              type="button"
              class="icon-button audit-expand"
              aria-expanded={open ? 'true' : 'false'}
              aria-controls={open ? id : undefined}
              aria-label={`Event ${r.seq}: ${open ? 'hide' : 'show'} the JSON`}
              onClick={() => toggle.current(r.seq)}
            >
              {open ? '▾' : '▸'}
            </button>
          </td>
          <td>
            <time dateTime={r.timestamp}>{r.timestamp.replace('T', ' ').replace('Z', '')}</time>
          </td>
          <td class="audit-action" title={r.action}>
            {r.action}
          </td>
          <td class="audit-cell" title={r.actor || undefined}>
            {r.actor}
          </td>
          <td class="audit-cell" title={r.target || undefined}>
            {r.target}
          </td>
          <td class="audit-cell" title={r.entity || undefined}>
            {r.entity}
          </td>
          <td class="audit-cell" title={r.project || undefined}>
            {r.project}
          </td>
          <td class={codeClass(r.code)}>{r.code}</td>
        </tr>
        {open && (
          <tr id={id} class="audit-json-row">
            <td colSpan={8}>
              <div class="audit-json">
                <pre tabIndex={0} aria-label={`Event ${r.seq} as the REST API writes it`}>
                  {r.json}
                </pre>
                <button type="button" class="audit-copy" onClick={() => copy.current(r)}>
                  Copy
                </button>
              </div>
            </td>
          </tr>
        )}
      </tbody>
    );
  }
}

function codeClass(code: string): string {
  const n = parseInt(code, 10);
  if (n >= 500) return 'audit-code code-5xx';
  if (n >= 400) return 'audit-code code-4xx';
  return 'audit-code';
}

/** The live switch and what the feed is doing. */
function LiveSwitch({
  f,
  on,
  status,
  setFilter,
}: {
  f: AuditFilter;
  on: boolean;
  status: LiveStatus | null;
  setFilter: (p: Partial<AuditFilter>) => void;
}) {
  const possible = windowHasToday(f);
  return (
    <div class="audit-live">
      <button
        id="audit-live"
        type="button"
        role="switch"
        class="switch"
        aria-checked={on ? 'true' : 'false'}
        aria-describedby="audit-live-status"
        disabled={!possible}
        onClick={() => setFilter({ live: !f.live })}
      >
        <span class="switch-track" aria-hidden="true">
          <span class="switch-thumb" />
        </span>
        Live
      </button>
      <span id="audit-live-status" class="muted" role="status" data-state={on ? (status?.state ?? 'connecting') : 'off'}>
        {!possible
          ? 'Live shows new events: choose a window that ends today.'
          : !on
            ? 'Off: turn on to see new events as they are stored.'
            : liveWords(status)}
      </span>
    </div>
  );
}

function liveWords(s: LiveStatus | null): string {
  switch (s?.state) {
    case 'live':
      return 'Live: new events appear as they are stored.';
    case 'waiting':
      return `Reconnecting in ${s.seconds} s (${s.reason}); missed events will be filled in.`;
    case 'failed':
      return `Live view stopped: ${s.reason}`;
    default:
      return 'Connecting…';
  }
}

/** The filter controls: actions, who and what, response codes, window and
 * anonymize. */
function Filters({
  f,
  setFilter,
  catalog,
  multiTenant,
}: {
  f: AuditFilter;
  setFilter: (p: Partial<AuditFilter>) => void;
  catalog: CatalogAction[] | null;
  multiTenant: boolean;
}) {
  const today = todayUTC();
  return (
    <div class="filters audit-filters" role="group" aria-label="Filter the audit log">
      <ActionsPicker catalog={catalog} selected={f.actions} onChange={(actions) => setFilter({ actions })} />
      <TextFilter id="audit-actor" label="Actor" hint="email or user ID" value={f.actor} apply={(actor) => setFilter({ actor })} />
      <TextFilter
        id="audit-target"
        label="Target user"
        hint="email or user ID"
        value={f.target}
        apply={(target) => setFilter({ target })}
      />
      <TextFilter id="audit-entity" label="Entity" hint="name or ID" value={f.entity} apply={(entity) => setFilter({ entity })} />
      <TextFilter
        id="audit-project"
        label="Project"
        hint="name or ID"
        value={f.project}
        apply={(project) => setFilter({ project })}
      />
      <fieldset class="audit-codes">
        <legend>Response code</legend>
        <TextFilter
          id="audit-code-min"
          label="From"
          type="number"
          min={100}
          max={599}
          value={f.codeMin}
          apply={(codeMin) => setFilter({ codeMin })}
        />
        <TextFilter
          id="audit-code-max"
          label="To"
          type="number"
          min={100}
          max={599}
          value={f.codeMax}
          apply={(codeMax) => setFilter({ codeMax })}
        />
      </fieldset>
      <fieldset class="audit-window">
        <legend>Window (UTC days)</legend>
        <div class="field">
          <label for="audit-start-date">Newest day</label>
          <input
            id="audit-start-date"
            type="date"
            max={today}
            value={f.startDate || today}
            onChange={(e) => {
              const v = (e.target as HTMLInputElement).value;
              setFilter({ startDate: v && v !== today ? v : '' });
            }}
          />
        </div>
        <TextFilter
          id="audit-num-days"
          label="Days before it"
          type="number"
          min={0}
          max={multiTenant ? 7 : 36500}
          value={String(f.numDays)}
          describedBy={multiTenant ? 'audit-num-days-note' : undefined}
          apply={(v) => {
            const n = parseInt(v, 10);
            if (Number.isFinite(n) && n >= 0) setFilter({ numDays: multiTenant ? Math.min(n, 7) : n });
          }}
        />
        {multiTenant && (
          <p id="audit-num-days-note" class="muted audit-note">
            At most 7 days before the newest day.
          </p>
        )}
      </fieldset>
      <div class="field audit-anonymize">
        <label class="check">
          <input
            id="audit-anonymize"
            type="checkbox"
            checked={f.anonymize && !multiTenant}
            disabled={multiTenant}
            aria-describedby="audit-anonymize-note"
            onChange={(e) => setFilter({ anonymize: (e.target as HTMLInputElement).checked })}
          />
          Anonymize
        </label>
        <span id="audit-anonymize-note" class="muted audit-note">
          {multiTenant
            ? 'Not available here: the platform always includes personal data in multi-tenant audit logs.'
            : 'Leaves out emails, IP addresses and entity, project, report and artifact names.'}
        </span>
      </div>
    </div>
  );
}

/** A text (or number) filter field: applied 500 ms after typing stops, or
 * at once on Enter or on leaving the field. */
function TextFilter(props: {
  id: string;
  label: string;
  hint?: string;
  value: string;
  apply: (v: string) => void;
  type?: 'text' | 'number';
  min?: number;
  max?: number;
  describedBy?: string;
}) {
  const [draft, setDraft] = useState(props.value);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  // The address changed (Back, a link): show its value.
  useEffect(() => setDraft(props.value), [props.value]);
  useEffect(() => () => void (timer.current && clearTimeout(timer.current)), []);
  const commit = (v: string) => {
    if (timer.current) clearTimeout(timer.current);
    timer.current = null;
    const t = v.trim();
    if (t !== props.value) props.apply(t);
  };
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <input
        id={props.id}
        type={props.type ?? 'search'}
        inputMode={props.type === 'number' ? 'numeric' : undefined}
        min={props.min}
        max={props.max}
        placeholder={props.hint}
        autoComplete="off"
        spellcheck={false}
        aria-describedby={props.describedBy}
        value={draft}
        onInput={(e) => {
          const v = (e.target as HTMLInputElement).value;
          setDraft(v);
          if (timer.current) clearTimeout(timer.current);
          timer.current = setTimeout(() => commit(v), 500);
        }}
        onKeyDown={(e) => e.key === 'Enter' && commit((e.target as HTMLInputElement).value)}
        onBlur={(e) => timer.current && commit((e.target as HTMLInputElement).value)}
      />
    </div>
  );
}
