/** Small pieces every page uses. */
import { useCallback, useEffect, useState } from 'react';
import type { Severity } from '../api/client';
import { explain } from '../problem';
import { price } from '../format';
import { useSigned } from '../session';

/**
 * Loads with `load` when `deps` change (the values `load` reads, as for `useEffect`); `reload`
 * runs it again, `setData` replaces what was loaded (after an action answered the new state).
 */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const run = useCallback(load, deps);
  const reload = useCallback(async () => {
    setLoading(true);
    try {
      setData(await run());
      setError(null);
    } catch (e) {
      setError(explain(e));
    } finally {
      setLoading(false);
    }
  }, [run]);
  useEffect(() => {
    void reload();
  }, [reload]);
  return { data, error, loading, reload, setData };
}

/**
 * Runs what a person asked for (a button, a form): `busy` while it runs, `error` why it was
 * refused, cleared when the next attempt starts.
 */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = useCallback(async (action: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (e) {
      setError(explain(e));
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, run };
}

/** A cost at what the tenant pays, the list price beside it under a discount. */
export function Price({ usd, unit = '' }: { usd: number; unit?: '' | '/h' | '/mo' }) {
  const { discountPercent } = useSigned();
  const { shown, list } = price(usd, unit, discountPercent);
  return (
    <>
      {shown}
      {list && <span className="list-price"> (list {list})</span>}
    </>
  );
}

export function SeverityBadge({ severity }: { severity: Severity }) {
  return <span className={`badge ${severity}`}>{severity}</span>;
}

export function Failure({ message }: { message: string | null }) {
  if (!message) return null;
  return (
    <p role="alert" className="error">
      {message}
    </p>
  );
}

export function Loading({ when }: { when: boolean }) {
  return when ? (
    <p className="loading" role="status">
      Loading…
    </p>
  ) : null;
}
