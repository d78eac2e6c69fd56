/** The four things a person does about an anomaly, as buttons. */
import { useState } from 'react';
import { api, ok, type AnomalyDetail } from '../api/client';
import { explain } from '../problem';

type Action = 'acknowledge' | 'snooze' | 'expected' | 'resolve';

const BUTTONS: [Action, string][] = [
  ['acknowledge', 'Acknowledge'],
  ['snooze', 'Snooze 24 h'],
  ['expected', 'Mark expected'],
  ['resolve', 'Resolve'],
];

/** Acts on anomaly `id`; `done` gets the anomaly as it is afterwards. */
export function Actions({ id, done }: { id: string; done: (after: AnomalyDetail) => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const act = async (action: Action) => {
    setBusy(true);
    setError(null);
    try {
      const body = action === 'snooze' ? { hours: 24 } : undefined;
      done(await ok(api().POST('/v1/anomalies/{id}/{action}', { params: { path: { id, action } }, body })));
    } catch (e) {
      setError(explain(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <span className="actions">
      {BUTTONS.map(([action, label]) => (
        <button key={action} type="button" disabled={busy} onClick={() => void act(action)}>
          {label}
        </button>
      ))}
      {error && (
        <span role="alert" className="error">
          {error}
        </span>
      )}
    </span>
  );
}
