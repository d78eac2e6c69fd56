/** Zombies: idle and forgotten resources by monthly waste, their evidence, and Ignore. */
import { useState, type FormEvent } from 'react';
import { api, ok, saveFile, type Finding } from '../api/client';
import { Failure, Loading, Price, useAction, useLoad } from '../components/common';
import { FINDING_ACTIONS, Remediate, useRemediationOn } from '../components/Remediate';
import { when } from '../format';

export function Zombies() {
  const list = useLoad(() => ok(api().GET('/v1/zombies', { params: { query: { status: 'open', limit: 500 } } })), []);
  const summary = useLoad(() => ok(api().GET('/v1/zombies/summary')), []);
  const remediation = useRemediationOn();
  // Every open finding, as listed here.
  const exporting = useAction();
  const download = async () => {
    const params = { query: { status: 'open', format: 'csv' } };
    saveFile(await ok(api().GET('/v1/zombies', { params, parseAs: 'blob' })), 'dd0c-zombies.csv');
  };
  return (
    <section>
      <h1>Zombies</h1>
      <p className="toolbar">
        <button type="button" disabled={exporting.busy} onClick={() => void exporting.run(download)}>
          Download CSV
        </button>
      </p>
      <Failure message={list.error ?? summary.error ?? exporting.error} />
      {summary.data && (
        <p className="total">
          <strong>
            <Price usd={summary.data.waste_open_monthly_usd} unit="/mo" />
          </strong> of open waste in {summary.data.open} findings ·{' '}
          <Price usd={summary.data.saved_this_month_usd} unit="/mo" /> saved this month · {summary.data.ignored} ignored
        </p>
      )}
      <Loading when={list.loading && !list.data} />
      {list.data && list.data.items.length === 0 && <p>No idle resources found in the last scan.</p>}
      {list.data?.items.map((f) => (
        <Zombie
          key={f.finding_id}
          finding={f}
          remediation={remediation}
          ignored={() => {
            list.setData((l) => l && { ...l, items: l.items.filter((x) => x.finding_id !== f.finding_id) });
            void summary.reload();
          }}
        />
      ))}
    </section>
  );
}

function Zombie({ finding: f, ignored, remediation }: { finding: Finding; ignored: () => void; remediation: boolean | null }) {
  const [asking, setAsking] = useState(false);
  const [reason, setReason] = useState('');
  const { error, run } = useAction();
  const ignore = (e: FormEvent) => {
    e.preventDefault();
    return run(async () => {
      await ok(api().POST('/v1/zombies/{id}/ignore', { params: { path: { id: f.finding_id } }, body: { reason } }));
      ignored();
    });
  };
  return (
    <article className="finding" data-finding={f.finding_id}>
      <h2>
        {f.resource_id} <span className="muted">({f.resource_type}, {f.region}, account {f.account_id})</span>
      </h2>
      <p>
        <strong>
          <Price usd={f.monthly_waste_usd} unit="/mo" />
        </strong> · {f.explanation} Idle since {when(f.first_seen)}.
      </p>
      {f.evidence.length > 0 && (
        <ul className="evidence">
          {f.evidence.map((e, i) => (
            <li key={i}>
              {e.metric} ({e.statistic}, {e.days_evaluated} days): {e.observed ?? 'no data'} {e.unit}
              {e.threshold != null && ` against a limit of ${e.threshold}`}
            </li>
          ))}
        </ul>
      )}
      {asking ? (
        <form onSubmit={ignore} className="inline">
          <label>
            Reason
            <input value={reason} required maxLength={500} onChange={(e) => setReason(e.target.value)} placeholder="standby for the DR drill" />
          </label>
          <button type="submit">Ignore</button>
          <button type="button" onClick={() => setAsking(false)}>
            Cancel
          </button>
        </form>
      ) : (
        <p className="toolbar">
          <button type="button" onClick={() => setAsking(true)}>
            Ignore
          </button>
          <Remediate subject={{ finding_id: f.finding_id }} kinds={FINDING_ACTIONS[f.kind] ?? []} on={remediation} />
        </p>
      )}
      <Failure message={error} />
    </article>
  );
}
