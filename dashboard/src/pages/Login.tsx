/**
 * Sign-in. Self-hosted: e-mail and password (`POST /v1/auth/login`); wrong credentials and
 * throttling are said as such. Cloud: the identity provider's hosted page (PKCE).
 */
import { useState, type FormEvent } from 'react';
import { api, ApiProblem, ok, type Principal } from '../api/client';
import * as session from '../auth/session';
import { authorizeUrl } from '../auth/pkce';
import type { RuntimeConfig } from '../config';
import { explain } from '../problem';

interface Props {
  config: RuntimeConfig;
  failure: string | null;
  onSignedIn: (me: Principal) => void;
}

export function Login({ config, failure, onSignedIn }: Props) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(failure);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const issued = await ok(api().POST('/v1/auth/login', { body: { email, password } }));
      session.start(issued.access_token, issued.expires_in);
      onSignedIn(await ok(api().GET('/v1/me')));
    } catch (err) {
      setError(err instanceof ApiProblem && err.status === 401 ? 'Wrong e-mail or password.' : explain(err));
    } finally {
      setBusy(false);
    }
  };

  const hosted = async () => {
    if (!config.cognito) return;
    const next = window.location.pathname === '/login' ? '/' : window.location.pathname + window.location.search;
    window.location.assign(await authorizeUrl(config.cognito, next));
  };

  return (
    <main className="login">
      <h1>
        dd0c<span className="accent">/cost</span>
      </h1>
      <p className="lede">Cost anomalies from CloudTrail, minutes after the API call.</p>
      {config.mode === 'cloud' ? (
        <button type="button" className="primary" onClick={hosted}>
          Sign in
        </button>
      ) : (
        <form onSubmit={submit} aria-label="Sign in">
          <label>
            Email
            <input type="email" name="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
          </label>
          <label>
            Password
            <input type="password" name="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
          </label>
          <button type="submit" className="primary" disabled={busy}>
            Sign in
          </button>
        </form>
      )}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </main>
  );
}
