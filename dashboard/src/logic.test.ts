import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseConfig, ConfigError } from './config';
import { base64url, challenge, authorizeUrl, finish } from './auth/pkce';
import { stack } from './chart';
import { summarize } from './pages/Overview';
import { fromForm } from './pages/Settings';
import { items, moved, newRule } from './components/RoutingRules';
import { listQuery } from './pages/Anomalies';
import { ApiProblem, type Anomaly, type CostSeries, type Settings } from './api/client';
import { explain, fieldOf } from './problem';
import { actor, catalogAge, lifeOf, money, price, when } from './format';
import { match } from './router';

describe('config.json', () => {
  it('takes the local mode with the API on this origin', () => {
    expect(parseConfig({ mode: 'local', api: '' })).toEqual({ mode: 'local', api: '' });
  });
  it('names what a cloud configuration lacks', () => {
    expect(() => parseConfig({ mode: 'cloud', api: '' })).toThrow(/cognito.domain and cognito.client_id/);
    expect(() => parseConfig({ mode: 'both' })).toThrow(ConfigError);
  });
  it('trims the trailing slash of the provider', () => {
    const c = parseConfig({ mode: 'cloud', api: '', cognito: { domain: 'https://idp.example/', client_id: 'c' } });
    expect(c.cognito).toEqual({ domain: 'https://idp.example', client_id: 'c', redirect_uri: undefined });
  });
});

describe('PKCE', () => {
  it('computes the S256 challenge as Node computes SHA-256', async () => {
    const verifier = 'dBjftJeZ4CVP-mJ92IgF2hYPPd1x_-_dR-BkANdn0qM';
    expect(await challenge(verifier)).toBe(createHash('sha256').update(verifier).digest('base64url'));
  });
  it('encodes base64url without padding', () => {
    expect(base64url(new Uint8Array([251, 255]))).toBe('-_8');
  });
  it('asks for a code with the challenge and refuses a return with another state', async () => {
    const hosted = { domain: 'https://idp.example', client_id: 'app', redirect_uri: 'https://dash.example/' };
    const url = new URL(await authorizeUrl(hosted, '/anomalies'));
    expect(url.pathname).toBe('/oauth2/authorize');
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('redirect_uri')).toBe('https://dash.example/');
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await expect(finish(hosted, '?code=abc&state=forged')).rejects.toThrow(/not started in this tab/);
    expect(await finish(hosted, '?severity=critical')).toBeNull();
  });
});

const series: CostSeries = {
  bucket: 'day',
  from: '2026-11-25T00:00:00Z',
  to: '2026-12-01T12:00:00Z',
  series: [
    { account_id: '111111111111', resource_kind: 'ec2', points: [{ at: '2026-11-30T00:00:00Z', hourly_usd: 2, events: 1 }] },
    { account_id: '111111111111', resource_kind: 'rds', points: [{ at: '2026-11-30T00:00:00Z', hourly_usd: 1, events: 1 }] },
    { account_id: '222222222222', resource_kind: 'ec2', points: [{ at: '2026-12-01T00:00:00Z', hourly_usd: 5, events: 2 }] },
  ],
};

describe('the spend chart', () => {
  it('stacks each day by account, the largest group first', () => {
    const s = stack(series, 'account', 7);
    expect(s.stacks).toHaveLength(7);
    expect(s.stacks[5]).toEqual({ at: '2026-11-30', parts: { '111111111111': 3 }, total: 3 });
    expect(s.groups).toEqual(['222222222222', '111111111111']);
    expect(s.max).toBe(5);
  });
  it('stacks by resource kind', () => {
    expect(stack(series, 'kind', 7).stacks[5].parts).toEqual({ ec2: 2, rds: 1 });
  });
});

const anomaly = (severity: Anomaly['severity'], actorArn: string, monthly: number): Anomaly => ({
  anomaly_id: `a-${Math.random()}`,
  event_id: 'e',
  event_time: '2026-11-30T10:00:00Z',
  tenant: 't',
  account_id: '111111111111',
  region: 'us-east-1',
  actor_arn: actorArn,
  resource_kind: 'ec2',
  resource_type: 'p5.48xlarge',
  quantity: 1,
  hourly_usd: monthly / 730,
  monthly_usd: monthly,
  severity,
  score: 50,
  reasons: [],
  explanation: '',
  status: 'open',
  running_count: 1,
  hourly_now_usd: monthly / 730,
  cost_so_far_usd: 0,
  forecast_month_end_usd: monthly,
});

describe("an anomaly's resources", () => {
  it('read as ended with their cost, partly running, or running', () => {
    expect(lifeOf({ quantity: 4, running_count: 0, hourly_now_usd: 0, actual_cost_usd: 355.02 })).toBe('ended · cost $355.02');
    expect(lifeOf({ quantity: 40, running_count: 10, hourly_now_usd: 327.7 })).toBe('10 of 40 running · $327.70/h');
    expect(lifeOf({ quantity: 4, running_count: 4, hourly_now_usd: 131.08, actual_cost_usd: null })).toBe('4 running · $131.08/h');
  });
});

describe('the overview', () => {
  it('counts by severity and ranks actors by cost at stake', () => {
    const s = summarize([
      anomaly('critical', 'arn:aws:iam::1:user/a', 100),
      anomaly('critical', 'arn:aws:iam::1:user/b', 500),
      anomaly('info', 'arn:aws:iam::1:user/a', 10),
    ]);
    expect(s.bySeverity).toEqual({ critical: 2, warning: 0, info: 1 });
    expect(s.actors).toEqual([
      ['arn:aws:iam::1:user/b', 500],
      ['arn:aws:iam::1:user/a', 110],
    ]);
  });
});

describe('the anomalies filters', () => {
  it('turns days into a whole-day RFC 3339 range and leaves empty filters out', () => {
    const q = listQuery(new URLSearchParams('severity=critical&from=2026-11-01&to=2026-11-02&account='));
    expect(q).toMatchObject({ severity: 'critical', from: '2026-11-01T00:00:00.000Z', to: '2026-11-02T23:59:59.999Z', account: undefined });
  });
});

describe('settings', () => {
  it('keeps what the form does not show and sends numbers as numbers', () => {
    const perAccount = { '111122223333': { critical_monthly_usd: 9000 } };
    const base = {
      digest_hour: 9,
      thresholds: { min_samples: 10 },
      zombies: { regions: ['eu-west-1'], ec2_stopped_days: 30 },
      account_thresholds: perAccount,
    } as unknown as Settings;
    const form = new FormData();
    form.set('digest_hour', '30');
    form.set('email_to', 'a@x.example, ,b@x.example');
    form.set('thresholds.min_samples', '12');
    form.set('zombies.ec2_stopped_days', '45');
    form.set('zombies.regions', 'eu-west-1, ,us-east-1');
    form.set('slack_team_id', 'T0123');
    const s = fromForm(base, form);
    expect(s.digest_hour).toBe(30);
    expect(s.email_to).toEqual(['a@x.example', 'b@x.example']);
    expect(s.thresholds.min_samples).toBe(12);
    expect(s.zombies.ec2_stopped_days).toBe(45);
    expect(s.zombies.regions).toEqual(['eu-west-1', 'us-east-1']);
    expect(s.slack_team_id).toBe('T0123');
    expect(s.account_thresholds).toEqual(perAccount);
  });
  it('finds the form field a refusal names, nested ones included', () => {
    const refusal = new ApiProblem(400, { type: 'about:blank', title: 'Bad request', status: 400, detail: 'x', field: 'thresholds.min_samples' }, null);
    expect(fieldOf(refusal, ['digest_hour', 'thresholds.min_samples'])).toBe('thresholds.min_samples');
    expect(fieldOf(refusal, ['thresholds'])).toBe('thresholds');
    expect(fieldOf(new Error('x'), ['digest_hour'])).toBeNull();
    const rule = new ApiProblem(422, { type: 'about:blank', title: 'Unprocessable content', status: 422, detail: 'x', field: 'routing[1] "sandbox".channels' }, null);
    expect(fieldOf(rule, ['digest_hour', 'routing'])).toBe('routing');
  });
  it('edits routing rules: lists typed with commas, rules moved within bounds', () => {
    expect(items(' 111122223333, ,222233334444 ')).toEqual(['111122223333', '222233334444']);
    expect(moved(['a', 'b', 'c'], 0, 1)).toEqual(['b', 'a', 'c']);
    expect(moved(['a', 'b', 'c'], 2, 1)).toEqual(['a', 'b', 'c']);
    expect(moved(['a', 'b', 'c'], 2, -5)).toEqual(['c', 'a', 'b']);
    expect(newRule(3)).toMatchObject({ name: 'Rule 3', channels: [] });
  });
  it('explains a 403 and a 429 instead of passing them on', () => {
    expect(explain(new ApiProblem(403, { type: 'about:blank', title: 'Forbidden', status: 403, detail: 'this needs the admin role' }, null))).toMatch(/Ask an admin/);
    expect(explain(new ApiProblem(429, { type: 'about:blank', title: 'x', status: 429, detail: 'x' }, 42))).toMatch(/42 seconds/);
  });
});

describe('formats and routes', () => {
  it('reads money, ARNs and times the same way everywhere', () => {
    expect(money(1234.5)).toBe('$1,234.50');
    expect(money(226804.58)).toBe('$226,805');
    expect(actor('arn:aws:iam::679212434927:user/temp-contractor')).toBe('user/temp-contractor');
    expect(when('2026-11-30T10:03:00Z')).toBe('2026-11-30 10:03 UTC');
  });
  it('matches a page with its parameters', () => {
    expect(match('/anomalies/:id', '/anomalies/a%231')).toEqual({ id: 'a#1' });
    expect(match('/anomalies/:id', '/anomalies')).toBeNull();
  });
});

describe('the catalog footer', () => {
  it('gives the date and age, and what to do when stale', () => {
    expect(catalogAge({ as_of: '2026-11-01', age_days: 1, stale: false })).toBe('Prices as of 2026-11-01 (1 day old)');
    const stale = catalogAge({ as_of: '2025-06-01', age_days: 190, stale: true });
    expect(stale).toContain('(190 days old)');
    expect(stale).toContain('dd0c-cost catalog update');
    expect(catalogAge({ as_of: 'mid-2025', age_days: null, stale: false })).toBe('Prices as of mid-2025');
  });
});

describe('prices under a discount', () => {
  it('shows what the tenant pays and the list price beside', () => {
    expect(price(100, '/h', 20)).toEqual({ shown: '$80.00/h', list: '$100.00/h' });
    expect(price(100, '/mo', 0)).toEqual({ shown: '$100.00/mo', list: null });
  });
  it('reads the discount from the settings form', () => {
    const form = new FormData();
    form.set('pricing.discount_percent', '15');
    expect(fromForm({} as Settings, form).pricing).toEqual({ discount_percent: 15 });
  });
});
