// The Activity Panel above the members table (multi-tenant): one date range
// drives the active user count, the weekly chart and the top 10.
import { useMemo, useState } from 'preact/hooks';
import { day } from '../ui';
import { Count, Failed, PeriodSelect } from './controls';
import { defaultPanelRange, panelRanges } from './periods';
import { activeUsers, activityPanelQuery, toChartPoints, useActivity, type ActivityPanelData, type RankedUser } from './queries';
import { TimeChart, type ChartPoint } from './TimeChart';

type Activity = NonNullable<ActivityPanelData['organization']>['activity'];

/** ready is false while the page still loads the viewer: the query starts at
 * once, the panel stays hidden until the viewer proves an admin. */
export function ActivityPanel({ org, ready = true }: { org: string; ready?: boolean }) {
  const [period, setPeriod] = useState(defaultPanelRange);
  const q = useActivity<Activity>('activity-panel', activityPanelQuery, org, period, ready);
  const count = q.activity?.activeUserCount ?? null;
  const weekly = q.activity?.weeklyActiveUsers ?? null;
  const top = q.activity?.mostActiveUsers?.users ?? null;
  const points = useMemo(() => (weekly ? toChartPoints(weekly.points) : null), [weekly]);
  const [drawn, setDrawn] = useState<ChartPoint[] | null>(null);
  const chartBusy = q.loading || (points !== null && points.length > 0 && drawn !== points);
  const busy = q.loading ? 'true' : 'false';
  return (
    <section
      id="activity-panel"
      class="card activity activity-panel"
      aria-labelledby="activity-panel-title"
      aria-busy={chartBusy ? 'true' : 'false'}
      hidden={!ready}
    >
      <div class="activity-head">
        <h2 id="activity-panel-title">Activity</h2>
        <PeriodSelect id="activity-range" label="Date range" options={panelRanges} value={period} onChange={setPeriod} />
      </div>
      {q.failed ? (
        <Failed message={q.failed} retry={q.retryable ? q.retry : null} />
      ) : (
        <div class="activity-grid">
          <section class="activity-section" aria-labelledby="active-user-count-title" aria-busy={busy}>
            <h3 id="active-user-count-title">Active user count</h3>
            {count === null ? (
              <p class="state-loading">Loading…</p>
            ) : (
              <Count
                id="active-user-count"
                value={count.count}
                tip={`${activeUsers(count.count)} from ${day(count.from)} to ${day(count.to)} (UTC days)`}
              />
            )}
          </section>
          <section
            id="weekly-active-users"
            class="activity-section"
            aria-labelledby="weekly-active-users-title"
            aria-busy={chartBusy ? 'true' : 'false'}
            data-points={drawn ? String(drawn.length) : undefined}
          >
            <h3 id="weekly-active-users-title">Weekly active users</h3>
            {points === null ? (
              <p class="state-loading">Loading…</p>
            ) : points.length === 0 ? (
              <p class="state-empty">No activity yet.</p>
            ) : (
              <>
                <TimeChart
                  tooltipID="weekly-active-users-tooltip"
                  label={`Users active each week (Monday to Sunday), weeks of ${points[0].date} to ${points[points.length - 1].date}`}
                  points={points}
                  readout={(p) => `Week of ${p.date}: ${activeUsers(p.y)}`}
                  onDrawn={setDrawn}
                  tickOnPoints
                />
                {points.every((p) => p.y === 0) && <p class="activity-note muted">No one was active in this period.</p>}
              </>
            )}
          </section>
          <section class="activity-section activity-top" aria-labelledby="most-active-users-title" aria-busy={busy}>
            <h3 id="most-active-users-title">Most active users</h3>
            {top === null ? (
              <p class="state-loading">Loading…</p>
            ) : (
              <>
                <ol id="most-active-users" class="most-active">
                  {top.map((r) => (
                    <MostActive key={r.user.username} r={r} />
                  ))}
                </ol>
                {top.length === 0 && <p class="state-empty">No one was active in this period.</p>}
              </>
            )}
          </section>
        </div>
      )}
    </section>
  );
}

function MostActive({ r }: { r: RankedUser }) {
  return (
    <li data-username={r.user.username}>
      <span class="most-active-name">{r.user.name || r.user.username}</span>{' '}
      <span class="most-active-username muted">{r.user.username}</span>{' '}
      <span class="most-active-detail muted">
        {r.activeDays === 1 ? '1 active day' : `${r.activeDays} active days`} · last active{' '}
        <time dateTime={r.lastActiveAt}>{day(r.lastActiveAt)}</time>
      </span>
    </li>
  );
}
