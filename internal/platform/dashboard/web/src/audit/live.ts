// A small client of the graphql-transport-ws protocol for the one
// subscription the page needs, Subscription.auditEvents, on this origin's
// /graphql. The browser sends the session cookie with the upgrade, which
// authenticates the connection (schema/subscription.graphqls); the
// connection_init payload is empty, so no key is ever held by the page.
//
// It never gives up on its own: a lost connection (network loss, server
// restart) is reopened after a backoff (0.5 s doubling to 10 s, with
// jitter), and a subscription the server ends (SUBSCRIBER_TOO_SLOW, a
// replica shutting down) is started again. Each time a subscription starts
// the page is told (onStart), so that it reads what it missed from the API.

export interface LiveEvent {
  sequence: number;
  json: string;
}

export type LiveStatus =
  | { state: 'connecting' }
  | { state: 'live' }
  | { state: 'waiting'; seconds: number; reason: string }
  | { state: 'failed'; reason: string };

export interface LiveHandlers {
  /** A subscription started (first time or again): read what was missed. */
  onStart(): void;
  onEvent(e: LiveEvent): void;
  onStatus(s: LiveStatus): void;
  /** The session is gone (close code 4403 on an ended session). */
  onUnauthenticated?(reason: string): void;
}

const subscription = `subscription AuditLogLive($org: String!, $filter: AuditEventFilter, $anonymize: Boolean) {
  auditEvents(organization: $org, filter: $filter, anonymize: $anonymize) { sequence json }
}`;

/** Close codes: the server's 4403 (no or bad credentials) and 4429 (too many
 * failed attempts); 4400/4409/4499 are protocol errors of ours. */
const FORBIDDEN = 4403;

/** How long after connection_ack the backoff counts as recovered. */
const STABLE_MS = 5000;

/** The server pings every 10 s; this long without a word, the connection
 * is taken for dead (a network that went away without closing it). */
const SILENCE_MS = 25_000;

/** The delay before reconnect attempt n (0-based): 0.5 s doubling to 10 s,
 * times a random 0.5–1 so that many pages do not come back together. */
export function backoff(n: number, r = Math.random()): number {
  return Math.min(10_000, 500 * 2 ** n) * (0.5 + r / 2);
}

export class LiveFeed {
  private ws: WebSocket | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stableTimer: ReturnType<typeof setTimeout> | null = null;
  private silenceTimer: ReturnType<typeof setTimeout> | null = null;
  private failures = 0;
  private stopped = false;
  private subId = 0;

  constructor(
    private org: string,
    private filter: Record<string, unknown>,
    private anonymize: boolean,
    private h: LiveHandlers,
  ) {}

  start() {
    this.stopped = false;
    window.addEventListener('online', this.onOnline);
    this.connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener('online', this.onOnline);
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = ws.onmessage = ws.onerror = ws.onopen = null;
      try {
        if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ id: String(this.subId), type: 'complete' }));
        ws.close(1000, 'live view off');
      } catch {
        // Closing a socket that is already gone.
      }
    }
  }

  private onOnline = () => {
    // The network is back: try now rather than at the end of the backoff.
    if (!this.stopped && this.timer) {
      this.clearTimers();
      this.connect();
    }
  };

  private clearTimers() {
    if (this.timer) clearTimeout(this.timer);
    if (this.stableTimer) clearTimeout(this.stableTimer);
    if (this.silenceTimer) clearTimeout(this.silenceTimer);
    this.timer = this.stableTimer = this.silenceTimer = null;
  }

  /** (Re)starts the silence watch of ws: heard from it just now. */
  private heard(ws: WebSocket) {
    if (this.silenceTimer) clearTimeout(this.silenceTimer);
    this.silenceTimer = setTimeout(() => {
      if (this.ws !== ws) return;
      this.ws = null;
      ws.onclose = ws.onmessage = ws.onerror = ws.onopen = null;
      try {
        ws.close(4000, 'no word from the server');
      } catch {
        // Already gone.
      }
      this.retry('no word from the server for 25 s');
    }, SILENCE_MS);
  }

  private url(): string {
    return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/graphql';
  }

  private connect() {
    this.timer = null;
    this.h.onStatus({ state: 'connecting' });
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url(), 'graphql-transport-ws');
    } catch (err) {
      this.retry(String(err));
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.heard(ws);
      ws.send(JSON.stringify({ type: 'connection_init', payload: {} }));
    };
    ws.onmessage = (m) => this.message(ws, m.data);
    ws.onclose = (c) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (c.code === FORBIDDEN) {
        this.stopped = true;
        const reason = c.reason || 'The server refused the live connection: sign in again.';
        this.h.onStatus({ state: 'failed', reason });
        this.h.onUnauthenticated?.(reason);
        return;
      }
      this.retry(c.reason || 'the connection to the server was lost');
    };
  }

  private retry(reason: string) {
    if (this.stopped) return;
    this.clearTimers();
    const ms = backoff(this.failures++);
    this.h.onStatus({ state: 'waiting', seconds: Math.max(1, Math.round(ms / 1000)), reason });
    this.timer = setTimeout(() => this.connect(), ms);
  }

  private subscribe(ws: WebSocket) {
    this.subId++;
    ws.send(
      JSON.stringify({
        id: String(this.subId),
        type: 'subscribe',
        payload: { query: subscription, variables: { org: this.org, filter: this.filter, anonymize: this.anonymize } },
      }),
    );
    this.h.onStatus({ state: 'live' });
    this.h.onStart();
  }

  private message(ws: WebSocket, data: unknown) {
    if (this.ws !== ws || typeof data !== 'string') return;
    this.heard(ws);
    let m: { id?: string; type?: string; payload?: unknown };
    try {
      m = JSON.parse(data);
    } catch {
      return;
    }
    switch (m.type) {
      case 'connection_ack':
        if (this.stableTimer) clearTimeout(this.stableTimer);
        this.stableTimer = setTimeout(() => (this.failures = 0), STABLE_MS);
        this.subscribe(ws);
        return;
      case 'ping':
        ws.send(JSON.stringify({ type: 'pong' }));
        return;
      case 'next': {
        if (m.id !== String(this.subId)) return;
        const p = m.payload as { data?: { auditEvents?: LiveEvent } | null; errors?: GqlError[] };
        if (p.errors?.length) {
          this.ended(ws, p.errors);
          return;
        }
        const e = p.data?.auditEvents;
        if (e) this.h.onEvent(e);
        return;
      }
      case 'error':
        if (m.id !== String(this.subId)) return;
        this.ended(ws, m.payload as GqlError[]);
        return;
      case 'complete':
        if (m.id !== String(this.subId)) return;
        // The server ended the feed (a replica shutting down): start again.
        this.resubscribe(ws, 'the server ended the live feed');
        return;
    }
  }

  /** The subscription ended with errors: SUBSCRIBER_TOO_SLOW and
   * UNAVAILABLE ask for a new subscription (the page reads what it missed);
   * anything else (no access, a bad filter) is reported and ends the feed. */
  private ended(ws: WebSocket, errors: GqlError[]) {
    const e = errors?.[0];
    const code = e?.extensions?.code ?? '';
    if (code === 'SUBSCRIBER_TOO_SLOW' || code === 'UNAVAILABLE' || code === 'INTERNAL_SERVER_ERROR' || !code) {
      this.resubscribe(ws, e?.message ?? 'the live feed ended');
      return;
    }
    this.stopped = true;
    this.h.onStatus({ state: 'failed', reason: e?.message ?? 'the live feed was refused' });
    this.stop();
  }

  private resubscribe(ws: WebSocket, reason: string) {
    if (this.stopped) return;
    this.clearTimers();
    const ms = backoff(this.failures++);
    this.h.onStatus({ state: 'waiting', seconds: Math.max(1, Math.round(ms / 1000)), reason });
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.ws === ws && ws.readyState === WebSocket.OPEN) this.subscribe(ws);
      else if (!this.ws) this.connect();
    }, ms);
  }
}

interface GqlError {
  message: string;
  extensions?: { code?: string };
}
