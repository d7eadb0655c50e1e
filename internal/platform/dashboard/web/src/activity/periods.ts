// The periods each deployment family offers, in the order the drop-downs
// list them; values are the GraphQL ActivityPeriod enum
// (schema/activity.graphqls), labels the reference's words.
export type ActivityPeriod =
  | 'LAST_7_DAYS'
  | 'LAST_30_DAYS'
  | 'LAST_90_DAYS'
  | 'LAST_3_MONTHS'
  | 'LAST_6_MONTHS'
  | 'LAST_12_MONTHS'
  | 'ALL_TIME';

export interface PeriodOption {
  value: ActivityPeriod;
  label: string;
}

/** Self-managed and dedicated: the Activity tab's two drop-downs. */
export const tabPeriods: PeriodOption[] = [
  { value: 'LAST_30_DAYS', label: 'Last 30 days' },
  { value: 'LAST_3_MONTHS', label: 'Last 3 months' },
  { value: 'LAST_6_MONTHS', label: 'Last 6 months' },
  { value: 'LAST_12_MONTHS', label: 'Last 12 months' },
  { value: 'ALL_TIME', label: 'All time' },
];

/** Multi-tenant: the Activity Panel's date picker. */
export const panelRanges: PeriodOption[] = [
  { value: 'LAST_7_DAYS', label: '7 days' },
  { value: 'LAST_30_DAYS', label: '30 days' },
  { value: 'LAST_90_DAYS', label: '90 days' },
  { value: 'LAST_6_MONTHS', label: '6 months' },
  { value: 'LAST_12_MONTHS', label: '12 months' },
];

export const defaultTotalPeriod: ActivityPeriod = 'LAST_3_MONTHS';
export const defaultOverTimePeriod: ActivityPeriod = 'LAST_6_MONTHS';
export const defaultPanelRange: ActivityPeriod = 'LAST_30_DAYS';
