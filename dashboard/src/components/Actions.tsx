/** The four things a person does about an anomaly, as buttons; "Mark expected" only for admins
 * (it teaches the baseline what is normal for the whole tenant). */
import { api, ok, type AnomalyDetail } from '../api/client';
import { useAction } from './common';

type Action = 'acknowledge' | 'snooze' | 'expected' | 'resolve';
type Status = AnomalyDetail['anomaly']['status'];

/** Each button, the status it leaves the anomaly in when that status is final for it (a
 * snooze can always be renewed), and whether it needs the admin role. */
const BUTTONS: [Action, string, Status | null, boolean][] = [
  ['acknowledge', 'Acknowledge', 'acknowledged', false],
  ['snooze', 'Snooze 24 h', null, false],
  ['expected', 'Mark expected', 'expected', true],
  ['resolve', 'Resolve', 'resolved', false],
];

/** Acts on anomaly `id`, now in `status`: the button that would change nothing is disabled;
 * `done` gets the anomaly as it is afterwards. */
export function Actions({
  id,
  status,
  isAdmin,
  done,
}: {
  id: string;
  status: Status;
  isAdmin: boolean;
  done: (after: AnomalyDetail) => void;
}) {
  const { busy, error, run } = useAction();
  const act = (action: Action) =>
    run(async () => {
      const body = action === 'snooze' ? { hours: 24 } : undefined;
      done(await ok(api().POST('/v1/anomalies/{id}/{action}', { params: { path: { id, action } }, body })));
    });
  return (
    <span className="actions">
      {BUTTONS.filter(([, , , adminOnly]) => isAdmin || !adminOnly).map(([action, label, leaves]) => (
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
