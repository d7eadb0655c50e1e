// A newest-first list read in cursor pages (the delivery history, the
// configuration changes) that keeps the reader's place when it is refreshed:
// a refresh reads again from the newest row down to the oldest one shown
// (and at least as many rows as were shown), so the older pages the reader
// opened stay open, and rows keep their keys (ids) so nothing else moves.
import { useRef, useState } from 'preact/hooks';

/** One page: its rows, newest first, and the cursor of the next (older)
 * page, null at the end. */
export interface Page<T> {
  rows: T[];
  next: string | null;
}

export interface PagedList<T> {
  rows: T[] | null;
  next: string | null;
  error: unknown;
  busy: boolean;
  /** Reads the list again, from the newest row down to the oldest shown. */
  refresh: () => Promise<void>;
  /** Appends the next older page. */
  more: () => Promise<void>;
}

// The API's largest page: a refresh of many rows takes few requests.
const maxPage = 100;
// At most this many requests per refresh.
const maxPages = 20;

/** ids are the API's decimal ids; a larger one is newer. */
function older(id: string, than: string): boolean {
  return Number(id) <= Number(than);
}

export function usePagedList<T extends { id: string }>(
  fetch: (after: string | null, first: number) => Promise<Page<T>>,
  pageSize: number,
): PagedList<T> {
  const [rows, setRows] = useState<T[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  // The latest request wins: an answer to an older one is dropped.
  const seq = useRef(0);
  const shown = useRef<T[]>([]);
  const nextRef = useRef<string | null>(null);
  // How many rows the reader asked to see: the first page, and one page
  // more for each "show older".
  const want = useRef(pageSize);
  const fetchRef = useRef(fetch);
  fetchRef.current = fetch;

  const show = (all: T[], cursor: string | null) => {
    shown.current = all;
    nextRef.current = cursor;
    setRows(all);
    setNext(cursor);
    setError(null);
  };

  const refresh = async () => {
    const my = ++seq.current;
    const last = shown.current.length ? shown.current[shown.current.length - 1].id : null;
    setBusy(true);
    try {
      const all: T[] = [];
      let cursor: string | null = null;
      for (let i = 0; i < maxPages; i++) {
        const p: Page<T> = await fetchRef.current(cursor, Math.min(maxPage, Math.max(pageSize, want.current - all.length)));
        if (my !== seq.current) return;
        all.push(...p.rows);
        cursor = p.next;
        if (!cursor) break;
        if (all.length >= want.current && (last === null || older(all[all.length - 1].id, last))) break;
      }
      show(all, cursor);
    } catch (err) {
      if (my === seq.current) setError(err);
    } finally {
      if (my === seq.current) setBusy(false);
    }
  };

  const more = async () => {
    const after = nextRef.current;
    if (!after) return;
    const my = ++seq.current;
    want.current = shown.current.length + pageSize;
    setBusy(true);
    try {
      const p = await fetchRef.current(after, pageSize);
      if (my !== seq.current) return;
      show([...shown.current, ...p.rows], p.next);
    } catch (err) {
      if (my === seq.current) setError(err);
    } finally {
      if (my === seq.current) setBusy(false);
    }
  };

  return { rows, next, error, busy, refresh, more };
}
