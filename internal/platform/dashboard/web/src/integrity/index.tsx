// The Integrity page: /org/dashboard?org=<org>&tab=integrity (self-managed,
// dedicated) and /account-settings/<org>/integrity (multi-tenant). It shows
// the outcome of verifyAuditLog, the newest checkpoint, the signing key and
// the `auditgraph verify` command that checks the log without this server,
// the bucket sync's position and the retention, from two GraphQL queries:
// auditLogIntegrity (cheap, on every visit) and verifyAuditLog (reads every
// event: automatic for a short log, on demand for a long one).
import './integrity.css';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { SectionProps } from '../app';
import { ApiError, gql } from '../api';
import { clearError, count, errorText, notify, reportError } from '../ui';
import {
  autoVerifyEvents,
  duration,
  estimate,
  integrityQuery,
  seqRange,
  utc,
  verifyQuery,
  type Finding,
  type Integrity,
  type Verification,
} from './queries';

const source = 'integrity';
const verifySource = 'integrity-verify';

export function IntegrityPage({ org, admin }: SectionProps) {
  if (admin === null) {
    return (
      <div class="state-loading" aria-busy="true">
        Loading…
      </div>
    );
  }
  if (!admin) {
    return (
      <p class="admins-only" id="integrity-admins-only">
        The integrity of {org}'s audit log is shown to its admins. Ask an admin of {org} if you need to know it.
      </p>
    );
  }
  return <AdminIntegrity org={org} />;
}

interface Loaded<T> {
  data: T | null;
  failed: string | null;
  retryable: boolean;
  loading: boolean;
}

type Run =
  | { state: 'idle' }
  | { state: 'running'; started: number }
  | { state: 'done'; result: Verification }
  | { state: 'failed'; message: string; busy: boolean; err: unknown };

// Each organization's latest verification, kept for as long as the page is
// loaded: a verification of a long log takes seconds, and its result (or the
// request still running) must not be lost when the admin switches tabs and
// comes back. A reload starts afresh.
const runs = new Map<string, Run>();
const runListeners = new Set<() => void>();

function setRun(org: string, run: Run) {
  runs.set(org, run);
  for (const l of runListeners) l();
}

/** Verifies org's log unless a verification of it is running already. */
function startVerification(org: string) {
  if (runs.get(org)?.state === 'running') return;
  setRun(org, { state: 'running', started: Date.now() });
  clearError(verifySource);
  gql<{ verifyAuditLog: Verification }>(verifyQuery, { org }).then(
    (d) => setRun(org, { state: 'done', result: d.verifyAuditLog }),
    (err: unknown) => {
      const busy = err instanceof ApiError && err.code === 'TOO_MANY_REQUESTS';
      setRun(org, { state: 'failed', message: errorText(err, org), busy, err });
    },
  );
}

/** org's latest verification, re-rendering when it changes. */
function useRun(org: string): Run {
  const [, set] = useState(0);
  useEffect(() => {
    const l = () => set((n) => n + 1);
    runListeners.add(l);
    return () => {
      runListeners.delete(l);
    };
  }, []);
  return runs.get(org) ?? { state: 'idle' };
}

function AdminIntegrity({ org }: { org: string }) {
  const [info, setInfo] = useState<Loaded<Integrity>>({ data: null, failed: null, retryable: true, loading: true });
  const [attempt, setAttempt] = useState(0);
  const run = useRun(org);
  const auto = useRef(false);
  useEffect(
    () => () => {
      clearError(source);
      clearError(verifySource);
    },
    [],
  );

  useEffect(() => {
    let current = true;
    setInfo((s) => ({ ...s, loading: true }));
    gql<{ auditLogIntegrity: Integrity }>(integrityQuery, { org }).then(
      (d) => {
        if (!current) return;
        clearError(source);
        setInfo({ data: d.auditLogIntegrity, failed: null, retryable: true, loading: false });
      },
      (err: unknown) => {
        if (!current) return;
        reportError(source, err, org);
        const retryable = !(err instanceof ApiError && (err.code === 'FORBIDDEN' || err.code === 'NOT_FOUND'));
        setInfo({ data: null, failed: errorText(err, org), retryable, loading: false });
      },
    );
    return () => {
      current = false;
    };
  }, [org, attempt]);

  // When a verification ends: its error in #error; after a result, the
  // facts again (the checkpoints may have moved on while it ran).
  const seen = useRef(run);
  useEffect(() => {
    if (seen.current === run) return;
    const was = seen.current.state;
    seen.current = run;
    if (run.state === 'failed') reportError(verifySource, run.err, org);
    if (run.state === 'done' && was === 'running') setAttempt((n) => n + 1);
  }, [run]);

  // A short log is verified as soon as its size is known, on every visit; a
  // long one waits for the button (it would hold the server's one
  // verification slot of this organization for seconds on every visit).
  useEffect(() => {
    if (auto.current || !info.data) return;
    auto.current = true;
    if (info.data.lastSequence <= autoVerifyEvents) startVerification(org);
  }, [info.data]);
  const verify = () => startVerification(org);

  const d = info.data;
  return (
    <div class="integrity" aria-busy={info.loading ? 'true' : 'false'}>
      <VerificationSection org={org} run={run} events={d?.lastSequence ?? null} onVerify={verify} />
      {info.failed ? (
        <div class="state-error">
          <p>{info.failed}</p>
          {info.retryable && (
            <button type="button" onClick={() => setAttempt((n) => n + 1)}>
              Try again
            </button>
          )}
        </div>
      ) : !d ? (
        <p class="state-loading" aria-busy="true">
          Loading…
        </p>
      ) : (
        <>
          <CheckpointSection d={d} />
          <KeySection d={d} />
          {d.bucketSync && <BucketSection b={d.bucketSync} />}
          <RetentionSection r={d.retention} />
        </>
      )}
    </div>
  );
}

function VerificationSection(props: { org: string; run: Run; events: number | null; onVerify: () => void }) {
  const { run, events } = props;
  const running = run.state === 'running';
  const elapsed = useElapsed(running ? run.started : null);
  const result = run.state === 'done' ? run.result : null;
  const est = events !== null ? estimate(events) : '';
  return (
    <section id="integrity-verification" class="integrity-section" aria-labelledby="integrity-verification-title" aria-busy={running ? 'true' : 'false'}>
      <div class="integrity-head">
        <h2 id="integrity-verification-title">Verification</h2>
        <button id="integrity-verify" type="button" class="primary" disabled={running} onClick={props.onVerify}>
          {running ? 'Verifying…' : result ? 'Verify again' : 'Verify now'}
        </button>
      </div>
      {/* A live region: the result is read out when it arrives (the
          elapsed time is not, each second). */}
      <div
        id="integrity-status"
        role="status"
        class={'integrity-status ' + (running ? 'running' : result ? (result.intact ? 'intact' : 'broken') : 'idle')}
      >
        {running ? (
          <>
            <progress aria-label="Verifying the audit log" />
            <span>
              Verifying {events !== null ? count(events) + ' events' : 'the audit log'}
              {est && `, ${est}`}…
            </span>
            {elapsed > 0 && <span aria-hidden="true">({duration(elapsed)} so far)</span>}
          </>
        ) : result ? (
          result.intact ? (
            <p>
              <strong>Intact.</strong>{' '}
              {result.checkpoints > 0
                ? "Every event matches its hash and every checkpoint verifies with this server's key."
                : 'Every event matches its hash; no signed checkpoint vouches for them yet.'}
            </p>
          ) : (
            <p>
              <strong>Not intact.</strong> First bad sequence number: <span id="integrity-first-bad">{result.firstBadSequence}</span>.
            </p>
          )
        ) : run.state === 'failed' ? (
          <p class="integrity-failed">
            {run.busy ? 'Another verification of this organization is running. Try again when it has finished.' : run.message}
          </p>
        ) : events !== null && events > autoVerifyEvents ? (
          <p>
            Not verified in this visit. Verification reads all {count(events)} events{est && ` (${est})`}: press Verify now.
          </p>
        ) : (
          <p class="muted">Not verified yet.</p>
        )}
      </div>
      {result && <VerificationResult v={result} />}
    </section>
  );
}

/** Seconds since started (null: not running), ticking once a second. */
function useElapsed(started: number | null): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (started === null) return;
    setNow(Date.now());
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [started]);
  return started === null ? 0 : Math.floor((now - started) / 1000);
}

function VerificationResult({ v }: { v: Verification }) {
  const findings = [...v.invalid, ...v.missing, ...v.gaps];
  const shown = v.invalid.length + v.missing.length + v.gaps.length;
  const all = v.invalidCount + v.missingCount + v.gapCount;
  return (
    <>
      <dl class="integrity-facts" id="integrity-verification-facts">
        <dt>Events read</dt>
        <dd>
          {count(v.events)}
          {v.events > 0 && ` (sequence numbers ${v.firstSequence}–${v.lastSequence})`}
        </dd>
        <dt>Checkpoints checked</dt>
        <dd>{count(v.checkpoints)}</dd>
        <dt>Not yet checkpointed</dt>
        <dd>{count(v.unsigned)}</dd>
        {v.unchained > 0 && (
          <>
            <dt>Stored before the chain existed</dt>
            <dd>{count(v.unchained)} (nothing vouches for them)</dd>
          </>
        )}
        <dt>Findings</dt>
        <dd>
          {count(v.invalidCount)} invalid, {count(v.missingCount)} missing, {count(v.gapCount)} {v.gapCount === 1 ? 'gap' : 'gaps'}
        </dd>
        <dt>Verified at</dt>
        <dd>{utc(v.verifiedAt)}</dd>
      </dl>
      {findings.length > 0 && (
        <>
          <h3 class="integrity-subhead">Findings</h3>
          <ul id="integrity-findings" class="integrity-findings">
            {findings.map((f, i) => (
              <FindingItem key={i} f={f} />
            ))}
          </ul>
          {shown < all && (
            <p class="muted">
              Showing the first {count(shown)} of {count(all)} findings. auditgraph verify prints them all.
            </p>
          )}
        </>
      )}
    </>
  );
}

const kindWords: Record<string, string> = {
  INVALID: 'Invalid',
  MISSING: 'Missing',
  GAP: 'Gap',
};

function FindingItem({ f }: { f: Finding }) {
  const where = f.kind === 'GAP' && f.from && f.to ? `${utc(f.from)} to ${utc(f.to)}` : seqRange(f);
  return (
    <li class={'finding finding-' + f.kind.toLowerCase()} data-kind={f.kind} data-first-sequence={f.firstSequence ?? undefined}>
      <span class="finding-kind">{kindWords[f.kind] ?? f.kind}</span>{' '}
      {where && <span class="finding-where">{where}:</span>} <span class="finding-what">{f.description}</span>
    </li>
  );
}

function CheckpointSection({ d }: { d: Integrity }) {
  const c = d.latestCheckpoint;
  return (
    <section id="integrity-checkpoints" class="integrity-section" aria-labelledby="integrity-checkpoints-title">
      <h2 id="integrity-checkpoints-title">Checkpoints</h2>
      <dl class="integrity-facts">
        <dt>Last sequence number</dt>
        <dd id="integrity-last-seq">{d.lastSequence}</dd>
        <dt>Newest checkpoint</dt>
        <dd id="integrity-checkpoint">
          {c ? (
            <>
              up to sequence number {c.lastSequence} (from {c.firstSequence}), signed {utc(c.signedAt)} by key {c.keyId}
            </>
          ) : (
            'none yet'
          )}
        </dd>
        <dt>Not yet checkpointed</dt>
        <dd id="integrity-not-checkpointed">
          {count(d.notCheckpointed)} {d.notCheckpointed === 1 ? 'event' : 'events'}
          {d.notCheckpointed > 0 && <span class="muted"> (no checkpoint vouches for them yet)</span>}
        </dd>
        <dt>Signing</dt>
        <dd>
          {!d.checkpointsSigned
            ? 'off: this server has no signing key'
            : d.checkpointIntervalSeconds
              ? `every ${duration(d.checkpointIntervalSeconds)}${d.bucketSync ? ', with each bucket sync' : ''}, when the log grew`
              : 'off: this server signs no checkpoints (--checkpoint-interval 0)'}
        </dd>
      </dl>
    </section>
  );
}

function KeySection({ d }: { d: Integrity }) {
  const key = d.signingKey;
  if (!key || !d.verifyCommand) {
    return (
      <section id="integrity-key" class="integrity-section" aria-labelledby="integrity-key-title">
        <h2 id="integrity-key-title">Signing key</h2>
        <p id="integrity-no-key" class="integrity-badge broken">
          No signing key is configured on this server, so it signs no checkpoints.
        </p>
        <p class="muted">
          The hash chain still links every event to the one before it, but no signature vouches for them: whoever can
          write the database could rewrite events and their hashes without this page noticing. <code>auditgraph serve</code>{' '}
          always signs: give it a key with <code>--signing-key-file</code> or <code>AUDITGRAPH_SIGNING_KEY</code>, or let it
          generate one in its data folder.
        </p>
      </section>
    );
  }
  return (
    <section id="integrity-key" class="integrity-section" aria-labelledby="integrity-key-title">
      <h2 id="integrity-key-title">Signing key</h2>
      <dl class="integrity-facts">
        <dt>Key ID</dt>
        <dd>
          <code id="integrity-key-id">{key.keyId}</code>
        </dd>
        <dt>Public key</dt>
        <dd class="integrity-copyable">
          <code id="integrity-public-key">{key.publicKey}</code>
          <CopyButton id="integrity-copy-key" text={key.publicKey} what="the public key" />
        </dd>
      </dl>
      <h3 class="integrity-subhead" id="integrity-command-title">
        Check it yourself
      </h3>
      <p class="muted">
        Verify the log without this server, against a public key you keep elsewhere (compare it with the one above). Run it
        where the database is reachable, adding <code>--database-url URL</code> for an external database.
      </p>
      <div class="integrity-command integrity-copyable">
        <pre>
          <code id="integrity-command">{d.verifyCommand}</code>
        </pre>
        <CopyButton id="integrity-copy-command" text={d.verifyCommand} what="the verify command" />
      </div>
    </section>
  );
}

/** Copies text to the clipboard and says so in #notice. */
function CopyButton(props: { id: string; text: string; what: string }) {
  return (
    <button
      id={props.id}
      type="button"
      aria-label={'Copy ' + props.what}
      onClick={async () => {
        try {
          await copy(props.text);
          notify(`Copied ${props.what}.`, 'integrity-copy');
        } catch {
          reportError('integrity-copy', new Error(`Could not copy ${props.what}: select it and copy it by hand.`));
        }
      }}
    >
      Copy
    </button>
  );
}

async function copy(text: string) {
  if (navigator.clipboard?.writeText) {
    await navigator.clipboard.writeText(text);
    return;
  }
  // Without the Clipboard API (a page not served over HTTPS or from localhost).
  const ta = document.createElement('textarea');
  ta.value = text;
  ta.setAttribute('readonly', '');
  ta.className = 'visually-hidden';
  document.body.appendChild(ta);
  ta.select();
  const ok = document.execCommand('copy');
  ta.remove();
  if (!ok) throw new Error('copy refused');
}

function BucketSection({ b }: { b: NonNullable<Integrity['bucketSync']> }) {
  return (
    <section id="integrity-bucket" class="integrity-section" aria-labelledby="integrity-bucket-title">
      <h2 id="integrity-bucket-title">Bucket sync</h2>
      <p id="integrity-bucket-state" class={'integrity-badge ' + (b.stalled ? 'broken' : 'intact')}>
        {b.stalled
          ? `Stalled: no sync run has completed for two intervals (${duration(2 * b.intervalSeconds)}).`
          : 'Running.'}
      </p>
      <dl class="integrity-facts">
        <dt>Last complete run</dt>
        <dd id="integrity-bucket-last-success">{b.lastSuccess ? utc(b.lastSuccess) : 'none yet'}</dd>
        <dt>In the bucket</dt>
        <dd>{b.syncedSequence > 0 ? `up to sequence number ${b.syncedSequence}` : 'nothing yet'}</dd>
        <dt>Waiting</dt>
        <dd id="integrity-bucket-lag">
          {b.lagEvents === 0
            ? 'nothing: the bucket is current'
            : `${count(b.lagEvents)} ${b.lagEvents === 1 ? 'event' : 'events'}, the oldest for ${duration(b.lagSeconds)}`}
        </dd>
        <dt>Interval</dt>
        <dd>every {duration(b.intervalSeconds)}</dd>
      </dl>
    </section>
  );
}

function RetentionSection({ r }: { r: Integrity['retention'] }) {
  return (
    <section id="integrity-retention" class="integrity-section" aria-labelledby="integrity-retention-title">
      <h2 id="integrity-retention-title">Retention</h2>
      <dl class="integrity-facts">
        <dt>Events are kept</dt>
        <dd id="integrity-retention-setting">
          {r.setting === 'forever' ? 'forever' : `for ${r.setting}`}
          {r.hipaa && ' (HIPAA: at least 6 years)'}
        </dd>
        {r.cutoff && (
          <>
            <dt>Dropped</dt>
            <dd>whole months before {r.cutoff.slice(0, 10)}, at the next daily run</dd>
          </>
        )}
        <dt>Database floor</dt>
        <dd>{r.floor ? (r.floor === 'forever' ? 'forever: the database drops nothing' : r.floor) : 'none set'}</dd>
      </dl>
    </section>
  );
}
