/**
 * Settings: where alerts go (Slack and its workspace, e-mail, least severity each), the daily
 * digest, the scoring thresholds and the zombie hunter's. The server validates; a refusal is
 * shown at the field it names. Members see the settings read-only. Per-account thresholds are
 * listed; they are set with `dd0c-cost settings set` or in `PUT /v1/settings`.
 */
import { useState, type FormEvent, type ReactNode } from 'react';
import { api, ok, type Settings } from '../api/client';
import { Failure, Loading, useLoad } from '../components/common';
import { explain, fieldOf } from '../problem';
import { useSigned } from '../session';

type Thresholds = Settings['thresholds'];
type ThresholdName = keyof Thresholds & string;

const THRESHOLDS: [ThresholdName, string][] = [
  ['critical_hourly_usd', 'Critical from ($/h)'],
  ['critical_monthly_usd', 'Critical from ($/month)'],
  ['warning_hourly_usd', 'Warning from ($/h)'],
  ['warning_monthly_usd', 'Warning from ($/month)'],
  ['info_monthly_usd', 'Nothing below ($/month)'],
  ['z_warning', 'Z-score for a warning'],
  ['z_critical', 'Z-score for critical'],
  ['min_samples', 'Events before statistics count'],
  ['burst_window_minutes', 'Burst window (minutes)'],
  ['burst_min_quantity', 'Burst: least resources'],
];

type Zombies = Settings['zombies'];
type ZombieName = Exclude<keyof Zombies & string, 'regions'>;

const ZOMBIES: [ZombieName, string][] = [
  ['ec2_lookback_days', 'Instances: days of metrics read'],
  ['ec2_cpu_max_percent', 'Instances: idle below CPU (%)'],
  ['ec2_network_max_mb_per_day', 'Instances: idle below network (MB/day)'],
  ['ec2_stopped_days', 'Instances: stopped for (days)'],
  ['ebs_unattached_days', 'Volumes: unattached for (days)'],
  ['snapshot_min_age_days', 'Snapshots: orphaned and older than (days)'],
  ['elb_lookback_days', 'Load balancers: days of metrics read'],
  ['elb_idle_requests_per_day', 'Load balancers: idle below (requests/day)'],
  ['nat_lookback_days', 'NAT gateways: days of metrics read'],
  ['rds_lookback_days', 'Databases: days of metrics read'],
];

const FIELDS = [
  'slack_webhook_url',
  'slack_team_id',
  'slack_min_severity',
  'email_to',
  'email_min_severity',
  'digest_hour',
  'digest_time_zone',
  ...THRESHOLDS.map(([name]) => `thresholds.${name}`),
  ...ZOMBIES.map(([name]) => `zombies.${name}`),
  'zombies.regions',
];

const ZONES: string[] = (Intl as unknown as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf?.('timeZone') ?? [];

/** The settings a form holds: numbers typed as text until saved. */
export function fromForm(base: Settings, form: FormData): Settings {
  const text = (k: string) => String(form.get(k) ?? '').trim();
  const number = (k: string) => (text(k) === '' ? Number.NaN : Number(text(k)));
  const thresholds = { ...base.thresholds };
  for (const [name] of THRESHOLDS) (thresholds as Record<string, unknown>)[name] = number(`thresholds.${name}`);
  const zombies = { ...base.zombies };
  for (const [name] of ZOMBIES) (zombies as Record<string, unknown>)[name] = number(`zombies.${name}`);
  zombies.regions = text('zombies.regions')
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  return {
    ...base,
    slack_webhook_url: text('slack_webhook_url') || null,
    slack_team_id: text('slack_team_id') || null,
    slack_min_severity: text('slack_min_severity') as Settings['slack_min_severity'],
    email_to: text('email_to')
      .split(',')
      .map((a) => a.trim())
      .filter(Boolean),
    email_min_severity: text('email_min_severity') as Settings['email_min_severity'],
    digest_hour: number('digest_hour'),
    digest_time_zone: text('digest_time_zone') as Settings['digest_time_zone'],
    thresholds,
    zombies,
  };
}

export function SettingsPage() {
  const { isAdmin } = useSigned();
  const loaded = useLoad(() => ok(api().GET('/v1/settings')), []);
  const [refusal, setRefusal] = useState<{ field: string | null; message: string } | null>(null);
  const [saved, setSaved] = useState(false);

  const save = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    if (!loaded.data) return;
    setRefusal(null);
    setSaved(false);
    try {
      const body = fromForm(loaded.data, new FormData(e.currentTarget));
      loaded.setData(await ok(api().PUT('/v1/settings', { body })));
      setSaved(true);
    } catch (err) {
      setRefusal({ field: fieldOf(err, FIELDS), message: explain(err) });
    }
  };

  const s = loaded.data;
  const field = (name: string, label: string, input: ReactNode) => {
    const wrong = refusal?.field === name;
    return (
      <div className={wrong ? 'field invalid' : 'field'} data-field={name}>
        <label htmlFor={name}>{label}</label>
        {input}
        {wrong && (
          <p id={`${name}-error`} className="error" role="alert">
            {refusal.message}
          </p>
        )}
      </div>
    );
  };
  const wrong = (name: string) =>
    refusal?.field === name ? { 'aria-invalid': true, 'aria-describedby': `${name}-error` } : {};
  const number = (name: string, label: string, value: unknown) =>
    field(
      name,
      label,
      <input id={name} name={name} type="number" step="any" defaultValue={String(value ?? '')} disabled={!isAdmin} {...wrong(name)} />,
    );
  const severity = (name: 'slack_min_severity' | 'email_min_severity', value: string) => (
    <select id={name} name={name} defaultValue={value} disabled={!isAdmin} {...wrong(name)}>
      <option value="info">Info and up</option>
      <option value="warning">Warning and up</option>
      <option value="critical">Critical only</option>
    </select>
  );

  return (
    <section>
      <h1>Settings</h1>
      <Failure message={loaded.error} />
      {refusal && !refusal.field && <Failure message={refusal.message} />}
      <Loading when={loaded.loading && !s} />
      {!isAdmin && <p className="muted">Changing settings needs the admin role; you see them read-only.</p>}
      {s && (
        <form onSubmit={save} noValidate aria-label="Settings" key={JSON.stringify(s)}>
          <fieldset>
            <legend>Slack</legend>
            {field(
              'slack_webhook_url',
              'Slack webhook URL',
              <input id="slack_webhook_url" name="slack_webhook_url" type="url" defaultValue={s.slack_webhook_url ?? ''} placeholder="https://hooks.slack.com/services/…" disabled={!isAdmin} {...wrong('slack_webhook_url')} />,
            )}
            {field(
              'slack_team_id',
              'Slack workspace whose buttons may act (team id, T…)',
              <input id="slack_team_id" name="slack_team_id" defaultValue={s.slack_team_id ?? ''} placeholder="T0123ABCD" disabled={!isAdmin} {...wrong('slack_team_id')} />,
            )}
            {field('slack_min_severity', 'Least severity to Slack', severity('slack_min_severity', s.slack_min_severity ?? 'warning'))}
          </fieldset>
          <fieldset>
            <legend>E-mail</legend>
            {field(
              'email_to',
              'Recipients (comma-separated)',
              <input id="email_to" name="email_to" defaultValue={(s.email_to ?? []).join(', ')} disabled={!isAdmin} {...wrong('email_to')} />,
            )}
            {field('email_min_severity', 'Least severity to e-mail', severity('email_min_severity', s.email_min_severity ?? 'warning'))}
          </fieldset>
          <fieldset>
            <legend>Daily digest</legend>
            {field(
              'digest_hour',
              'Hour (0–23)',
              <input id="digest_hour" name="digest_hour" type="number" defaultValue={s.digest_hour ?? 9} disabled={!isAdmin} {...wrong('digest_hour')} />,
            )}
            {field(
              'digest_time_zone',
              'Time zone',
              <input id="digest_time_zone" name="digest_time_zone" list="zones" defaultValue={s.digest_time_zone ?? 'UTC'} disabled={!isAdmin} {...wrong('digest_time_zone')} />,
            )}
            <datalist id="zones">
              {ZONES.map((z) => (
                <option key={z} value={z} />
              ))}
            </datalist>
          </fieldset>
          <fieldset className="grid">
            <legend>Thresholds</legend>
            {THRESHOLDS.map(([name, label]) => number(`thresholds.${name}`, label, s.thresholds?.[name]))}
          </fieldset>
          <fieldset className="grid">
            <legend>Zombie hunter</legend>
            {ZOMBIES.map(([name, label]) => number(`zombies.${name}`, label, s.zombies?.[name]))}
            {field(
              'zombies.regions',
              'Regions scanned besides those seen in CloudTrail (comma-separated)',
              <input id="zombies.regions" name="zombies.regions" defaultValue={(s.zombies?.regions ?? []).join(', ')} disabled={!isAdmin} {...wrong('zombies.regions')} />,
            )}
          </fieldset>
          <fieldset>
            <legend>Per-account thresholds</legend>
            {Object.keys(s.account_thresholds ?? {}).length === 0 ? (
              <p className="muted">None: every account uses the thresholds above.</p>
            ) : (
              <ul>
                {Object.entries(s.account_thresholds ?? {}).map(([account, t]) => (
                  <li key={account}>
                    {account}: critical from ${t.critical_monthly_usd}/month, warning from ${t.warning_monthly_usd}/month
                  </li>
                ))}
              </ul>
            )}
            <p className="muted">
              Set with <code>dd0c-cost settings set --tenant TENANT account_thresholds.ACCOUNT.critical_monthly_usd=VALUE</code>,
              or as <code>account_thresholds</code> in <code>PUT /v1/settings</code>.
            </p>
          </fieldset>
          {isAdmin && (
            <button type="submit" className="primary">
              Save settings
            </button>
          )}
          {saved && <p role="status">Saved.</p>}
        </form>
      )}
    </section>
  );
}
