// Small pieces both activity views use: the period drop-down, the big
// count with its tooltip, and the failed state.
import { useTooltip } from '../ui';
import type { ActivityPeriod, PeriodOption } from './periods';

export function PeriodSelect(props: {
  id: string;
  label: string;
  options: PeriodOption[];
  value: ActivityPeriod;
  onChange: (p: ActivityPeriod) => void;
}) {
  return (
    <div class="activity-period">
      <label for={props.id}>{props.label}</label>
      <select id={props.id} value={props.value} onChange={(e) => props.onChange(e.currentTarget.value as ActivityPeriod)}>
        {props.options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </div>
  );
}

/** A panel's number: digits only, focusable, with a tooltip (hover or
 * focus; Escape hides it) saying what was counted over which days. */
export function Count(props: { id: string; value: number; tip: string }) {
  const tip = useTooltip();
  return (
    <p class="activity-count">
      <span id={props.id} class="activity-count-value" tabIndex={0} {...tip.triggerProps}>
        {String(props.value)}
      </span>
      {tip.shown && (
        <span role="tooltip" id={tip.id} class="tooltip activity-count-tooltip">
          {props.tip}
        </span>
      )}
    </p>
  );
}

/** What a panel shows when its request failed; #error has the same words. */
export function Failed(props: { message: string; retry: (() => void) | null }) {
  return (
    <div class="state-error">
      <p>{props.message}</p>
      {props.retry && (
        <button type="button" onClick={props.retry}>
          Try again
        </button>
      )}
    </div>
  );
}
