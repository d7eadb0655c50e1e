// How a GraphQL request goes out, shared by the page (api.ts) and the early
// script (boot.ts): the same body for the same query and variables, so that
// the page can take an answer the early script already asked for.

/** The POST body of a GraphQL request. */
export function requestBody(query: string, variables?: object): string {
  return JSON.stringify({ query, variables: variables ?? {} });
}

/** Sends a GraphQL request body to this origin's /graphql with the browser's
 * credentials. */
export function post(body: string): Promise<Response> {
  return fetch('/graphql', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body,
  });
}

declare global {
  interface Window {
    /** The requests boot.ts sent before the bundle ran, by body. */
    __agPreload?: Map<string, Promise<Response>>;
  }
}

/** The early script's request with exactly this body, if it sent one that
 * nobody took yet: each answer is taken once. */
export function takePreloaded(body: string): Promise<Response> | undefined {
  const m = window.__agPreload;
  const r = m?.get(body);
  if (r) m!.delete(body);
  return r;
}

/** Drops the early requests nobody took (on the first navigation within
 * the app: later pages ask for themselves). */
export function dropPreloaded() {
  window.__agPreload?.clear();
}
