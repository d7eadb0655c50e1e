// Small pieces of the Alerts & integrations page: times, copying, badges.
import { useState } from 'preact/hooks';

/** An RFC 3339 instant as "2026-01-02 03:04:05 UTC" in a <time>. */
export function Time({ t, empty = '—' }: { t: string | null | undefined; empty?: string }) {
  if (!t) return <span class="muted">{empty}</span>;
  return <time dateTime={t}>{fmtTime(t)}</time>;
}

export function fmtTime(t: string): string {
  return t.slice(0, 19).replace('T', ' ') + ' UTC';
}

/** A duration in seconds in words: 600 → "10 minutes". */
export function fmtSeconds(s: number): string {
  if (s % 3600 === 0) return plural(s / 3600, 'hour');
  if (s % 60 === 0) return plural(s / 60, 'minute');
  return plural(s, 'second');
}

export function plural(n: number, word: string): string {
  return `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;
}

/** A button that copies text to the clipboard and says so. */
export function CopyButton({ text, label, id }: { text: string; label: string; id?: string }) {
  const [done, setDone] = useState('');
  return (
    <span class="copy">
      <button
        type="button"
        id={id}
        class="copy-button"
        aria-label={label}
        onClick={async () => {
          try {
            await navigator.clipboard.writeText(text);
            setDone('Copied');
          } catch {
            setDone('Copy failed: select the text and copy it');
          }
          setTimeout(() => setDone(''), 3000);
        }}
      >
        Copy
      </button>
      <span role="status" class="copy-status">
        {done}
      </span>
    </span>
  );
}

const statusWords: Record<string, string> = {
  OK: 'OK',
  FAILING: 'Failing',
  REVOKED: 'Revoked',
  DISCONNECTED: 'Disconnected',
  PENDING: 'Pending',
  DELIVERED: 'Delivered',
  FAILED: 'Failed',
  DROPPED: 'Dropped',
};

/** A status as a coloured word (never colour alone). */
export function Badge({ status }: { status: string }) {
  return <span class={'badge badge-' + status.toLowerCase()}>{statusWords[status] ?? status}</span>;
}
