// The activity queries and their typed results. Times are RFC 3339 in UTC;
// days and weeks are UTC midnights, so a date is a time's first 10 characters.
import { useEffect, useLayoutEffect, useState } from 'preact/hooks';
import { ApiError, gql } from '../api';
import { clearError, day, errorText, reportError } from '../ui';
import type { ActivityPeriod } from './periods';
import type { ChartPoint } from './TimeChart';
import { activityVariables } from '../queries';

// The documents live in ../queries.ts, with the other requests of a page's load.
export { activityPanelQuery, totalActiveUsersQuery, usersActiveOverTimeQuery } from '../queries';

export interface Point {
  date: string;
  activeUsers: number;
}

export interface Series {
  from: string;
  to: string;
  points: Point[];
}

export interface Count {
  from: string;
  to: string;
  count: number;
}

export interface RankedUser {
  rank: number;
  activeDays: number;
  lastActiveAt: string;
  user: { username: string; name: string };
}

type Org<A> = { organization: { activity: A } | null };

export type TotalActiveUsers = Org<{ totalActiveUsers: Count | null }>;

export type UsersActiveOverTime = Org<{ usersActiveOverTime: Series | null }>;

export type ActivityPanelData = Org<{
  activeUserCount: Count | null;
  weeklyActiveUsers: Series | null;
  mostActiveUsers: { users: RankedUser[] } | null;
}>;

export interface Fetched<A> {
  /** The latest answer; kept while the next one loads, so nothing jumps. */
  activity: A | null;
  /** Why the latest request failed (also shown in #error). */
  failed: string | null;
  /** Whether asking again may help (not for FORBIDDEN). */
  retryable: boolean;
  loading: boolean;
  retry: () => void;
}

/** Asks query for org's activity over period, again on every change of
 * either (no cache of other periods); only the latest answer is kept. Errors
 * go to #error under source, and leave it when a later request succeeds. */
/** One activity query of org. It starts at once; ready is false while the
 * page still loads the viewer, and its errors wait for ready (a viewer who
 * turns out not to be an admin never sees them: the views unmount). */
export function useActivity<A>(source: string, query: string, org: string, period: ActivityPeriod, ready = true): Fetched<A> {
  const [state, setState] = useState<Omit<Fetched<A>, 'retry'>>({
    activity: null,
    failed: null,
    retryable: true,
    loading: true,
  });
  // The last answer's error to report (null: none), undefined before any.
  const [problem, setProblem] = useState<{ err: unknown; org?: string } | null | undefined>(undefined);
  const [attempt, setAttempt] = useState(0);
  useLayoutEffect(() => {
    let current = true;
    setState((s) => ({ ...s, loading: true }));
    gql<Org<A>>(query, activityVariables(org, period)).then(
      (data) => {
        if (!current) return;
        if (!data.organization) {
          const msg = `There is no organization ${org}, or you cannot see it.`;
          setProblem({ err: new Error(msg) });
          setState({ activity: null, failed: msg, retryable: false, loading: false });
          return;
        }
        setProblem(null);
        setState({ activity: data.organization.activity, failed: null, retryable: true, loading: false });
      },
      (err: unknown) => {
        if (!current) return;
        setProblem({ err, org });
        const retryable = !(err instanceof ApiError && err.code === 'FORBIDDEN');
        setState({ activity: null, failed: errorText(err, org), retryable, loading: false });
      },
    );
    return () => {
      current = false;
    };
  }, [source, query, org, period, attempt]);
  useEffect(() => {
    if (!ready || problem === undefined) return;
    if (problem) reportError(source, problem.err, problem.org);
    else clearError(source);
  }, [source, ready, problem]);
  useEffect(() => () => clearError(source), [source]);
  return { ...state, retry: () => setAttempt((n) => n + 1) };
}

export function toChartPoints(points: Point[]): ChartPoint[] {
  return points.map((p) => ({ date: day(p.date), x: Date.parse(p.date) / 1000, y: p.activeUsers }));
}

/** "1 active user", "3 active users": digits only, no separators. */
export function activeUsers(n: number): string {
  return n === 1 ? '1 active user' : `${n} active users`;
}
