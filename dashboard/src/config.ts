/**
 * The app's runtime configuration, `/config.json` beside it: which sign-in to show and where the
 * API is. One build serves both modes: `dd0c-cost serve` writes it for the self-hosted mode, the
 * CDK stack for the cloud.
 */
export interface HostedUi {
  /** The hosted sign-in's origin (Cognito: `https://NAME.auth.REGION.amazoncognito.com`). */
  domain: string;
  /** The public app client (no secret: PKCE). */
  client_id: string;
  /** Where the provider sends the browser back; absent: this origin's `/`. */
  redirect_uri?: string;
}

export interface RuntimeConfig {
  mode: 'local' | 'cloud';
  /** The API's base URL; empty: this origin. */
  api: string;
  cognito?: HostedUi;
}

/** Why the configuration cannot be used, for the page that says so. */
export class ConfigError extends Error {}

/** `value` as a configuration, or a [`ConfigError`] naming the field that is wrong. */
export function parseConfig(value: unknown): RuntimeConfig {
  if (typeof value !== 'object' || value === null) throw new ConfigError('config.json is not an object');
  const v = value as Record<string, unknown>;
  if (v.mode !== 'local' && v.mode !== 'cloud') {
    throw new ConfigError(`config.json: mode ${JSON.stringify(v.mode)} is not "local" or "cloud"`);
  }
  const api = typeof v.api === 'string' ? v.api.replace(/\/$/, '') : '';
  if (v.mode === 'local') return { mode: 'local', api };
  const c = v.cognito as Record<string, unknown> | undefined;
  if (!c || typeof c.domain !== 'string' || !c.domain || typeof c.client_id !== 'string' || !c.client_id) {
    throw new ConfigError('config.json: mode "cloud" needs cognito.domain and cognito.client_id');
  }
  const redirect = typeof c.redirect_uri === 'string' && c.redirect_uri ? c.redirect_uri : undefined;
  return {
    mode: 'cloud',
    api,
    cognito: { domain: c.domain.replace(/\/$/, ''), client_id: c.client_id, redirect_uri: redirect },
  };
}

export async function loadConfig(): Promise<RuntimeConfig> {
  const response = await fetch('/config.json', { cache: 'no-cache' });
  if (!response.ok) throw new ConfigError(`config.json: HTTP ${response.status}`);
  return parseConfig(await response.json());
}
