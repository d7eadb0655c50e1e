// The rows the Audit log page holds: newest first, at most MAX_ROWS of
// them, each event once (by sequence) whichever way it came: a page of
// Organization.auditEvents, the live feed, or the read that fills a gap in
// the live feed.

/** The most rows the page keeps in memory: scrolling further drops the
 * newest ones (a link goes back to them), live events drop the oldest
 * (scrolling reads them again). */
export const MAX_ROWS = 2000;

export interface Row {
  seq: number;
  /** The event exactly as the REST API writes it. */
  json: string;
  action: string;
  timestamp: string;
  actor: string;
  target: string;
  entity: string;
  project: string;
  code: string;
  /** The cursor to read on (newest first) from this row, for rows that
   * came from a newest-first page. */
  cursor?: string;
}

/** A row from the API's sequence and json. */
export function toRow(seq: number, json: string, cursor?: string): Row {
  let e: Record<string, unknown> = {};
  try {
    e = JSON.parse(json);
  } catch {
    // Shown as it came.
  }
  const s = (...keys: string[]) => {
    for (const k of keys) if (e[k] !== undefined && e[k] !== null) return String(e[k]);
    return '';
  };
  return {
    seq,
    json,
    action: s('action'),
    timestamp: s('timestamp'),
    actor: s('actor_email', 'actor_user_id'),
    target: s('user_email', 'user_asset'),
    entity: s('entity_name', 'entity_asset'),
    project: s('project_name', 'project_asset'),
    code: s('response_code'),
    cursor,
  };
}

/** The page's list. Methods change it in place; the page re-renders after. */
export class RowList {
  rows: Row[] = [];
  /** Live rows waiting behind the "N new events" bar, oldest first. */
  pending: Row[] = [];
  /** More live rows arrived than the bar holds: showing them reloads. */
  pendingOverflow = false;
  private seen = new Set<number>();
  /** The cursor of the next older page, null when there is none. */
  cursor: string | null = null;
  hasMore = false;
  /** Newest rows dropped while scrolling down (a reload brings them back). */
  droppedNewer = 0;
  /** Oldest rows dropped for live ones; the cursor reads on from the last
   * row kept, unless droppedOlderLost (no row kept came from a page). */
  droppedOlder = 0;
  droppedOlderLost = false;
  /** The highest sequence seen: the live feed's gaps are read after it. */
  lastSeq = 0;

  has(seq: number): boolean {
    return this.seen.has(seq);
  }

  private note(seq: number) {
    this.seen.add(seq);
    if (seq > this.lastSeq) this.lastSeq = seq;
  }

  /** Appends an older page; rows already held are skipped. */
  appendPage(rows: Row[], cursor: string | null, hasMore: boolean) {
    for (const r of rows) {
      if (this.seen.has(r.seq)) continue;
      this.note(r.seq);
      this.rows.push(r);
    }
    this.cursor = cursor;
    this.hasMore = hasMore;
    const over = this.rows.length - MAX_ROWS;
    if (over > 0) {
      for (const r of this.rows.splice(0, over)) this.seen.delete(r.seq);
      this.droppedNewer += over;
    }
  }

  /** Puts live rows (ascending sequence) on top; rows already held are
   * skipped. Returns how many were new. */
  prepend(rows: Row[]): number {
    const fresh: Row[] = [];
    for (const r of rows) {
      if (this.seen.has(r.seq)) continue;
      this.note(r.seq);
      fresh.push(r);
    }
    if (!fresh.length) return 0;
    fresh.reverse();
    this.rows = fresh.concat(this.rows);
    this.trimOldest();
    return fresh.length;
  }

  /** Holds live rows behind the bar (the reader is away from the top). */
  hold(rows: Row[]): number {
    let n = 0;
    for (const r of rows) {
      if (this.seen.has(r.seq)) continue;
      this.note(r.seq);
      n++;
      if (this.pendingOverflow) continue;
      this.pending.push(r);
      if (this.pending.length > MAX_ROWS) {
        for (const p of this.pending) this.seen.delete(p.seq);
        // Forgetting them is safe: they are newer than every row held,
        // and showing them reloads the list.
        this.pending = [];
        this.pendingOverflow = true;
      }
    }
    this.pendingCount += n;
    return n;
  }

  /** How many events wait behind the bar. */
  pendingCount = 0;

  /** Moves the held rows on top. */
  release() {
    const p = this.pending;
    this.pending = [];
    this.pendingCount = 0;
    for (const r of p) this.seen.delete(r.seq);
    this.prepend(p);
  }

  private trimOldest() {
    const over = this.rows.length - MAX_ROWS;
    if (over <= 0) return;
    for (const r of this.rows.splice(MAX_ROWS)) this.seen.delete(r.seq);
    this.droppedOlder += over;
    for (let i = this.rows.length - 1; i >= 0; i--) {
      const c = this.rows[i].cursor;
      if (c) {
        this.cursor = c;
        this.hasMore = true;
        for (const r of this.rows.splice(i + 1)) this.seen.delete(r.seq);
        return;
      }
    }
    this.cursor = null;
    this.hasMore = false;
    this.droppedOlderLost = true;
  }
}
