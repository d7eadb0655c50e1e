// The activity views of the organization dashboard, on the public GraphQL
// API's Organization.activity (schema/activity.graphqls):
// - ActivityTab: self-managed and dedicated, inside div#panel-activity;
// - ActivityPanel: multi-tenant, section#activity-panel above the members.
// This folder (with uPlot) is a chunk of its own, loaded by app.tsx when a
// page shows activity; its CSS is imported by main.tsx, so that it is in
// app.css (esbuild would put a chunk's CSS in a file nothing loads).

export { ActivityPanel } from './ActivityPanel';
export { ActivityTab } from './ActivityTab';
