/**
 * Overview: open anomalies by severity, what the resources dd0c/cost saw created and not yet
 * ended bill now (by account), new spend per day (stacked by account or resource kind, last 7
 * or 30 days), the actors behind the most open spend, and open zombie waste.
 */
import { useState } from 'react';
import { api, ok, SEVERITIES, type Anomaly } from '../api/client';
import type { StackBy } from '../chart';
import { Failure, Loading, Price, SeverityBadge, useLoad } from '../components/common';
import { StackedBars } from '../components/StackedBars';
import { actor } from '../format';
import { Link } from '../router';

/** Open anomalies counted by severity, and the actors with the most monthly cost at stake. */
export function summarize(open: Anomaly[]) {
  const bySeverity = { critical: 0, warning: 0, info: 0 };
  const byActor = new Map<string, number>();
  for (const a of open) {
    bySeverity[a.severity] += 1;
    byActor.set(a.actor_arn, (byActor.get(a.actor_arn) ?? 0) + a.monthly_usd);
  }
  const actors = [...byActor.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5);
  return { bySeverity, actors };
}

export function Overview() {
  const [days, setDays] = useState(7);
  const [by, setBy] = useState<StackBy>('account');
  const open = useLoad(() => ok(api().GET('/v1/anomalies', { params: { query: { status: 'open', limit: 200 } } })), []);
  const costs = useLoad(() => {
    const to = new Date();
    const from = new Date(Date.UTC(to.getUTCFullYear(), to.getUTCMonth(), to.getUTCDate() - (days - 1)));
    return ok(api().GET('/v1/costs', { params: { query: { from: from.toISOString(), to: to.toISOString(), bucket: 'day' } } }));
  }, [days]);
  const zombies = useLoad(() => ok(api().GET('/v1/zombies/summary')), []);
  const running = useLoad(() => ok(api().GET('/v1/resources/running')), []);
  const summary = open.data ? summarize(open.data.items) : null;
  const more = open.data?.next_cursor ? '+' : '';

  return (
    <section>
      <h1>Overview</h1>
      <Failure message={open.error ?? costs.error ?? zombies.error ?? running.error} />
      <div className="cards">
        {SEVERITIES.map((s) => (
          <Link key={s} className="card" href={`/anomalies?status=open&severity=${s}`}>
            <span className="figure">
              {summary ? summary.bySeverity[s] : '…'}
              {summary && summary.bySeverity[s] > 0 ? more : ''}
            </span>
            <span>
              open <SeverityBadge severity={s} />
            </span>
          </Link>
        ))}
        <Link className="card" href="/zombies">
          <span className="figure">{zombies.data ? <Price usd={zombies.data.waste_open_monthly_usd} unit="/mo" /> : '…'}</span>
          <span>open zombie waste ({zombies.data?.open ?? '…'} findings)</span>
        </Link>
        <div className="card running-now">
          <span className="figure">{running.data ? <Price usd={running.data.hourly_now_usd} unit="/h" /> : '…'}</span>
          <span>running now ({running.data?.running ?? '…'} seen created, not ended)</span>
        </div>
      </div>

      {running.data && running.data.accounts.length > 0 && (
        <>
          <h2>Running now by account</h2>
          <table className="running-by-account">
            <thead>
              <tr>
                <th scope="col">Account</th>
                <th scope="col" className="num">
                  Running
                </th>
                <th scope="col" className="num">
                  Now
                </th>
              </tr>
            </thead>
            <tbody>
              {running.data.accounts.map((a) => (
                <tr key={a.account_id}>
                  <td>{a.account_id}</td>
                  <td className="num">{a.running}</td>
                  <td className="num">
                    <Price usd={a.hourly_now_usd} unit="/h" />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}

      <h2>New spend</h2>
      <div className="toolbar" role="group" aria-label="Chart options">
        <label>
          Range
          <select value={days} onChange={(e) => setDays(Number(e.target.value))}>
            <option value={7}>Last 7 days</option>
            <option value={30}>Last 30 days</option>
          </select>
        </label>
        <label>
          Stack by
          <select value={by} onChange={(e) => setBy(e.target.value as StackBy)}>
            <option value="account">Account</option>
            <option value="kind">Resource kind</option>
          </select>
        </label>
      </div>
      <Loading when={costs.loading && !costs.data} />
      {costs.data && <StackedBars series={costs.data} by={by} days={days} />}

      <h2>Top actors by open cost</h2>
      {summary && summary.actors.length === 0 && <p>No open anomalies.</p>}
      {summary && summary.actors.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Actor</th>
              <th scope="col" className="num">
                At stake
              </th>
            </tr>
          </thead>
          <tbody>
            {summary.actors.map(([arn, monthly]) => (
              <tr key={arn}>
                <td title={arn}>{actor(arn)}</td>
                <td className="num">
                  <Price usd={monthly} unit="/mo" />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
