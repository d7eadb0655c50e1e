// The Activity tab of /org/dashboard (self-managed and dedicated): Total
// active users and Users active over time, each with its own period.
import { useMemo, useState } from 'preact/hooks';
import { day } from '../ui';
import { Count, Failed, PeriodSelect } from './controls';
import { defaultOverTimePeriod, defaultTotalPeriod, tabPeriods } from './periods';
import {
  activeUsers,
  toChartPoints,
  totalActiveUsersQuery,
  useActivity,
  usersActiveOverTimeQuery,
  type Count as CountData,
  type Series,
} from './queries';
import { TimeChart, type ChartPoint } from './TimeChart';

// Both panels report errors under one source, so a FORBIDDEN shows once.
const source = 'activity';

/** ready is false while the page still loads the viewer: the queries start
 * at once, the tab stays hidden until the viewer proves an admin. */
export function ActivityTab({ org, ready = true }: { org: string; ready?: boolean }) {
  return (
    <div class="activity activity-tab" hidden={!ready}>
      <TotalActiveUsers org={org} ready={ready} />
      <UsersOverTime org={org} ready={ready} />
    </div>
  );
}

function TotalActiveUsers({ org, ready }: { org: string; ready: boolean }) {
  const [period, setPeriod] = useState(defaultTotalPeriod);
  const q = useActivity<{ totalActiveUsers: CountData | null }>(source, totalActiveUsersQuery, org, period, ready);
  const total = q.activity?.totalActiveUsers ?? null;
  return (
    <section id="total-active-users" class="activity-section" aria-labelledby="total-active-title" aria-busy={q.loading ? 'true' : 'false'}>
      <div class="activity-head">
        <h2 id="total-active-title">Total active users</h2>
        <PeriodSelect id="total-active-period" label="Period" options={tabPeriods} value={period} onChange={setPeriod} />
      </div>
      {q.failed ? (
        <Failed message={q.failed} retry={q.retryable ? q.retry : null} />
      ) : total === null ? (
        <p class="state-loading">Loading…</p>
      ) : (
        <>
          <Count
            id="total-active-count"
            value={total.count}
            tip={`${activeUsers(total.count)} from ${day(total.from)} to ${day(total.to)} (UTC days)`}
          />
          <p class="activity-note muted">
            {total.count === 0 ? 'No one was active in this period.' : 'Unique users active in the period.'}
          </p>
        </>
      )}
    </section>
  );
}

function UsersOverTime({ org, ready }: { org: string; ready: boolean }) {
  const [period, setPeriod] = useState(defaultOverTimePeriod);
  const q = useActivity<{ usersActiveOverTime: Series | null }>(source, usersActiveOverTimeQuery, org, period, ready);
  const series = q.activity?.usersActiveOverTime ?? null;
  const points = useMemo(() => (series ? toChartPoints(series.points) : null), [series]);
  const [drawn, setDrawn] = useState<ChartPoint[] | null>(null);
  // Busy until the chart has drawn the latest answer, not just received it.
  const busy = q.loading || (points !== null && points.length > 0 && drawn !== points);
  return (
    <section
      id="users-over-time"
      class="activity-section"
      aria-labelledby="users-over-time-title"
      aria-busy={busy ? 'true' : 'false'}
      data-points={drawn && !q.failed ? String(drawn.length) : undefined}
    >
      <div class="activity-head">
        <h2 id="users-over-time-title">Users active over time</h2>
        <PeriodSelect id="over-time-period" label="Period" options={tabPeriods} value={period} onChange={setPeriod} />
      </div>
      {q.failed ? (
        <Failed message={q.failed} retry={q.retryable ? q.retry : null} />
      ) : points === null ? (
        <p class="state-loading">Loading…</p>
      ) : points.length === 0 ? (
        <p class="state-empty">No activity yet.</p>
      ) : (
        <>
          <TimeChart
            tooltipID="users-over-time-tooltip"
            label={`Users active each day, ${points[0].date} to ${points[points.length - 1].date}`}
            points={points}
            readout={(p) => `${p.date}: ${activeUsers(p.y)}`}
            onDrawn={setDrawn}
          />
          {points.every((p) => p.y === 0) && <p class="activity-note muted">No one was active in this period.</p>}
        </>
      )}
    </section>
  );
}
