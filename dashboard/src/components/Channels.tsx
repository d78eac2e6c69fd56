/**
 * What the settings page offers beside each channel's fields: a test alert, sent on the
 * channel as the saved settings set it up, and the webhook's signing secret, shown once.
 */
import { useState } from 'react';
import { api, ok, type Schemas } from '../api/client';
import { useAction } from './common';

export type Channel = Schemas['Channel'];

/** "Send a test alert" for `channel`: says whether it arrived, or why not. */
export function TestAlert({ channel, label }: { channel: Channel; label: string }) {
  const action = useAction();
  const [outcome, setOutcome] = useState<string | null>(null);
  const send = () =>
    action.run(async () => {
      setOutcome(null);
      const sent = await ok(api().POST('/v1/settings/test-alert', { body: { channel } }));
      setOutcome(sent.delivered ? `Test alert delivered to ${label}.` : `${label} did not take it: ${sent.error ?? 'no reason given'}`);
    });
  return (
    <div className="test-alert">
      <button type="button" onClick={send} disabled={action.busy} aria-label={`Send a test alert to ${label}`}>
        Send a test alert
      </button>
      <span role="status">{outcome}</span>
      {action.error && (
        <span className="error" role="alert">
          {action.error}
        </span>
      )}
      <span className="muted"> (uses the saved settings)</span>
    </div>
  );
}

/** Makes the webhook's signing secret (replacing any before it) and shows it this once. */
export function SigningSecret() {
  const action = useAction();
  const [secret, setSecret] = useState<string | null>(null);
  const make = () =>
    action.run(async () => {
      const made = await ok(api().POST('/v1/settings/webhook-secret'));
      setSecret(made.secret);
    });
  return (
    <div className="field">
      <button type="button" onClick={make} disabled={action.busy}>
        Make a new signing secret
      </button>
      {secret ? (
        <p role="status">
          Signing secret (shown this once; verify each event's <code>webhook-signature</code> with it):{' '}
          <output aria-label="Signing secret">
            <code>{secret}</code>
          </output>
        </p>
      ) : (
        <p className="muted">Events are signed per Standard Webhooks. A new secret replaces the old one at once.</p>
      )}
      {action.error && (
        <p className="error" role="alert">
          {action.error}
        </p>
      )}
    </div>
  );
}
