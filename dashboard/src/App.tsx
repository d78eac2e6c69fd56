/**
 * The app: sign-in until there is a session, then the pages inside the layout. A page is
 * chosen by path; every page loads its own data through the typed client.
 */
import { useCallback, useEffect, useMemo, useState } from 'react';
import { api, ok, whenSignedOut, type Principal } from './api/client';
import * as session from './auth/session';
import { finish, logoutUrl } from './auth/pkce';
import type { RuntimeConfig } from './config';
import { Layout } from './components/Layout';
import { Login } from './pages/Login';
import { Overview } from './pages/Overview';
import { Anomalies } from './pages/Anomalies';
import { AnomalyPage } from './pages/AnomalyDetail';
import { Zombies } from './pages/Zombies';
import { Accounts } from './pages/Accounts';
import { SettingsPage } from './pages/Settings';
import { Panic } from './pages/Panic';
import { ActionsPage } from './pages/ActionsPage';
import { match, navigate, useLocation } from './router';
import { explain } from './problem';
import { SignedIn } from './session';

export function App({ config }: { config: RuntimeConfig }) {
  const location = useLocation();
  const [principal, setPrincipal] = useState<Principal | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [checking, setChecking] = useState(true);
  const [discountPercent, setDiscountPercent] = useState(0);

  const signOut = useCallback(() => {
    session.clear();
    setPrincipal(null);
    if (config.mode === 'cloud' && config.cognito) window.location.assign(logoutUrl(config.cognito));
    else navigate('/login', true);
  }, [config]);

  useEffect(() => whenSignedOut(() => setPrincipal(null)), []);

  // A session in this tab (or a return from the hosted sign-in) is checked with /v1/me.
  useEffect(() => {
    let live = true;
    (async () => {
      try {
        if (config.mode === 'cloud' && config.cognito) {
          const done = await finish(config.cognito, window.location.search);
          if (done) {
            session.start(done.token, done.expiresIn);
            navigate(done.next || '/', true);
          }
        }
        if (session.token()) {
          const me = await ok(api().GET('/v1/me'));
          if (live) setPrincipal(me);
        }
      } catch (e) {
        if (live) setFailure(explain(e));
      } finally {
        if (live) setChecking(false);
      }
    })();
    return () => {
      live = false;
    };
  }, [config]);

  // The tenant's discount, read once signed in; figures show list prices until it is known.
  useEffect(() => {
    if (!principal) return;
    let live = true;
    ok(api().GET('/v1/settings'))
      .then((s) => live && setDiscountPercent(s.pricing?.discount_percent ?? 0))
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, [principal]);

  const signed = useMemo(
    () =>
      principal
        ? { config, principal, isAdmin: principal.role === 'admin', signOut, discountPercent, setDiscountPercent }
        : null,
    [config, principal, signOut, discountPercent],
  );

  if (checking) return <p className="loading" role="status">Loading…</p>;
  if (!signed) {
    return (
      <Login
        config={config}
        failure={failure}
        onSignedIn={(me) => {
          setFailure(null);
          setPrincipal(me);
          if (location.path === '/login') navigate('/', true);
        }}
      />
    );
  }
  return (
    <SignedIn.Provider value={signed}>
      <Layout path={location.path}>{page(location.path, location.query)}</Layout>
    </SignedIn.Provider>
  );
}

function page(path: string, query: URLSearchParams) {
  const detail = match('/anomalies/:id', path);
  if (detail) return <AnomalyPage id={detail.id} />;
  switch (path.replace(/\/$/, '') || '/') {
    case '/':
    case '/login':
      return <Overview />;
    case '/anomalies':
      return <Anomalies query={query} />;
    case '/zombies':
      return <Zombies />;
    case '/accounts':
      return <Accounts />;
    case '/settings':
      return <SettingsPage />;
    case '/panic':
      return <Panic />;
    case '/actions':
      return <ActionsPage />;
    default:
      return (
        <section>
          <h1>Not found</h1>
          <p>There is no page at {path}.</p>
        </section>
      );
  }
}

/** What shows when `config.json` cannot be read: the app cannot know how to sign in. */
export function Unconfigured({ reason }: { reason: string }) {
  return (
    <main className="login">
      <h1>dd0c/cost</h1>
      <p role="alert">The dashboard cannot start: {reason}</p>
    </main>
  );
}
