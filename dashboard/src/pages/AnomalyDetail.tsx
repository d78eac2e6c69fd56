/**
 * One anomaly: the sentence that explains it, each reason with its observed value against its
 * threshold and the baseline it was compared with, the resources, and what people did about it.
 */
import { api, ok, type Schemas } from '../api/client';
import { Actions } from '../components/Actions';
import { ANOMALY_ACTIONS, Remediate, useRemediationOn } from '../components/Remediate';
import { Failure, Loading, Price, SeverityBadge, useLoad } from '../components/common';
import { actor, lifeOf, perHour, perMonth, what, when } from '../format';
import { Link } from '../router';
import { useSigned } from '../session';

const SIGNALS: Record<Schemas['Signal'], string> = {
  zscore: 'Z-score',
  new_actor: 'New actor',
  new_resource_type: 'New resource type',
  new_region: 'New region',
  new_instance_family: 'New instance family',
  burst: 'Burst',
  hourly_usd: 'Hourly cost',
  monthly_usd: 'Monthly cost',
  cold_start: 'Cold start',
};

const number = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Number(v.toPrecision(4)).toString());

/** A reason's value in its signal's unit: dollars for the cost signals, else a plain figure. */
function inUnit(signal: Schemas['Signal'], v: number): string {
  if (signal === 'hourly_usd') return perHour(v);
  if (signal === 'monthly_usd') return perMonth(v);
  return number(v);
}

function feedbackText(f: Schemas['Feedback']): string {
  if (f.action === 'snooze') return `snoozed until ${when(f.until)}`;
  if (f.action === 'mark_expected') return 'marked expected';
  return f.action === 'acknowledge' ? 'acknowledged' : 'resolved';
}

export function AnomalyPage({ id }: { id: string }) {
  const { isAdmin } = useSigned();
  const detail = useLoad(() => ok(api().GET('/v1/anomalies/{id}', { params: { path: { id } } })), [id]);
  const remediation = useRemediationOn();
  const d = detail.data;
  return (
    <section>
      <p>
        <Link href="/anomalies">← Anomalies</Link>
      </p>
      <Failure message={detail.error} />
      <Loading when={detail.loading && !d} />
      {d && (
        <>
          <h1>
            <SeverityBadge severity={d.anomaly.severity} /> {what(d.anomaly.quantity, d.anomaly.resource_type)} in {d.anomaly.region}
          </h1>
          <p className="explanation">{d.anomaly.explanation}</p>
          <dl className="facts">
            <dt>When</dt>
            <dd>{when(d.anomaly.event_time)}</dd>
            <dt>Who</dt>
            <dd title={d.anomaly.actor_arn}>{actor(d.anomaly.actor_arn)}</dd>
            <dt>Account</dt>
            <dd>{d.anomaly.account_id}</dd>
            <dt>Cost</dt>
            <dd>
              <Price usd={d.anomaly.hourly_usd} unit="/h" /> · about <Price usd={d.anomaly.monthly_usd} unit="/mo" />
            </dd>
            <dt>Resources now</dt>
            <dd>{lifeOf(d.anomaly)}</dd>
            {d.anomaly.ended_at ? (
              <>
                <dt>Ended</dt>
                <dd>
                  {when(d.anomaly.ended_at)}
                  {d.anomaly.ended_by ? ` by ${actor(d.anomaly.ended_by)}` : ''}
                </dd>
              </>
            ) : (
              <>
                <dt>Cost so far</dt>
                <dd>
                  <Price usd={d.anomaly.cost_so_far_usd} />
                </dd>
                <dt>Left running to month end</dt>
                <dd>
                  <Price usd={d.anomaly.forecast_month_end_usd} />
                </dd>
              </>
            )}
            <dt>Status</dt>
            <dd className="status">{d.anomaly.status}</dd>
            <dt>Resources</dt>
            <dd>{d.anomaly.resource_ids?.length ? d.anomaly.resource_ids.join(', ') : 'not named by the event'}</dd>
            <dt>Event</dt>
            <dd>{d.anomaly.event_id}</dd>
          </dl>
          <Actions id={d.anomaly.anomaly_id} status={d.anomaly.status} isAdmin={isAdmin} done={(after) => detail.setData(after)} />
          {d.anomaly.running_count > 0 && (
            <Remediate
              subject={{ anomaly_id: d.anomaly.anomaly_id }}
              kinds={ANOMALY_ACTIONS[d.anomaly.resource_kind] ?? []}
              on={remediation}
            />
          )}

          <h2>Why it stands out</h2>
          <table className="reasons">
            <thead>
              <tr>
                <th scope="col">Signal</th>
                <th scope="col">Detail</th>
                <th scope="col" className="num">Observed</th>
                <th scope="col" className="num">Threshold</th>
                <th scope="col">Baseline (n, mean, sd)</th>
              </tr>
            </thead>
            <tbody>
              {d.anomaly.reasons.map((r, i) => (
                <tr key={i}>
                  <td>{SIGNALS[r.signal]}</td>
                  <td>{r.detail}</td>
                  <td className="num">{inUnit(r.signal, r.observed)}</td>
                  <td className="num">{r.threshold == null ? '—' : inUnit(r.signal, r.threshold)}</td>
                  <td>{r.baseline ? `n=${r.baseline.n}, mean ${perHour(r.baseline.mean)}, sd ${perHour(r.baseline.sd)}` : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>

          {d.resources.length > 0 && (
            <>
              <h2>Resources</h2>
              <table className="timeline">
                <thead>
                  <tr>
                    <th scope="col">Resource</th>
                    <th scope="col">Interval</th>
                    <th scope="col">Type</th>
                    <th scope="col" className="num">
                      Rate
                    </th>
                    <th scope="col" className="num">
                      Cost
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {d.resources.map((r) => [
                    ...r.intervals.map((iv, i) => (
                      <tr key={`${r.resource_id}/${i}`}>
                        <td>{i === 0 ? r.resource_id : ''}</td>
                        <td>
                          {iv.began_by === 'create' ? 'created' : iv.began_by === 'start' ? 'started' : 'resized'} {when(iv.from)} →{' '}
                          {iv.to ? when(iv.to) : 'running'}
                        </td>
                        <td>
                          {iv.quantity} × {iv.resource_type}
                        </td>
                        <td className="num">
                          <Price usd={iv.hourly_usd} unit="/h" />
                        </td>
                        <td className="num">
                          <Price usd={iv.cost_usd} />
                        </td>
                      </tr>
                    )),
                    r.ended ? (
                      <tr key={`${r.resource_id}/ended`} className="ended">
                        <td>{r.intervals.length === 0 ? r.resource_id : ''}</td>
                        <td colSpan={4}>
                          ended {when(r.ended.at)}
                          {r.ended.by ? ` by ${actor(r.ended.by.actor_arn)} (${r.ended.by.call})` : ', found gone'}
                        </td>
                      </tr>
                    ) : null,
                  ])}
                </tbody>
              </table>
            </>
          )}

          <h2>History</h2>
          {d.feedback.length === 0 ? (
            <p>Nobody has acted on it yet.</p>
          ) : (
            <ol className="history">
              {d.feedback.map((f, i) => (
                <li key={i}>
                  {when(f.at)}: {f.by} {feedbackText(f)}
                  {f.note ? ` — ${f.note}` : ''}
                </li>
              ))}
            </ol>
          )}
        </>
      )}
    </section>
  );
}
