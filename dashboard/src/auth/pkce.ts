/**
 * Sign-in through a hosted page (Cognito): the authorization code flow with PKCE (RFC 7636).
 * The verifier and state live in sessionStorage between the redirect and the return.
 */
import type { HostedUi } from '../config';

const PENDING = 'dd0c.pkce';

interface Pending {
  verifier: string;
  state: string;
  /** The page to open after sign-in. */
  next: string;
}

/** `bytes` as base64url without padding. */
export function base64url(bytes: Uint8Array): string {
  let text = '';
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomText(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

/** The S256 challenge of `verifier`. */
export async function challenge(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

export function redirectUri(hosted: HostedUi): string {
  return hosted.redirect_uri ?? `${window.location.origin}/`;
}

/** The hosted page's URL for a new sign-in; remembers the verifier for [`finish`]. */
export async function authorizeUrl(hosted: HostedUi, next: string): Promise<string> {
  const pending: Pending = { verifier: randomText(), state: randomText(), next };
  sessionStorage.setItem(PENDING, JSON.stringify(pending));
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: hosted.client_id,
    redirect_uri: redirectUri(hosted),
    scope: 'openid email profile',
    state: pending.state,
    code_challenge: await challenge(pending.verifier),
    code_challenge_method: 'S256',
  });
  return `${hosted.domain}/oauth2/authorize?${query}`;
}

/** A finished sign-in: the ID token (which carries the tenant) and the page to open. */
export interface Finished {
  token: string;
  expiresIn: number;
  next: string;
}

/**
 * Trades the code of a return from the hosted page (`search`: its query) for tokens, or
 * `null` when `search` is no such return. Throws when the state does not match the sign-in
 * this tab started, or the provider refuses.
 */
export async function finish(hosted: HostedUi, search: string): Promise<Finished | null> {
  const query = new URLSearchParams(search);
  const code = query.get('code');
  const error = query.get('error');
  if (!code && !error) return null;
  const text = sessionStorage.getItem(PENDING);
  sessionStorage.removeItem(PENDING);
  if (error) throw new Error(`the identity provider refused the sign-in: ${query.get('error_description') ?? error}`);
  const pending = text ? (JSON.parse(text) as Pending) : null;
  if (!pending || pending.state !== query.get('state')) {
    throw new Error('this sign-in was not started in this tab; sign in again');
  }
  const response = await fetch(`${hosted.domain}/oauth2/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: hosted.client_id,
      code: code ?? '',
      redirect_uri: redirectUri(hosted),
      code_verifier: pending.verifier,
    }),
  });
  if (!response.ok) throw new Error(`the identity provider refused the code (HTTP ${response.status})`);
  const tokens = (await response.json()) as { id_token?: string; expires_in?: number };
  if (!tokens.id_token) throw new Error('the identity provider returned no ID token');
  return { token: tokens.id_token, expiresIn: tokens.expires_in ?? 3600, next: pending.next };
}

/** The hosted page's sign-out URL, returning to this origin. */
export function logoutUrl(hosted: HostedUi): string {
  const query = new URLSearchParams({ client_id: hosted.client_id, logout_uri: redirectUri(hosted) });
  return `${hosted.domain}/logout?${query}`;
}
