// The auditgraph GraphQL playground: GraphiQL with a small credentials form.
//
// This file is bundled by build.sh into ../assets/graphiql.js (and the CSS it
// imports into ../assets/graphiql.css); the Go package embeds those files and
// serves them under /graphiql/assets/. Nothing here loads anything from
// another origin, so the page works with no internet access.
//
// The page and this bundle are public: they contain no data. Every API call
// they make carries the credentials the user typed, and the server checks
// them as for any other client.
import React, { useEffect, useMemo, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { createClient } from 'graphql-ws';

import '@graphiql/react/dist/style.css';
import 'graphiql/src/style.css';
import './main.css';

const DEFAULT_QUERY = '{ viewer { username } }\n';

// Credentials live in sessionStorage: they last as long as the browser tab
// and never reach localStorage or the URL.
const CREDENTIALS_KEY = 'auditgraph.playground.credentials';

function loadCredentials() {
  try {
    const v = JSON.parse(window.sessionStorage.getItem(CREDENTIALS_KEY));
    if (v && typeof v.username === 'string' && typeof v.key === 'string' && v.key !== '') {
      return { username: v.username, key: v.key };
    }
  } catch {
    // unreadable: treat as signed out
  }
  return null;
}

function saveCredentials(creds) {
  try {
    if (creds) {
      window.sessionStorage.setItem(CREDENTIALS_KEY, JSON.stringify(creds));
    } else {
      window.sessionStorage.removeItem(CREDENTIALS_KEY);
    }
  } catch {
    // storage disabled: the credentials still work until the page reloads
  }
}

// basicAuthorization returns the HTTP Basic header value for username:key,
// encoding the pair as UTF-8 as the server decodes it.
function basicAuthorization(username, key) {
  const bytes = new TextEncoder().encode(`${username}:${key}`);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return `Basic ${window.btoa(binary)}`;
}

// authorizationOf returns the Authorization value among headers, whatever its
// case, or null.
function authorizationOf(headers) {
  if (!headers) return null;
  const name = Object.keys(headers).find((k) => k.toLowerCase() === 'authorization');
  return name === undefined ? null : String(headers[name]);
}

// GraphiQL keeps tabs, history and favorites in localStorage. Its history and
// favorites would keep the headers editor's text too (where a user may have
// typed an Authorization header), so this wrapper drops every "headers" field
// before anything is written, and never stores the headers editor itself.
const NAMESPACE = 'graphiql:';

function withoutHeaders(value) {
  try {
    return JSON.stringify(JSON.parse(value), (k, v) => (k === 'headers' ? undefined : v));
  } catch {
    return value;
  }
}

function makeStorage() {
  let ls;
  try {
    ls = window.localStorage;
    ls.getItem(NAMESPACE + 'probe');
  } catch {
    return null; // storage disabled: GraphiQL keeps state in memory
  }
  const storage = {
    getItem: (key) => ls.getItem(key),
    setItem(key, value) {
      if (key === NAMESPACE + 'headers') {
        ls.removeItem(key);
        return;
      }
      ls.setItem(key, withoutHeaders(value));
    },
    removeItem: (key) => ls.removeItem(key),
    get length() {
      let n = 0;
      for (let i = 0; i < ls.length; i++) if (ls.key(i)?.startsWith(NAMESPACE)) n++;
      return n;
    },
    clear() {
      const keys = [];
      for (let i = 0; i < ls.length; i++) if (ls.key(i)?.startsWith(NAMESPACE)) keys.push(ls.key(i));
      keys.forEach((k) => ls.removeItem(k));
    },
  };
  // Scrub what an older page (or another GraphiQL on this origin) left.
  try {
    ls.removeItem(NAMESPACE + 'headers');
    for (const name of ['queries', 'favorites', 'tabState']) {
      const v = ls.getItem(NAMESPACE + name);
      if (v !== null) ls.setItem(NAMESPACE + name, withoutHeaders(v));
    }
  } catch {
    // quota or parse trouble: leave it
  }
  return storage;
}

const SIGN_IN_ERROR = {
  errors: [
    {
      message:
        'Not signed in: enter your username and API key above (or an Authorization header in the Headers tab), then run the query again.',
    },
  ],
};

// credentials: 'omit' keeps the browser from adding credentials of its own
// and from showing its Basic-auth dialog when the server answers 401: only
// the Authorization header set here is sent.
const fetchWithoutAmbientCredentials = (url, init) =>
  window.fetch(url, { ...init, credentials: 'omit' });

function useFetcher(graphqlPath, credentials) {
  const formAuthorization = credentials ? basicAuthorization(credentials.username, credentials.key) : null;
  const { fetcher, wsClient } = useMemo(() => {
    const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    const subscriptionUrl = `${scheme}//${window.location.host}${graphqlPath}`;
    // The Authorization header typed in the Headers tab for the latest
    // operation, if any: it wins over the form, for WebSockets too.
    let typedAuthorization = null;
    const wsClient = createClient({
      url: subscriptionUrl,
      lazy: true, // connects only while a subscription runs
      retryAttempts: 0,
      // Browsers cannot set headers on a WebSocket, so the credentials travel
      // in the graphql-transport-ws connection_init payload. (An operation
      // started while a connection is open shares that connection.)
      connectionParams: () => {
        const authorization = typedAuthorization ?? formAuthorization;
        return authorization ? { Authorization: authorization } : {};
      },
    });
    const inner = createGraphiQLFetcher({
      url: graphqlPath,
      subscriptionUrl,
      wsClient,
      fetch: fetchWithoutAmbientCredentials,
      enableIncrementalDelivery: false,
    });
    const fetcher = (params, opts) => {
      typedAuthorization = authorizationOf(opts?.headers);
      if (typedAuthorization !== null) return inner(params, opts);
      if (!formAuthorization) return Promise.resolve(SIGN_IN_ERROR);
      return inner(params, { ...opts, headers: { ...opts?.headers, Authorization: formAuthorization } });
    };
    return { fetcher, wsClient };
  }, [graphqlPath, formAuthorization]);
  useEffect(() => () => wsClient.dispose(), [wsClient]);
  return fetcher;
}

function CredentialsForm({ credentials, onChange }) {
  const [username, setUsername] = useState(credentials?.username ?? '');
  const [key, setKey] = useState(credentials?.key ?? '');
  const submit = (e) => {
    e.preventDefault();
    if (key === '') return;
    onChange({ username: username.trim(), key: key.trim() });
  };
  const clear = () => {
    setKey('');
    onChange(null);
  };
  return (
    <form className="ag-credentials" onSubmit={submit} autoComplete="on">
      <span className="ag-title">auditgraph</span>
      <label>
        Username
        <input
          name="username"
          autoComplete="username"
          spellCheck={false}
          value={username}
          onChange={(e) => setUsername(e.target.value)}
        />
      </label>
      <label>
        API key
        <input
          name="api-key"
          type="password"
          autoComplete="current-password"
          spellCheck={false}
          value={key}
          onChange={(e) => setKey(e.target.value)}
        />
      </label>
      <button type="submit" disabled={key === ''}>
        Use
      </button>
      <button type="button" onClick={clear} disabled={!credentials && key === ''}>
        Forget
      </button>
      <span className="ag-status" role="status">
        {credentials
          ? `Requests are sent as ${credentials.username || '(API key only)'}; kept in this tab only.`
          : 'Not signed in.'}
      </span>
    </form>
  );
}

function Playground({ graphqlPath, storage }) {
  const [credentials, setCredentials] = useState(loadCredentials);
  const fetcher = useFetcher(graphqlPath, credentials);
  const change = (creds) => {
    saveCredentials(creds);
    setCredentials(creds);
  };
  return (
    <>
      <CredentialsForm credentials={credentials} onChange={change} />
      <div className="ag-graphiql">
        <GraphiQL
          fetcher={fetcher}
          storage={storage}
          defaultQuery={DEFAULT_QUERY}
          defaultTabs={[{ query: DEFAULT_QUERY }]}
          isHeadersEditorEnabled
          shouldPersistHeaders={false}
          showPersistHeadersSettings={false}
        >
          <GraphiQL.Logo>auditgraph</GraphiQL.Logo>
        </GraphiQL>
      </div>
    </>
  );
}

const root = document.getElementById('playground');
createRoot(root).render(
  <Playground graphqlPath={root.dataset.graphqlPath || '/graphql'} storage={makeStorage()} />,
);
