/**
 * The routing rules editor: an ordered list, the first rule that matches an anomaly decides
 * where it goes; an anomaly no rule matches goes by each channel's least severity. Conditions
 * left empty match anything; a rule with no channel sends its anomalies to the digest only.
 */
import { useRef, useState } from 'react';
import type { Schemas } from '../api/client';
import type { Channel } from './Channels';

export type Rule = Schemas['RoutingRule'];

export const CHANNELS: [Channel, string][] = [
  ['slack', 'Slack'],
  ['email', 'E-mail'],
  ['webhook', 'Webhook'],
  ['teams', 'Teams'],
  ['pagerduty', 'PagerDuty'],
];

/** A comma-separated list as its items. */
export function items(text: string): string[] {
  return text
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
}

export function newRule(n: number): Rule {
  return { name: `Rule ${n}`, channels: [], accounts: [], regions: [], resource_kinds: [], min_severity: null, min_monthly_usd: null };
}

/** `list` with item `i` moved by `by` places (clamped). */
export function moved<T>(list: T[], i: number, by: number): T[] {
  const to = Math.max(0, Math.min(list.length - 1, i + by));
  const next = [...list];
  const [item] = next.splice(i, 1);
  next.splice(to, 0, item);
  return next;
}

export function RoutingRules({
  rules,
  onChange,
  disabled,
  error,
}: {
  rules: Rule[];
  onChange: (rules: Rule[]) => void;
  disabled: boolean;
  error: string | null;
}) {
  // Each rule's React key moves with it, so a moved rule's inputs keep what was typed there.
  const next = useRef(rules.length);
  const [keys, setKeys] = useState(() => rules.map((_, i) => i));
  const set = (i: number, change: Partial<Rule>) => onChange(rules.map((r, j) => (j === i ? { ...r, ...change } : r)));
  const move = (i: number, by: number) => {
    setKeys(moved(keys, i, by));
    onChange(moved(rules, i, by));
  };
  const remove = (i: number) => {
    setKeys(keys.filter((_, j) => j !== i));
    onChange(rules.filter((_, j) => j !== i));
  };
  const add = () => {
    setKeys([...keys, next.current++]);
    onChange([...rules, newRule(rules.length + 1)]);
  };
  return (
    <div className={error ? 'rules invalid' : 'rules'} data-field="routing">
      {rules.length === 0 && <p className="muted">No rules: each channel takes anomalies from its least severity.</p>}
      <ol>
        {rules.map((rule, i) => {
          const id = (what: string) => `routing-${i}-${what}`;
          return (
            <li key={keys[i] ?? i} aria-label={`Rule ${i + 1}: ${rule.name}`}>
              <div className="grid">
                <div className="field">
                  <label htmlFor={id('name')}>Name</label>
                  <input id={id('name')} value={rule.name} disabled={disabled} onChange={(e) => set(i, { name: e.target.value })} />
                </div>
                <div className="field">
                  <label htmlFor={id('severity')}>Severity</label>
                  <select
                    id={id('severity')}
                    value={rule.min_severity ?? ''}
                    disabled={disabled}
                    onChange={(e) => set(i, { min_severity: (e.target.value || null) as Rule['min_severity'] })}
                  >
                    <option value="">Any</option>
                    <option value="info">Info and up</option>
                    <option value="warning">Warning and up</option>
                    <option value="critical">Critical only</option>
                  </select>
                </div>
                <div className="field">
                  <label htmlFor={id('accounts')}>Accounts (comma-separated; empty: any)</label>
                  <input id={id('accounts')} defaultValue={(rule.accounts ?? []).join(', ')} disabled={disabled} onBlur={(e) => set(i, { accounts: items(e.target.value) })} />
                </div>
                <div className="field">
                  <label htmlFor={id('regions')}>Regions (empty: any)</label>
                  <input id={id('regions')} defaultValue={(rule.regions ?? []).join(', ')} disabled={disabled} onBlur={(e) => set(i, { regions: items(e.target.value) })} />
                </div>
                <div className="field">
                  <label htmlFor={id('kinds')}>Resource kinds (empty: any)</label>
                  <input id={id('kinds')} defaultValue={(rule.resource_kinds ?? []).join(', ')} placeholder="ec2.instance" disabled={disabled} onBlur={(e) => set(i, { resource_kinds: items(e.target.value) })} />
                </div>
                <div className="field">
                  <label htmlFor={id('cost')}>At stake from ($/month; empty: any)</label>
                  <input
                    id={id('cost')}
                    type="number"
                    min="0"
                    step="any"
                    defaultValue={rule.min_monthly_usd ?? ''}
                    disabled={disabled}
                    onBlur={(e) => set(i, { min_monthly_usd: e.target.value === '' ? null : Number(e.target.value) })}
                  />
                </div>
              </div>
              <fieldset className="channels">
                <legend>Send to (none: the digest only)</legend>
                {CHANNELS.map(([channel, label]) => (
                  <label key={channel}>
                    <input
                      type="checkbox"
                      checked={rule.channels.includes(channel)}
                      disabled={disabled}
                      onChange={(e) =>
                        set(i, {
                          channels: e.target.checked ? [...rule.channels, channel] : rule.channels.filter((c) => c !== channel),
                        })
                      }
                    />{' '}
                    {label}
                  </label>
                ))}
              </fieldset>
              {!disabled && (
                <div className="actions">
                  <button type="button" onClick={() => move(i, -1)} disabled={i === 0}>
                    Up
                  </button>
                  <button type="button" onClick={() => move(i, 1)} disabled={i === rules.length - 1}>
                    Down
                  </button>
                  <button type="button" onClick={() => remove(i)}>
                    Remove
                  </button>
                </div>
              )}
            </li>
          );
        })}
      </ol>
      {error && (
        <p id="routing-error" className="error" role="alert">
          {error}
        </p>
      )}
      {!disabled && (
        <button type="button" onClick={add}>
          Add a rule
        </button>
      )}
    </div>
  );
}
