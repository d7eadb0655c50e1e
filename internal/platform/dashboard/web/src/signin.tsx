// The sign-in page: username and API key in, session cookie out.
import { useEffect, useRef, useState } from 'preact/hooks';
import { isLocalPath, signIn } from './api';

export function SignIn() {
  const [username, setUsername] = useState('');
  const [key, setKey] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const keyRef = useRef<HTMLInputElement>(null);
  const returning = isLocalPath(new URLSearchParams(location.search).get('return_to'));
  useEffect(() => {
    document.title = 'Sign in · auditgraph';
  }, []);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    setError('');
    setBusy(true);
    try {
      await signIn(username.trim(), key);
      const target = new URLSearchParams(location.search).get('return_to');
      // Back to the page that sent here; never to another site, nor to the
      // sign-in page again.
      location.assign(isLocalPath(target) && !/^\/signin(?:[/?#]|$)/.test(target) ? target : '/');
    } catch (err) {
      setBusy(false);
      setError(err instanceof Error ? err.message : String(err));
      setKey('');
      keyRef.current?.focus();
    }
  };

  return (
    <main class="signin">
      <form class="card signin-card" onSubmit={submit} aria-busy={busy ? 'true' : 'false'}>
        <h1>
          <span class="brand">auditgraph</span> Sign in
        </h1>
        <p class="hint">
          {returning ? 'Sign in to continue. ' : ''}Use your username and one of your API keys.
        </p>
        <label for="signin-username">Username</label>
        <input
          id="signin-username"
          name="username"
          autocomplete="username"
          autofocus
          autocapitalize="none"
          spellcheck={false}
          required
          value={username}
          onInput={(e) => setUsername((e.target as HTMLInputElement).value)}
        />
        <label for="signin-key">API key</label>
        <input
          id="signin-key"
          ref={keyRef}
          name="apiKey"
          type="password"
          autocomplete="current-password"
          required
          value={key}
          onInput={(e) => setKey((e.target as HTMLInputElement).value)}
        />
        <div id="signin-error" role="alert" class={error ? 'error' : 'error empty'}>
          {error}
        </div>
        <button id="signin-submit" type="submit" class="primary" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}
