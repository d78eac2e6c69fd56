/** The four things a person does about an anomaly, as buttons. */
import { api, ok, type AnomalyDetail } from '../api/client';
import { useAction } from './common';

type Action = 'acknowledge' | 'snooze' | 'expected' | 'resolve';
type Status = AnomalyDetail['anomaly']['status'];

/** Each button, and the status it leaves the anomaly in when that status is final for it (a
 * snooze can always be renewed). */
const BUTTONS: [Action, string, Status | null][] = [
  ['acknowledge', 'Acknowledge', 'acknowledged'],
  ['snooze', 'Snooze 24 h', null],
  ['expected', 'Mark expected', 'expected'],
  ['resolve', 'Resolve', 'resolved'],
];

/** Acts on anomaly `id`, now in `status`: the button that would change nothing is disabled;
 * `done` gets the anomaly as it is afterwards. */
export function Actions({ id, status, done }: { id: string; status: Status; done: (after: AnomalyDetail) => void }) {
  const { busy, error, run } = useAction();
  const act = (action: Action) =>
    run(async () => {
      const body = action === 'snooze' ? { hours: 24 } : undefined;
      done(await ok(api().POST('/v1/anomalies/{id}/{action}', { params: { path: { id, action } }, body })));
    });
  return (
    <span className="actions">
      {BUTTONS.map(([action, label, leaves]) => (
        <button key={action} type="button" disabled={busy || leaves === status} onClick={() => void act(action)}>
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
