// The Integrity page's two queries (schema/verify.graphqls): the cheap
// auditLogIntegrity (a few rows by key) and verifyAuditLog (reads every event
// of the log, so it runs on demand for a long log).

export interface Checkpoint {
  firstSequence: number;
  lastSequence: number;
  signedAt: string;
  keyId: string;
}

export interface BucketSync {
  syncedSequence: number;
  lagEvents: number;
  lagSeconds: number;
  lastSuccess: string | null;
  intervalSeconds: number;
  stalled: boolean;
}

export interface Integrity {
  organization: string;
  lastSequence: number;
  notCheckpointed: number;
  checkpointIntervalSeconds: number | null;
  latestCheckpoint: Checkpoint | null;
  /** False when the server has no signing key: then signingKey and
   * verifyCommand are null, and no checkpoint is signed. */
  checkpointsSigned: boolean;
  signingKey: { keyId: string; publicKey: string } | null;
  verifyCommand: string | null;
  bucketSync: BucketSync | null;
  retention: { setting: string; cutoff: string | null; hipaa: boolean; floor: string | null };
}

export const integrityQuery = `query Integrity($org: String!) {
  auditLogIntegrity(organization: $org) {
    organization lastSequence notCheckpointed checkpointIntervalSeconds checkpointsSigned verifyCommand
    latestCheckpoint { firstSequence lastSequence signedAt keyId }
    signingKey { keyId publicKey }
    bucketSync { syncedSequence lagEvents lagSeconds lastSuccess intervalSeconds stalled }
    retention { setting cutoff hipaa floor }
  }
}`;

export type FindingKind = 'INVALID' | 'MISSING' | 'GAP';

export interface Finding {
  kind: FindingKind;
  firstSequence: number | null;
  lastSequence: number | null;
  from: string | null;
  to: string | null;
  description: string;
}

export interface Verification {
  intact: boolean;
  firstBadSequence: number | null;
  firstSequence: number;
  lastSequence: number;
  events: number;
  checkpoints: number;
  unsigned: number;
  unchained: number;
  invalid: Finding[];
  missing: Finding[];
  gaps: Finding[];
  invalidCount: number;
  missingCount: number;
  gapCount: number;
  verifiedAt: string;
}

const finding = 'kind firstSequence lastSequence from to description';

export const verifyQuery = `query VerifyAuditLog($org: String!) {
  verifyAuditLog(organization: $org) {
    intact firstBadSequence firstSequence lastSequence events checkpoints unsigned unchained
    invalid { ${finding} } missing { ${finding} } gaps { ${finding} }
    invalidCount missingCount gapCount verifiedAt
  }
}`;

/** Logs up to this many events are verified when the page opens: at the
 * rate verifyAuditLog was measured at through GraphQL (about 77,000 events a
 * second, BenchmarkIntegrity on a shared 2-core machine), well under a
 * second. Longer ones wait for the Verify button: each verification reads
 * the whole log and holds the organization's one verification slot, so
 * doing it on every visit would cost seconds of database time per visit and
 * refuse a second admin's verification meanwhile (see the README note). */
export const autoVerifyEvents = 50_000;

/** The rate measured (events a second), for the time estimate. */
const eventsPerSecond = 75_000;

/** "about 8 seconds" for n events; "" when under a second. */
export function estimate(n: number): string {
  const s = Math.round(n / eventsPerSecond);
  if (s < 1) return '';
  if (s < 90) return `about ${s} second${s === 1 ? '' : 's'}`;
  return `about ${Math.round(s / 60)} minutes`;
}

/** An RFC 3339 time as "2026-12-03 13:20:57 UTC". */
export function utc(t: string): string {
  return t.slice(0, 10) + ' ' + t.slice(11, 19) + ' UTC';
}

/** A number of seconds in words: "45 seconds", "12 minutes", "3 hours 5 minutes", "2 days 4 hours". */
export function duration(sec: number): string {
  const unit = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
  if (sec < 60) return unit(Math.round(sec), 'second');
  const m = Math.floor(sec / 60);
  if (m < 60) return unit(m, 'minute');
  const h = Math.floor(m / 60);
  if (h < 48) return unit(h, 'hour') + (m % 60 ? ' ' + unit(m % 60, 'minute') : '');
  const d = Math.floor(h / 24);
  return unit(d, 'day') + (h % 24 ? ' ' + unit(h % 24, 'hour') : '');
}

/** "sequence number 25" or "sequence numbers 25–40"; "" when none. */
export function seqRange(f: Finding): string {
  if (f.firstSequence == null) return '';
  if (f.lastSequence == null || f.lastSequence === f.firstSequence) return `sequence number ${f.firstSequence}`;
  return `sequence numbers ${f.firstSequence}–${f.lastSequence}`;
}
