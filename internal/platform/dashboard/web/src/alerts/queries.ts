// The GraphQL the Alerts & integrations page sends (schema/alert.graphqls,
// integration.graphqls, slack.graphqls) and the shapes it reads.

export interface SlackApp {
  configured: boolean;
  clientId: string | null;
  clientSecretSet: boolean;
  redirectUrl: string;
  updatedAt: string | null;
}

export interface Delivery {
  lastSuccessAt: string | null;
  lastError: string;
  lastErrorAt: string | null;
  /** An alert was delivered after the last error: the error is history. */
  recovered: boolean;
  attempts: number;
  delivered: number;
  pending: number;
  failed: number;
  dropped: number;
}

export interface Integration {
  id: string;
  name: string;
  kind: 'SLACK' | 'WEBHOOK';
  slackChannel: string | null;
  slackTeam: string | null;
  status: 'OK' | 'FAILING' | 'REVOKED' | 'DISCONNECTED';
  statusReason: string;
  createdAt: string;
  statusChangedAt: string;
  delivery: Delivery;
}

export interface AlertRule {
  id: string;
  name: string;
  actions: string[];
  actor: string | null;
  target: string | null;
  responseCodes: number[];
  responseCodeMin: number | null;
  responseCodeMax: number | null;
  threshold: number | null;
  windowSeconds: number | null;
  integrations: { id: string; name: string; status: string }[];
  enabled: boolean;
  suggestion: string | null;
  updatedAt: string;
}

export interface AlertRuleInput {
  name: string;
  actions: string[];
  actor: string | null;
  target: string | null;
  responseCodes: number[];
  responseCodeMin: number | null;
  responseCodeMax: number | null;
  threshold: number | null;
  windowSeconds: number | null;
  integrations: string[];
  enabled: boolean;
}

export interface AlertDelivery {
  id: string;
  rule: string;
  eventSequence: number | null;
  status: 'PENDING' | 'DELIVERED' | 'FAILED' | 'DROPPED';
  attempts: number;
  lastError: string;
  createdAt: string;
  lastAttemptAt: string | null;
  nextAttemptAt: string | null;
  deliveredAt: string | null;
}

export const slackAppFields = 'configured clientId clientSecretSet redirectUrl updatedAt';

export const slackAppQuery = `query AlertsSlackApp { slackApp { ${slackAppFields} } }`;

export const setSlackAppMutation = `mutation AlertsSetSlackApp($id: String!, $secret: String!) {
  setSlackApp(clientId: $id, clientSecret: $secret) { ${slackAppFields} }
}`;

export const clearSlackAppMutation = `mutation AlertsClearSlackApp { clearSlackApp { ${slackAppFields} } }`;

const integrationFields = `id name kind slackChannel slackTeam status statusReason createdAt statusChangedAt
  delivery { lastSuccessAt lastError lastErrorAt recovered attempts delivered pending failed dropped }`;

const ruleFields = `id name actions actor target responseCodes responseCodeMin responseCodeMax threshold windowSeconds
  integrations { id name status } enabled suggestion updatedAt`;

/** The organization's integrations and rules, 100 of each a page. */
export const pageQuery = `query AlertsPage($org: String!, $ia: String, $ra: String) {
  organization(name: $org) {
    integrations(first: 100, after: $ia) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { ${integrationFields} } }
    }
    alertRules(first: 100, after: $ra) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { ${ruleFields} } }
    }
  }
}`;

export interface PageData {
  organization: {
    integrations: {
      totalCount: number;
      pageInfo: { hasNextPage: boolean; endCursor: string | null };
      edges: { node: Integration }[];
    };
    alertRules: {
      totalCount: number;
      pageInfo: { hasNextPage: boolean; endCursor: string | null };
      edges: { node: AlertRule }[];
    };
  } | null;
}

/** One integration's deliveries, newest first (Query.integration). */
export const historyQuery = `query AlertsHistory($id: ID!, $first: Int, $after: String) {
  integration(id: $id) {
    id
    delivery {
      recent(first: $first, after: $after) {
        pageInfo { hasNextPage endCursor }
        edges { cursor node { id rule eventSequence status attempts lastError createdAt lastAttemptAt nextAttemptAt deliveredAt } }
      }
    }
  }
}`;

export interface HistoryData {
  integration: {
    id: string;
    delivery: {
      recent: {
        pageInfo: { hasNextPage: boolean; endCursor: string | null };
        edges: { cursor: string; node: AlertDelivery }[];
      };
    };
  } | null;
}

export const installURLMutation = `mutation AlertsInstallURL($org: String!) { slackInstallURL(organization: $org) }`;

export const createWebhookMutation = `mutation AlertsCreateWebhook($org: String!, $name: String!, $url: String!, $secret: String) {
  createWebhookIntegration(organization: $org, name: $name, url: $url, signingSecret: $secret) {
    integration { id name }
    signingSecret
  }
}`;

export const disconnectMutation = `mutation AlertsDisconnect($id: ID!) { disconnectIntegration(id: $id) { id status } }`;

export const testAlertMutation = `mutation AlertsTest($id: ID!) { sendTestAlert(integration: $id) { id status } }`;

export const createRuleMutation = `mutation AlertsCreateRule($org: String!, $input: AlertRuleInput!) {
  createAlertRule(organization: $org, input: $input) { id name }
}`;

export const updateRuleMutation = `mutation AlertsUpdateRule($id: ID!, $input: AlertRuleInput!) {
  updateAlertRule(id: $id, input: $input) { id name enabled }
}`;

export const deleteRuleMutation = `mutation AlertsDeleteRule($id: ID!) { deleteAlertRule(id: $id) }`;

export const suggestMutation = `mutation AlertsSuggest($org: String!, $s: AlertSuggestion!, $ids: [ID!]!) {
  enableSuggestedAlertRule(organization: $org, suggestion: $s, integrations: $ids) { id name }
}`;

/** The built-in rules (AlertSuggestion), as the schema describes them. */
export const SUGGESTIONS: { id: string; title: string; text: string }[] = [
  { id: 'API_KEY_CREATED', title: 'API key created', text: 'Any user:create_api_key event.' },
  { id: 'USER_DEACTIVATED', title: 'User deactivated', text: 'Any user:deactivate event.' },
  { id: 'TEAM_DELETED', title: 'Team deleted', text: 'Any team:delete event.' },
  {
    id: 'FAILED_LOGINS',
    title: 'Repeated failed logins',
    text: '5 user:login events with response code 401 or 403 by one actor within 10 minutes.',
  },
];

/** A rule as its input, to send back with one change (enabled). */
export function ruleInput(r: AlertRule): AlertRuleInput {
  return {
    name: r.name,
    actions: r.actions,
    actor: r.actor,
    target: r.target,
    responseCodes: r.responseCodes,
    responseCodeMin: r.responseCodeMin,
    responseCodeMax: r.responseCodeMax,
    threshold: r.threshold,
    windowSeconds: r.windowSeconds,
    integrations: r.integrations.map((i) => i.id),
    enabled: r.enabled,
  };
}

export interface ConfigChange {
  id: string;
  action: string;
  actorUsername: string;
  target: string;
  createdAt: string;
}

/** The organization's alerting configuration changes, newest first. */
export const changesQuery = `query AlertsChanges($org: String!, $first: Int, $after: String) {
  organization(name: $org) {
    configChanges(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { cursor node { id action actorUsername target createdAt } }
    }
  }
}`;

export interface ChangesData {
  organization: {
    configChanges: {
      totalCount: number;
      pageInfo: { hasNextPage: boolean; endCursor: string | null };
      edges: { cursor: string; node: ConfigChange }[];
    };
  } | null;
}
