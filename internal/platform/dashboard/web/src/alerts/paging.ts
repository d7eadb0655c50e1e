// A newest-first list read in cursor pages (the delivery history, the
// configuration changes) that keeps the reader's place when it is refreshed:
// a refresh reads again from the newest row down to the oldest one shown
// (new rows come on top), so the older pages the reader opened stay open;
// rows keep their keys (ids), so nothing else moves.
import { useRef, useState } from 'preact/hooks';

/** One page: its rows, newest first, each with its cursor, and whether
 * older rows follow. */
export interface Page<T> {
  rows: { node: T; cursor: string }[];
  hasNext: boolean;
}

export interface PagedList<T> {
  rows: T[] | null;
  /** Whether older rows follow. */
  more: boolean;
  error: unknown;
  busy: boolean;
  /** Reads the list again, from the newest row down to the oldest shown. */
  refresh: () => Promise<void>;
  /** Appends the next older page. */
  showMore: () => Promise<void>;
}

// The API's largest page: a refresh of many rows takes few requests.
const maxPage = 100;
// At most this many requests per refresh.
const maxPages = 20;

/** ids are the API's decimal ids; a larger one is newer. */
function newer(id: string, than: string): boolean {
  return Number(id) > Number(than);
}

export function usePagedList<T extends { id: string }>(
  fetch: (after: string | null, first: number) => Promise<Page<T>>,
  pageSize: number,
): PagedList<T> {
  const [rows, setRows] = useState<T[] | null>(null);
  const [more, setMore] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  // The latest request wins: an answer to an older one is dropped.
  const seq = useRef(0);
  const shown = useRef<{ node: T; cursor: string }[]>([]);
  const hasNext = useRef(false);
  const fetchRef = useRef(fetch);
  fetchRef.current = fetch;

  const show = (all: { node: T; cursor: string }[], next: boolean) => {
    shown.current = all;
    hasNext.current = next;
    setRows(all.map((r) => r.node));
    setMore(next);
    setError(null);
  };

  const refresh = async () => {
    const my = ++seq.current;
    const last = shown.current.length ? shown.current[shown.current.length - 1].node.id : null;
    const size = Math.min(maxPage, shown.current.length + pageSize);
    setBusy(true);
    try {
      const all: { node: T; cursor: string }[] = [];
      let next = true;
      for (let i = 0; i < maxPages && next; i++) {
        const p: Page<T> = await fetchRef.current(all.length ? all[all.length - 1].cursor : null, size);
        if (my !== seq.current) return;
        all.push(...p.rows);
        next = p.hasNext;
        if (last === null || (all.length && !newer(all[all.length - 1].node.id, last))) break;
      }
      // Down to the oldest row shown (newer ones came on top), and never
      // less than a page.
      let keep = last === null ? all.length : all.filter((r) => !newer(last, r.node.id)).length;
      keep = Math.min(all.length, Math.max(keep, pageSize));
      show(all.slice(0, keep), next || keep < all.length);
    } catch (err) {
      if (my === seq.current) setError(err);
    } finally {
      if (my === seq.current) setBusy(false);
    }
  };

  const showMore = async () => {
    const from = shown.current[shown.current.length - 1];
    if (!from || !hasNext.current) return;
    const my = ++seq.current;
    setBusy(true);
    try {
      const p = await fetchRef.current(from.cursor, pageSize);
      if (my !== seq.current) return;
      show([...shown.current, ...p.rows], p.hasNext);
    } catch (err) {
      if (my === seq.current) setError(err);
    } finally {
      if (my === seq.current) setBusy(false);
    }
  };

  return { rows, more, error, busy, refresh, showMore };
}
