// The activity views of the organization dashboard, on the public GraphQL
// API's Organization.activity (schema/activity.graphqls):
// - ActivityTab: self-managed and dedicated, inside div#panel-activity;
// - ActivityPanel: multi-tenant, section#activity-panel above the members.
import './activity.css';

export { ActivityPanel } from './ActivityPanel';
export { ActivityTab } from './ActivityTab';
