/**
 * Panic mode: hold every notification of the tenant (an alert storm, a broken channel) and
 * release them later; and each channel's circuit breaker.
 */
import { useRef } from 'react';
import { api, ok } from '../api/client';
import { Failure, Loading, useAction, useLoad } from '../components/common';
import { when } from '../format';
import { useSigned } from '../session';

export function Panic() {
  const { isAdmin } = useSigned();
  const state = useLoad(() => ok(api().GET('/v1/panic')), []);
  const { error, run } = useAction();
  const dialog = useRef<HTMLDialogElement>(null);
  const on = state.data?.on ?? false;

  const set = (wanted: boolean) => {
    dialog.current?.close();
    return run(async () => {
      await ok(api().PUT('/v1/panic', { body: { on: wanted } }));
      await state.reload();
    });
  };

  return (
    <section>
      <h1>Panic mode</h1>
      <Failure message={state.error ?? error} />
      <Loading when={state.loading && !state.data} />
      {state.data && (
        <>
          <p className={on ? 'panic on' : 'panic'} role="status">
            Panic mode is <strong>{on ? 'on' : 'off'}</strong>:{' '}
            {on ? 'notifications are held until it is turned off.' : 'notifications go out as they are raised.'}
          </p>
          {isAdmin ? (
            <button type="button" className={on ? 'primary' : 'danger'} onClick={() => dialog.current?.showModal()}>
              {on ? 'Turn panic mode off' : 'Turn panic mode on'}
            </button>
          ) : (
            <p className="muted">Turning panic mode on or off needs the admin role.</p>
          )}
          <dialog ref={dialog} aria-labelledby="panic-confirm">
            <h2 id="panic-confirm">{on ? 'Release held notifications?' : 'Hold every notification?'}</h2>
            <p>
              {on
                ? 'Held notifications go out now, and new ones as they are raised.'
                : 'No Slack message or e-mail leaves until panic mode is turned off. Anomalies are still scored and shown here.'}
            </p>
            <button type="button" className={on ? 'primary' : 'danger'} onClick={() => void set(!on)}>
              {on ? 'Turn off' : 'Turn on'}
            </button>
            <button type="button" onClick={() => dialog.current?.close()}>
              Cancel
            </button>
          </dialog>

          <h2>Channels</h2>
          <table>
            <thead>
              <tr>
                <th scope="col">Channel</th>
                <th scope="col">Circuit breaker</th>
                <th scope="col" className="num">
                  Failures in a row
                </th>
                <th scope="col">Next trial</th>
              </tr>
            </thead>
            <tbody>
              {state.data.breakers.map((b) => (
                <tr key={b.channel}>
                  <td>{b.channel === 'slack' ? 'Slack' : 'E-mail'}</td>
                  <td>{b.open ? 'open: skipped' : 'closed: sending'}</td>
                  <td className="num">{b.consecutive_failures}</td>
                  <td>{b.open_until ? when(b.open_until) : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
