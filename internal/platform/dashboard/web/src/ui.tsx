// Shared pieces of the pages: the notice and error areas, navigation within
// the app, tooltips, menus and dialogs.
import { Component, h, type ComponentChildren, type ComponentType, type FunctionComponent, type RefObject } from 'preact';
import { useEffect, useId, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api';
import { dropPreloaded } from './wire';

// ---- Notices (#notice, role=status) and errors (#error, role=alert) ----

type Listener = () => void;
const listeners = new Set<Listener>();
let notice = '';
const errors = new Map<string, string>();

function emit() {
  for (const l of listeners) l();
}

/** Shows a message in #notice (and clears the errors of the same source). */
export function notify(text: string, source = 'action') {
  notice = text;
  errors.delete(source);
  emit();
}

/** The words shown for an error: the API's message, FORBIDDEN explained. */
export function errorText(err: unknown, org?: string, doing = false): string {
  if (err instanceof ApiError) {
    if (err.code === 'FORBIDDEN' && org) {
      return `You need to be an admin of ${org} to ${doing ? 'do' : 'see'} this.`;
    }
    return err.message;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Shows an error in #error under a source name (a panel, or "action"). */
export function reportError(source: string, err: unknown, org?: string, doing = false) {
  errors.set(source, errorText(err, org, doing));
  if (source === 'action') notice = '';
  emit();
}

/** Clears the error a source reported, if any. */
export function clearError(source: string) {
  if (errors.delete(source)) emit();
}

/** Clears the notice and every error (on navigation to another page). */
export function clearMessages() {
  notice = '';
  errors.clear();
  emit();
}

function useMessages() {
  const [, set] = useState(0);
  useEffect(() => {
    const l = () => set((n) => n + 1);
    listeners.add(l);
    return () => listeners.delete(l);
  }, []);
  return { notice, errors: [...errors.values()] };
}

/** The live regions every page has: #notice and #error. */
export function Messages() {
  const m = useMessages();
  return (
    <div class="messages">
      <div id="notice" role="status" class={m.notice ? 'notice' : 'notice empty'}>
        {m.notice}
      </div>
      <div id="error" role="alert" class={m.errors.length ? 'error' : 'error empty'}>
        {m.errors.map((e, i) => (
          <p key={i}>{e}</p>
        ))}
      </div>
    </div>
  );
}

// ---- Navigation within the app ----

const NAV = 'auditgraph:navigate';

/** Goes to a page of the app without reloading. A new entry (not replace)
 * is another page: the early requests nobody took are dropped (boot.ts). */
export function navigate(to: string, replace = false) {
  if (!replace) dropPreloaded();
  if (replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  window.dispatchEvent(new Event(NAV));
}

/** The current address; re-renders on navigation and Back/Forward. */
export function useLocation(): URL {
  const [url, setURL] = useState(() => new URL(location.href));
  useEffect(() => {
    const on = () => {
      dropPreloaded();
      setURL(new URL(location.href));
    };
    window.addEventListener('popstate', on);
    window.addEventListener(NAV, on);
    return () => {
      window.removeEventListener('popstate', on);
      window.removeEventListener(NAV, on);
    };
  }, []);
  return url;
}

/** A link within the app: a real <a href>, followed without a reload. */
export function Link(props: {
  href: string;
  class?: string;
  id?: string;
  'aria-current'?: 'page';
  children: ComponentChildren;
}) {
  return (
    <a
      href={props.href}
      class={props.class}
      id={props.id}
      aria-current={props['aria-current']}
      onClick={(e) => {
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(props.href);
      }}
    >
      {props.children}
    </a>
  );
}

// ---- Memo ----

/** c, drawn again only when one of its props changed (compared with ===):
 * for the rows of a long table, which otherwise all draw again whenever the
 * table does. */
export function memo<P extends object>(c: FunctionComponent<P>): FunctionComponent<P> {
  class Memo extends Component<P> {
    shouldComponentUpdate(next: P) {
      const prev = this.props as Record<string, unknown>;
      const n = next as Record<string, unknown>;
      for (const k in n) if (k !== 'children' && n[k] !== prev[k]) return true;
      for (const k in prev) if (!(k in n)) return true;
      return false;
    }
    render() {
      return h(c, this.props);
    }
  }
  return Memo as unknown as FunctionComponent<P>;
}

// ---- Lazy ----

/** A component loaded on first use (a chunk of its own): "Loading…" until
 * it is in (hidden, as the component would be, while its ready prop is
 * false), then the component; an error loading it shows with Try again. */
export function lazy<P extends object>(load: () => Promise<ComponentType<P>>): FunctionComponent<P> {
  let loaded: ComponentType<P> | null = null;
  return function Lazy(props: P) {
    const [failed, setFailed] = useState(false);
    const [, setDone] = useState(0);
    const [attempt, setAttempt] = useState(0);
    useEffect(() => {
      if (loaded) return;
      let live = true;
      load().then(
        (c) => {
          loaded = c;
          if (live) setDone((n) => n + 1);
        },
        () => live && setFailed(true),
      );
      return () => {
        live = false;
      };
    }, [attempt]);
    if (loaded) return h(loaded, props);
    if (failed) {
      return (
        <div class="state-error">
          <p>This part of the page could not be loaded. Check your connection and try again.</p>
          <button
            type="button"
            onClick={() => {
              setFailed(false);
              setAttempt((n) => n + 1);
            }}
          >
            Try again
          </button>
        </div>
      );
    }
    return (
      <div class="state-loading" aria-busy="true" hidden={(props as { ready?: boolean }).ready === false}>
        Loading…
      </div>
    );
  };
}

// ---- Debounce ----

/** value, once it has not changed for ms milliseconds. */
export function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}

// ---- Tooltip ----

/** Props to spread on an element that shows a tooltip on hover and focus,
 * and the tooltip to render next to it (only while shown, so that the page
 * holds one [role=tooltip] at a time). Escape hides it. */
export function useTooltip(): {
  shown: boolean;
  id: string;
  triggerProps: Record<string, unknown>;
} {
  const id = 'tip-' + useId();
  const [hover, setHover] = useState(false);
  const [focus, setFocus] = useState(false);
  const [dismissed, setDismissed] = useState(false);
  const shown = (hover || focus) && !dismissed;
  return {
    shown,
    id,
    triggerProps: {
      'aria-describedby': shown ? id : undefined,
      onMouseEnter: () => {
        setHover(true);
        setDismissed(false);
      },
      onMouseLeave: () => setHover(false),
      onFocus: () => {
        setFocus(true);
        setDismissed(false);
      },
      onBlur: () => setFocus(false),
      onKeyDown: (e: KeyboardEvent) => {
        if (e.key === 'Escape' && shown) {
          setDismissed(true);
          e.stopPropagation();
        }
      },
    },
  };
}

// ---- Menu button ----

/** A button that opens a menu (aria-haspopup=menu): arrow keys move between
 * the items, Escape and Tab close it, focus returns to the button. */
export function MenuButton(props: {
  id?: string;
  class?: string;
  label: string;
  text: ComponentChildren;
  align?: 'left' | 'right';
  items: { key: string; render: (close: () => void) => ComponentChildren }[];
}) {
  const [open, setOpen] = useState(false);
  const btn = useRef<HTMLButtonElement>(null);
  const menu = useRef<HTMLDivElement>(null);
  const menuId = 'menu-' + useId();

  const close = (refocus = true) => {
    setOpen(false);
    if (refocus) btn.current?.focus();
  };
  const [up, setUp] = useState(false);
  useLayoutEffect(() => {
    if (!open) {
      setUp(false);
      return;
    }
    // Open upwards when the menu would run out of its scrolling box (the
    // table's last rows) or off the bottom of the window.
    const m = menu.current;
    if (m) {
      const box = m.closest('.table-scroll')?.getBoundingClientRect();
      const bottom = Math.min(box ? box.bottom : Infinity, window.innerHeight);
      const r = m.getBoundingClientRect();
      const b = btn.current?.getBoundingClientRect();
      if (r.bottom > bottom && b && b.top - r.height - 4 >= (box ? box.top : 0)) setUp(true);
    }
    menuItems(menu)[0]?.focus();
  }, [open]);
  useEffect(() => {
    if (!open) return;
    const onDown = (e: MouseEvent) => {
      const t = e.target as Node;
      if (!menu.current?.contains(t) && !btn.current?.contains(t)) setOpen(false);
    };
    document.addEventListener('mousedown', onDown);
    return () => document.removeEventListener('mousedown', onDown);
  }, [open]);

  const onMenuKey = (e: KeyboardEvent) => {
    const items = menuItems(menu);
    const i = items.indexOf(document.activeElement as HTMLElement);
    if (e.key === 'ArrowDown') {
      e.preventDefault();
      items[(i + 1) % items.length]?.focus();
    } else if (e.key === 'ArrowUp') {
      e.preventDefault();
      items[(i - 1 + items.length) % items.length]?.focus();
    } else if (e.key === 'Home') {
      e.preventDefault();
      items[0]?.focus();
    } else if (e.key === 'End') {
      e.preventDefault();
      items[items.length - 1]?.focus();
    } else if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      close();
    } else if (e.key === 'Tab') {
      close(false);
    }
  };

  return (
    <div class="menu-wrap">
      <button
        ref={btn}
        id={props.id}
        type="button"
        class={'icon-button ' + (props.class ?? '')}
        aria-label={props.label}
        aria-haspopup="menu"
        aria-expanded={open ? 'true' : 'false'}
        aria-controls={open ? menuId : undefined}
        onClick={() => setOpen(!open)}
        onKeyDown={(e) => {
          if (e.key === 'ArrowDown' && !open) {
            e.preventDefault();
            setOpen(true);
          }
        }}
      >
        {props.text}
      </button>
      {open && (
        <div
          ref={menu}
          id={menuId}
          role="menu"
          class={'menu ' + (props.align ?? 'right') + (up ? ' up' : '')}
          onKeyDown={onMenuKey}
        >
          {props.items.map((it) => (
            <div key={it.key} role="none">
              {it.render(() => close())}
            </div>
          ))}
        </div>
      )}
    </div>
  );
}

function menuItems(menu: RefObject<HTMLDivElement>): HTMLElement[] {
  return Array.from(menu.current?.querySelectorAll<HTMLElement>('[role=menuitem]') ?? []);
}

// ---- Dialog ----

/** A modal <dialog> shown while open is true; Escape or Cancel calls onClose. */
export function Dialog(props: {
  id: string;
  title: string;
  open: boolean;
  onClose: () => void;
  children: ComponentChildren;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = props.id + '-title';
  useLayoutEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (props.open && !d.open) d.showModal();
    if (!props.open && d.open) d.close();
  }, [props.open]);
  return (
    <dialog
      ref={ref}
      id={props.id}
      aria-labelledby={titleId}
      onCancel={(e) => {
        e.preventDefault();
        props.onClose();
      }}
    >
      <h2 id={titleId}>{props.title}</h2>
      {props.open && props.children}
    </dialog>
  );
}

// ---- Formatting ----

const enumWords: Record<string, string> = {
  ADMIN: 'Admin',
  MEMBER: 'Member',
  VIEWER: 'Viewer',
  FULL: 'Full',
  NONE: 'None',
  INVITE_PENDING: 'Invite pending',
  ACTIVE: 'Active',
  INACTIVE: 'Inactive',
  DEACTIVATED: 'Deactivated',
  NEVER_ACTIVE: 'Never active',
};

/** An enum value in words (ADMIN → Admin). */
export function words(v: string): string {
  return enumWords[v] ?? v.charAt(0) + v.slice(1).toLowerCase().replace(/_/g, ' ');
}

/** An RFC 3339 time's UTC date, YYYY-MM-DD. */
export function day(t: string): string {
  return t.slice(0, 10);
}

/** A number with thousands separators. */
export function count(n: number): string {
  return n.toLocaleString('en-US');
}
