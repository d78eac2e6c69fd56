/**
 * Anomalies: filtered by severity, status, account and time range (kept in the URL), paged by
 * the server's cursor, newest first, each with its actions.
 */
import { useState, type FormEvent } from 'react';
import { api, ok, saveFile, SEVERITIES, type Anomaly } from '../api/client';
import { Actions } from '../components/Actions';
import { Failure, Loading, Price, SeverityBadge, useAction, useLoad } from '../components/common';
import { actor, lifeOf, what, when } from '../format';
import { Link, navigate } from '../router';
import { useSigned } from '../session';

const FILTERS = ['severity', 'status', 'account', 'from', 'to'] as const;
const STATUSES: Anomaly['status'][] = ['open', 'acknowledged', 'snoozed', 'expected', 'resolved'];

/** A filter of one value among `values` (or any), as the page's URL has it. */
function Choice({ name, label, values, query }: { name: string; label: string; values: readonly string[]; query: URLSearchParams }) {
  return (
    <label>
      {label}
      <select name={name} defaultValue={query.get(name) ?? ''}>
        <option value="">Any</option>
        {values.map((v) => (
          <option key={v} value={v} className="status">
            {v[0].toUpperCase() + v.slice(1)}
          </option>
        ))}
      </select>
    </label>
  );
}

/** The list query of the page's URL: the filters as the API takes them. */
export function listQuery(query: URLSearchParams) {
  const get = (k: string) => query.get(k) || undefined;
  const day = (k: string, end: boolean) => {
    const v = get(k);
    return v ? new Date(`${v}T${end ? '23:59:59.999' : '00:00:00'}Z`).toISOString() : undefined;
  };
  return {
    severity: get('severity'),
    status: get('status'),
    account: get('account'),
    from: day('from', false),
    to: day('to', true),
    cursor: get('cursor'),
    limit: 50,
  };
}

export function Anomalies({ query }: { query: URLSearchParams }) {
  const { isAdmin } = useSigned();
  const key = query.toString();
  const page = useLoad(() => ok(api().GET('/v1/anomalies', { params: { query: listQuery(query) } })), [key]);
  const [earlier, setEarlier] = useState<string[]>([]);

  const filter = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const next = new URLSearchParams();
    for (const f of FILTERS) {
      const v = String(form.get(f) ?? '');
      if (v) next.set(f, v);
    }
    setEarlier([]);
    navigate(`/anomalies?${next}`);
  };
  const go = (cursor: string | null) => {
    const next = new URLSearchParams(query);
    if (cursor) next.set('cursor', cursor);
    else next.delete('cursor');
    navigate(`/anomalies?${next}`);
  };
  // Every match of the filters, not only this page.
  const exporting = useAction();
  const download = async () => {
    const csv = listQuery(query);
    const params = { query: { ...csv, cursor: undefined, limit: undefined, format: 'csv' } };
    saveFile(await ok(api().GET('/v1/anomalies', { params, parseAs: 'blob' })), 'dd0c-anomalies.csv');
  };
  const replace = (after: Anomaly) =>
    page.setData((p) => p && { ...p, items: p.items.map((a) => (a.anomaly_id === after.anomaly_id ? after : a)) });

  return (
    <section>
      <h1>Anomalies</h1>
      <form className="toolbar" onSubmit={filter} aria-label="Filters" key={key}>
        <Choice name="severity" label="Severity" values={SEVERITIES} query={query} />
        <Choice name="status" label="Status" values={STATUSES} query={query} />
        <label>
          Account
          <input name="account" inputMode="numeric" pattern="[0-9]{12}" placeholder="12 digits" defaultValue={query.get('account') ?? ''} />
        </label>
        <label>
          From
          <input name="from" type="date" defaultValue={query.get('from') ?? ''} />
        </label>
        <label>
          To
          <input name="to" type="date" defaultValue={query.get('to') ?? ''} />
        </label>
        <button type="submit">Apply</button>
        <button type="button" disabled={exporting.busy} onClick={() => void exporting.run(download)}>
          Download CSV
        </button>
      </form>
      <Failure message={page.error ?? exporting.error} />
      <Loading when={page.loading && !page.data} />
      {page.data && page.data.items.length === 0 && <p>No anomalies match.</p>}
      {page.data && page.data.items.length > 0 && (
        <table className="anomalies">
          <thead>
            <tr>
              <th scope="col">Severity</th>
              <th scope="col">When</th>
              <th scope="col">Actor</th>
              <th scope="col">What</th>
              <th scope="col">Region</th>
              <th scope="col" className="num">$/h</th>
              <th scope="col" className="num">$/month</th>
              <th scope="col">Resources</th>
              <th scope="col">Status</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {page.data.items.map((a) => (
              <tr key={a.anomaly_id} data-anomaly={a.anomaly_id}>
                <td>
                  <SeverityBadge severity={a.severity} />
                </td>
                <td>
                  <Link href={`/anomalies/${encodeURIComponent(a.anomaly_id)}`}>{when(a.event_time)}</Link>
                </td>
                <td title={a.actor_arn}>{actor(a.actor_arn)}</td>
                <td>{what(a.quantity, a.resource_type)}</td>
                <td>{a.region}</td>
                <td className="num">
                  <Price usd={a.hourly_usd} unit="/h" />
                </td>
                <td className="num">
                  <Price usd={a.monthly_usd} unit="/mo" />
                </td>
                <td>{lifeOf(a)}</td>
                <td className="status">{a.status}</td>
                <td>
                  <Actions id={a.anomaly_id} status={a.status} isAdmin={isAdmin} done={(after) => replace(after.anomaly)} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <nav className="pager" aria-label="Pages of anomalies">
        <button
          type="button"
          disabled={earlier.length === 0}
          onClick={() => {
            const previous = earlier[earlier.length - 1];
            setEarlier(earlier.slice(0, -1));
            go(previous || null);
          }}
        >
          Newer
        </button>
        <button
          type="button"
          disabled={!page.data?.next_cursor}
          onClick={() => {
            setEarlier([...earlier, query.get('cursor') ?? '']);
            go(page.data?.next_cursor ?? null);
          }}
        >
          Older
        </button>
      </nav>
    </section>
  );
}
