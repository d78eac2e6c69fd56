/**
 * The signed-in session: the bearer token and when it expires.
 *
 * Kept in memory and in sessionStorage, never in localStorage: it survives a reload of the tab
 * and is gone when the tab closes, and no other tab or later visit can read it. The strict
 * Content-Security-Policy the server sends (no inline or foreign script) is what keeps a script
 * from reading it.
 */
const KEY = 'dd0c.session';

export interface Session {
  token: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

let current: Session | null = restore();

function restore(): Session | null {
  try {
    const text = sessionStorage.getItem(KEY);
    if (!text) return null;
    const session = JSON.parse(text) as Session;
    return typeof session.token === 'string' && session.expiresAt > Date.now() ? session : null;
  } catch {
    return null;
  }
}

/** The token, while it is valid. */
export function token(): string | null {
  if (current && current.expiresAt <= Date.now()) clear();
  return current?.token ?? null;
}

/** Starts a session with `token`, valid for `expiresIn` seconds. */
export function start(token: string, expiresIn: number): void {
  current = { token, expiresAt: Date.now() + expiresIn * 1000 };
  sessionStorage.setItem(KEY, JSON.stringify(current));
}

/** Ends the session. */
export function clear(): void {
  current = null;
  sessionStorage.removeItem(KEY);
}
