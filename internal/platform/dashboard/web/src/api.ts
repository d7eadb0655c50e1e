// The dashboard's only way to the server: the public GraphQL API on this
// origin, with the browser's credentials (the session cookie, or Basic auth
// the browser remembers). No other origin is ever contacted.
import { post, requestBody, takePreloaded } from './wire';

/** An error the API answered with: the GraphQL error's message and its code
 * (extensions.code, such as FORBIDDEN), or the HTTP status for others. */
export class ApiError extends Error {
  code: string;
  constructor(message: string, code: string) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
  }
}

/** The address of the sign-in page that comes back to the current page. */
export function signInURL(): string {
  return '/signin?return_to=' + encodeURIComponent(location.pathname + location.search);
}

/** Sends the browser to sign in, to come back here afterwards. */
export function redirectToSignIn(): never {
  location.assign(signInURL());
  throw new ApiError('Your session has ended. Sign in again.', 'UNAUTHENTICATED');
}

interface GraphQLResponse<T> {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/** Runs a GraphQL query or mutation and returns its data. Throws ApiError
 * with the first error's message; a 401 sends the browser to sign in. The
 * answer to a request the early script (boot.ts) already sent, with the
 * same body, is taken instead of asking again. */
export async function gql<T>(query: string, variables?: object): Promise<T> {
  let resp: Response;
  try {
    const body = requestBody(query, variables);
    resp = await (takePreloaded(body) ?? post(body));
  } catch {
    throw new ApiError('The server could not be reached. Check your connection and try again.', 'NETWORK');
  }
  if (resp.status === 401) redirectToSignIn();
  let body: GraphQLResponse<T> | null = null;
  try {
    body = (await resp.json()) as GraphQLResponse<T>;
  } catch {
    body = null;
  }
  // For the browser's performance tools (and the page-load benchmark's
  // profile): when each answer was in hand.
  performance.mark('graphql ' + (/^\s*(?:query|mutation)\s+(\w+)/.exec(query)?.[1] ?? 'anonymous'));
  const first = body?.errors?.[0];
  if (first) {
    const code = first.extensions?.code ?? 'ERROR';
    if (code === 'UNAUTHENTICATED') redirectToSignIn();
    throw new ApiError(first.message, code);
  }
  if (!resp.ok || !body || body.data == null) {
    const msg = (body as { error?: string } | null)?.error;
    throw new ApiError(msg || `The server answered ${resp.status} ${resp.statusText}.`, 'HTTP_' + resp.status);
  }
  return body.data;
}

/** What GET /api/session and POST /api/session answer. */
export interface Session {
  username: string;
  name: string;
  instanceAdmin: boolean;
  expiresAt: string;
  deployment?: string;
}

/** Signs in with a username and API key; the server sets the session cookie. */
export async function signIn(username: string, apiKey: string): Promise<Session> {
  let resp: Response;
  try {
    resp = await fetch('/api/session', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ username, apiKey }),
    });
  } catch {
    throw new ApiError('The server could not be reached. Check your connection and try again.', 'NETWORK');
  }
  let body: (Session & { error?: string }) | null = null;
  try {
    body = await resp.json();
  } catch {
    body = null;
  }
  if (!resp.ok || !body) {
    const fallback =
      resp.status === 429
        ? 'Too many failed sign-ins. Wait a minute and try again.'
        : `Sign-in failed: the server answered ${resp.status}.`;
    throw new ApiError(body?.error || fallback, 'HTTP_' + resp.status);
  }
  return body;
}

/** Ends the session (the server deletes it and expires the cookie). */
export async function signOut(): Promise<void> {
  try {
    await fetch('/api/session', { method: 'DELETE', credentials: 'same-origin' });
  } catch {
    // Going to the sign-in page is right either way.
  }
}

/** Whether target is a path on this site that is safe to go to after sign-in:
 * it starts with one "/", has no backslash, no scheme, no control characters. */
export function isLocalPath(target: string | null): target is string {
  if (!target || !target.startsWith('/') || target.startsWith('//')) return false;
  if (target.includes('\\')) return false;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(target)) return false;
  try {
    const u = new URL(target, location.origin);
    return u.origin === location.origin;
  } catch {
    return false;
  }
}

/** The server's deployment mode, from the shell's meta tag. */
export type Deployment = 'self-managed' | 'dedicated' | 'multi-tenant';

export function deployment(): Deployment {
  const v = document.querySelector('meta[name="auditgraph-deployment"]')?.getAttribute('content');
  return v === 'multi-tenant' || v === 'dedicated' ? v : 'self-managed';
}
