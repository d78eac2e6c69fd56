/**
 * Settings: where alerts go (Slack and its workspace, e-mail, the signed webhook and its secret,
 * Microsoft Teams, PagerDuty — least severity each, a test alert each — and the routing rules
 * before them), the daily digest, the scoring thresholds and the zombie hunter's. The server
 * validates; a refusal is shown at the field it names. Members see the settings read-only.
 * Per-account thresholds are listed; they are set with `dd0c-cost settings set` or in
 * `PUT /v1/settings`.
 */
import { useState, type FormEvent, type ReactNode } from 'react';
import { api, ok, type Settings } from '../api/client';
import { SigningSecret, TestAlert } from '../components/Channels';
import { Failure, Loading, useLoad } from '../components/common';
import { RoutingRules, type Rule } from '../components/RoutingRules';
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
  'webhook_url',
  'webhook_min_severity',
  'teams_webhook_url',
  'teams_min_severity',
  'pagerduty_routing_key',
  'pagerduty_min_severity',
  'routing',
  'digest_hour',
  'digest_time_zone',
  ...THRESHOLDS.map(([name]) => `thresholds.${name}`),
  ...ZOMBIES.map(([name]) => `zombies.${name}`),
  'zombies.regions',
  'pricing.discount_percent',
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
    webhook_url: text('webhook_url') || null,
    webhook_min_severity: text('webhook_min_severity') as Settings['webhook_min_severity'],
    teams_webhook_url: text('teams_webhook_url') || null,
    teams_min_severity: text('teams_min_severity') as Settings['teams_min_severity'],
    pagerduty_routing_key: text('pagerduty_routing_key') || null,
    pagerduty_min_severity: text('pagerduty_min_severity') as Settings['pagerduty_min_severity'],
    digest_hour: number('digest_hour'),
    digest_time_zone: text('digest_time_zone') as Settings['digest_time_zone'],
    thresholds,
    zombies,
    pricing: { discount_percent: number('pricing.discount_percent') },
  };
}

export function SettingsPage() {
  const { isAdmin, setDiscountPercent } = useSigned();
  const loaded = useLoad(() => ok(api().GET('/v1/settings')), []);
  const [refusal, setRefusal] = useState<{ field: string | null; message: string } | null>(null);
  const [saved, setSaved] = useState(false);
  const [rules, setRules] = useState<Rule[] | null>(null);

  const save = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    if (!loaded.data) return;
    setRefusal(null);
    setSaved(false);
    try {
      const body = { ...fromForm(loaded.data, new FormData(e.currentTarget)), routing: rules ?? loaded.data.routing ?? [] };
      const stored = await ok(api().PUT('/v1/settings', { body }));
      loaded.setData(stored);
      setDiscountPercent(stored.pricing?.discount_percent ?? 0);
      setRules(null);
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
  type SeverityField = keyof Settings & `${string}_min_severity`;
  const severity = (name: SeverityField, value: string) => (
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
            {isAdmin && s.slack_webhook_url && <TestAlert channel="slack" label="Slack" />}
          </fieldset>
          <fieldset>
            <legend>E-mail</legend>
            {field(
              'email_to',
              'Recipients (comma-separated)',
              <input id="email_to" name="email_to" defaultValue={(s.email_to ?? []).join(', ')} disabled={!isAdmin} {...wrong('email_to')} />,
            )}
            {field('email_min_severity', 'Least severity to e-mail', severity('email_min_severity', s.email_min_severity ?? 'warning'))}
            {isAdmin && (s.email_to ?? []).length > 0 && <TestAlert channel="email" label="e-mail" />}
          </fieldset>
          <fieldset>
            <legend>Webhook</legend>
            {field(
              'webhook_url',
              'Your endpoint (each anomaly and its resolution, JSON, signed)',
              <input id="webhook_url" name="webhook_url" type="url" defaultValue={s.webhook_url ?? ''} placeholder="https://automation.example.com/dd0c" disabled={!isAdmin} {...wrong('webhook_url')} />,
            )}
            {field('webhook_min_severity', 'Least severity to the webhook', severity('webhook_min_severity', s.webhook_min_severity ?? 'warning'))}
            {isAdmin && <SigningSecret />}
            {isAdmin && s.webhook_url && <TestAlert channel="webhook" label="the webhook" />}
          </fieldset>
          <fieldset>
            <legend>Microsoft Teams</legend>
            {field(
              'teams_webhook_url',
              'Workflows webhook URL ("Post to a channel when a webhook request is received")',
              <input id="teams_webhook_url" name="teams_webhook_url" type="url" defaultValue={s.teams_webhook_url ?? ''} placeholder="https://….logic.azure.com/workflows/…" disabled={!isAdmin} {...wrong('teams_webhook_url')} />,
            )}
            {field('teams_min_severity', 'Least severity to Teams', severity('teams_min_severity', s.teams_min_severity ?? 'warning'))}
            {isAdmin && s.teams_webhook_url && <TestAlert channel="teams" label="Teams" />}
          </fieldset>
          <fieldset>
            <legend>PagerDuty</legend>
            {field(
              'pagerduty_routing_key',
              'Integration key (Events API v2)',
              <input id="pagerduty_routing_key" name="pagerduty_routing_key" defaultValue={s.pagerduty_routing_key ?? ''} placeholder={isAdmin ? '32 letters and digits' : 'hidden'} autoComplete="off" disabled={!isAdmin} {...wrong('pagerduty_routing_key')} />,
            )}
            {field('pagerduty_min_severity', 'Least severity that pages', severity('pagerduty_min_severity', s.pagerduty_min_severity ?? 'critical'))}
            <p className="muted">An incident opens per anomaly and resolves when its resources end.</p>
            {isAdmin && s.pagerduty_routing_key && <TestAlert channel="pagerduty" label="PagerDuty" />}
          </fieldset>
          <fieldset>
            <legend>Routing rules</legend>
            <RoutingRules
              rules={rules ?? s.routing ?? []}
              onChange={setRules}
              disabled={!isAdmin}
              error={refusal?.field === 'routing' ? refusal.message : null}
            />
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
          <fieldset>
            <legend>Pricing</legend>
            {number('pricing.discount_percent', 'Discount off AWS list prices, % (Savings Plans, EDP): figures show what you pay, the list price beside', s.pricing?.discount_percent ?? 0)}
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
