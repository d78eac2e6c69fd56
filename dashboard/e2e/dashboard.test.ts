/**
 * The dashboard end to end: Chromium against the real `dd0c-cost serve` on Postgres with the
 * demo's sample scored (see global.ts). One test per behaviour; each signs in afresh.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, inject, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { accessible, launch, screenshot, signIn, tabToken } from './browser';
import { get, tokenFor } from './server';
import { postsTo } from './catcher';
import { USERS } from './users';
import { ZOMBIES } from './seed';

const main = inject('main');
let browser: Browser;
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser.close();
});
beforeEach(async () => {
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
});
afterEach(async () => {
  await context.close();
});

interface Listed {
  items: { anomaly_id: string; severity: string; status: string; account_id: string; resource_type: string }[];
}

/** The critical p5 launch of the sample, as the API lists it. */
async function criticalLaunch(token: string) {
  const page = await get<Listed>(main, '/v1/anomalies?severity=critical&limit=200', token);
  const launch = page.items.find((a) => a.resource_type === 'p5.48xlarge');
  expect(launch, 'the sample has a critical p5.48xlarge launch').toBeTruthy();
  return launch!;
}

describe('the dashboard', () => {
  it('refuses wrong credentials as such', async () => {
    await page.goto(main);
    await page.getByLabel('Email').fill(USERS.admin.email);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('Wrong e-mail or password');
    await accessible(page, 'sign-in');
    await screenshot(page, 'sign-in');
  });

  it('signs in and the anomalies list shows a critical launch', async () => {
    await signIn(page, main, USERS.admin.email, USERS.admin.password);
    await expect.poll(() => page.locator('.cards .figure').first().textContent()).toMatch(/^[1-9]/);
    await page.locator('figure.chart svg rect').first().waitFor();
    // What the sample left running bills now, by account.
    await expect.poll(() => page.locator('.running-now .figure').textContent()).toMatch(/^\$[1-9][0-9,.]*\/h$/);
    expect(await page.locator('table.running-by-account tbody tr').count()).toBeGreaterThan(0);
    // The footer says how old the prices are (the bundled catalog's date, from /v1/catalog).
    await expect.poll(() => page.locator('footer.catalog').textContent()).toMatch(/^Prices as of \d{4}-\d{2}-\d{2} \(\d+ days? old\)/);
    await accessible(page, 'overview');
    await screenshot(page, 'overview');
    await page.getByRole('link', { name: 'Anomalies' }).click();
    const row = page.locator('tr', { hasText: 'p5.48xlarge' }).filter({ has: page.locator('.badge.critical') });
    await row.first().waitFor();
    expect(await row.first().textContent()).toMatch(/temp-contractor/);
    await accessible(page, 'anomalies');
    await screenshot(page, 'anomalies');
  });

  it('shows an anomaly with each reason against its threshold and baseline', async () => {
    await signIn(page, main, USERS.admin.email, USERS.admin.password);
    const launch = await criticalLaunch(await tabToken(page));
    await page.goto(`${main}/anomalies/${encodeURIComponent(launch.anomaly_id)}`);
    await page.getByRole('heading', { name: 'Why it stands out' }).waitFor();
    const explanation = await page.locator('.explanation').textContent();
    expect(explanation).toMatch(/launched 2 × p5\.48xlarge in sa-east-1/);
    const reasons = page.locator('table.reasons tbody tr');
    expect(await reasons.count()).toBeGreaterThan(1);
    expect(await page.locator('table.reasons').textContent()).toMatch(/New actor/);
    // Maria terminated the GPUs 2 h 10 min after their launch: the anomaly resolved itself.
    expect(await page.locator('.facts .status').textContent()).toBe('resolved');
    expect(await page.locator('.history').textContent()).toMatch(/TerminateInstances by user\/maria after 2 h 10 min; cost \$/);
    // Its resources' timeline: each GPU instance created, then ended by maria.
    const timeline = (await page.locator('table.timeline').textContent()) ?? '';
    expect(timeline).toMatch(/created .* → .*1 × p5\.48xlarge/);
    expect(timeline).toMatch(/ended .* by user\/maria \(TerminateInstances\)/);
    await accessible(page, 'anomaly detail');
    await screenshot(page, 'anomaly-detail');
  });

  it('acknowledges an anomaly, and it stays so after a reload and in the API', async () => {
    await signIn(page, main, USERS.admin.email, USERS.admin.password);
    const token = await tabToken(page);
    const open = await get<Listed>(main, '/v1/anomalies?status=open&limit=200', token);
    const target = open.items.find((a) => a.severity !== 'critical') ?? open.items[0];
    await page.goto(`${main}/anomalies?status=open`);
    const row = page.locator(`tr[data-anomaly="${target.anomaly_id}"]`);
    await row.getByRole('button', { name: 'Acknowledge' }).click();
    await expect.poll(() => row.locator('.status').textContent()).toBe('acknowledged');
    expect(await row.getByRole('button', { name: 'Acknowledge' }).isDisabled()).toBe(true);
    await page.goto(`${main}/anomalies/${encodeURIComponent(target.anomaly_id)}`);
    await page.reload();
    await expect.poll(() => page.locator('.facts .status').textContent()).toBe('acknowledged');
    expect(await page.locator('.history').textContent()).toContain(`${USERS.admin.email} acknowledged`);
    const stored = await get<{ anomaly: { status: string } }>(main, `/v1/anomalies/${encodeURIComponent(target.anomaly_id)}`, token);
    expect(stored.anomaly.status).toBe('acknowledged');
  });

  it('shows a refused setting at the field it names', async () => {
    await signIn(page, main, USERS.admin.email, USERS.admin.password);
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByLabel('Slack webhook URL').fill('ftp://hooks.example/x');
    await page.getByRole('button', { name: 'Save settings' }).click();
    const field = page.locator('[data-field="slack_webhook_url"]');
    await expect.poll(() => field.locator('.error').textContent()).toMatch(/not an http\(s\) URL/);
    expect(await page.getByLabel('Slack webhook URL').getAttribute('aria-invalid')).toBe('true');
    await accessible(page, 'settings');
    await screenshot(page, 'settings');
    await page.getByLabel('Slack webhook URL').fill('https://hooks.slack.com/services/T0/B0/x');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByText('Saved.').waitFor();
    const stored = await get<{ slack_webhook_url: string }>(main, '/v1/settings', await tabToken(page));
    expect(stored.slack_webhook_url).toBe('https://hooks.slack.com/services/T0/B0/x');
  });

  it('shows figures at the tenant’s discount with the list price beside, and list prices again without', async () => {
    await signIn(page, main, USERS.admin.email, USERS.admin.password);
    const setDiscount = async (percent: string) => {
      await page.getByRole('link', { name: 'Settings' }).click();
      await page.getByLabel(/Discount off AWS list prices/).fill(percent);
      await page.getByRole('button', { name: 'Save settings' }).click();
      await page.getByText('Saved.').waitFor();
    };
    await setDiscount('20');
    await page.getByRole('link', { name: 'Anomalies' }).click();
    const row = page.locator('tr', { hasText: 'p5.48xlarge' }).filter({ has: page.locator('.badge.critical') }).first();
    await row.waitFor();
    await expect.poll(() => row.textContent()).toMatch(/\$[0-9,.]+\/h \(list \$[0-9,.]+\/h\)/);
    const stored = await get<{ pricing: { discount_percent: number } }>(main, '/v1/settings', await tabToken(page));
    expect(stored.pricing.discount_percent).toBe(20);
    await setDiscount('0');
    await page.getByRole('link', { name: 'Anomalies' }).click();
    await row.waitFor();
    expect(await row.textContent()).not.toContain('(list');
  });

  it('sends a test alert to Teams and keeps routing rules, refusing one naming a channel not set up', async () => {
    const catcher = inject('catcher');
    await signIn(page, main, USERS.admin.email, USERS.admin.password);
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByLabel('Workflows webhook URL').fill(`${catcher}/teams/workflow`);
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByText('Saved.').waitFor();
    await page.getByRole('button', { name: 'Send a test alert to Teams' }).click();
    await page.getByText('Test alert delivered to Teams.').waitFor();
    const cards = (await postsTo(catcher, '/teams/workflow')) as { attachments: { contentType: string }[] }[];
    expect(cards).toHaveLength(1);
    expect(cards[0].attachments[0].contentType).toBe('application/vnd.microsoft.card.adaptive');

    await page.getByRole('button', { name: 'Add a rule' }).click();
    const rule = page.getByRole('listitem', { name: /^Rule 1:/ });
    await rule.getByLabel('Name').fill('Sandbox: digest only');
    await rule.getByLabel('Accounts (comma-separated; empty: any)').fill('222233334444');
    await rule.getByLabel('Accounts (comma-separated; empty: any)').blur();
    await rule.getByLabel('PagerDuty').check();
    await page.getByRole('button', { name: 'Save settings' }).click();
    const refused = page.locator('[data-field="routing"] .error');
    await expect.poll(() => refused.textContent()).toMatch(/pagerduty, which these settings do not set up/);
    await accessible(page, 'settings-routing');
    await screenshot(page, 'settings-routing');

    await rule.getByLabel('PagerDuty').uncheck();
    await rule.getByLabel('Teams').check();
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByText('Saved.').waitFor();
    const stored = await get<{ routing: { name: string; accounts: string[]; channels: string[] }[] }>(main, '/v1/settings', await tabToken(page));
    expect(stored.routing).toEqual([{ name: 'Sandbox: digest only', accounts: ['222233334444'], channels: ['teams'], regions: [], resource_kinds: [], min_severity: null, min_monthly_usd: null }]);
  });

  it('turns panic mode on and off, each after a confirmation', async () => {
    await signIn(page, main, USERS.admin.email, USERS.admin.password);
    const token = await tabToken(page);
    await page.getByRole('link', { name: 'Panic mode' }).click();
    await page.getByRole('button', { name: 'Turn panic mode on' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Turn on' }).click();
    await page.getByRole('button', { name: 'Turn panic mode off' }).waitFor();
    expect((await get<{ on: boolean }>(main, '/v1/panic', token)).on).toBe(true);
    await accessible(page, 'panic');
    await screenshot(page, 'panic');
    await page.getByRole('button', { name: 'Turn panic mode off' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Turn off' }).click();
    await page.getByRole('button', { name: 'Turn panic mode on' }).waitFor();
    expect((await get<{ on: boolean }>(main, '/v1/panic', token)).on).toBe(false);
  });

  it('adds an account with the wizard and hands out the policy, ExternalId and a token shown once', async () => {
    await signIn(page, main, USERS.admin.email, USERS.admin.password);
    await page.getByRole('link', { name: 'Accounts' }).click();
    await page.getByRole('button', { name: 'Add account' }).click();
    await page.getByLabel('Account id').fill('123412341234');
    await page.getByLabel('Name', { exact: true }).fill('staging');
    await page.getByLabel('The remediation role').check();
    await page.getByRole('form', { name: 'Add account' }).getByRole('button', { name: 'Add account' }).click();
    const setUp = page.getByRole('region', { name: 'Connect the account' });
    await setUp.waitFor();
    expect(await setUp.getByLabel('IAM policy').textContent()).toContain('ec2:DescribeInstances');
    expect(await setUp.getByLabel('Ingest token').textContent()).toMatch(/^dd0c_ing_/);
    await accessible(page, 'accounts');
    await screenshot(page, 'accounts');
    const accounts = await get<{ account_id: string; remediation_role_arn?: string }[]>(main, '/v1/accounts', await tabToken(page));
    const staging = accounts.find((a) => a.account_id === '123412341234');
    expect(staging?.remediation_role_arn).toBe('arn:aws:iam::123412341234:role/dd0c-cost-remediation');
  });

  it('issues an ingest token shown once, and revokes it', async () => {
    await signIn(page, main, USERS.admin.email, USERS.admin.password);
    await page.getByRole('link', { name: 'Accounts' }).click();
    const row = page.locator('tr', { hasText: '679212434927' });
    await row.getByRole('button', { name: 'New ingest token' }).click();
    const issued = page.getByRole('region', { name: 'New ingest token' });
    const token = ((await issued.getByLabel('Ingest token').textContent()) ?? '').trim();
    expect(token).toMatch(/^dd0c_ing_/);
    const push = () =>
      fetch(`${main}/v1/events`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: '{"Records": []}' });
    expect((await push()).status).not.toBe(401);
    await issued.getByRole('button', { name: 'Revoke' }).click();
    await issued.getByText('Revoked.').waitFor();
    expect((await push()).status).toBe(401);
  });

  it('signs out: the session is gone from the tab', async () => {
    await signIn(page, main, USERS.admin.email, USERS.admin.password);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('dd0c.session'))).toBeNull();
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
    await page.reload();
    await page.getByLabel('Password').waitFor();
  });

  it('downloads every anomaly of the filter as CSV', async () => {
    await signIn(page, main, USERS.admin.email, USERS.admin.password);
    await page.goto(`${main}/anomalies?severity=critical`);
    await page.locator('table.anomalies').waitFor();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download CSV' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe('dd0c-anomalies.csv');
    const lines = (await readFile(await download.path(), 'utf8')).trimEnd().split('\r\n');
    expect(lines[0]).toMatch(/^anomaly_id,event_time,severity,status,account_id,/);
    const token = await tabToken(page);
    let listed = 0;
    for (let cursor = ''; ; ) {
      const page = await get<Listed & { next_cursor?: string }>(main, `/v1/anomalies?severity=critical&limit=200${cursor}`, token);
      listed += page.items.length;
      if (!page.next_cursor) break;
      cursor = `&cursor=${encodeURIComponent(page.next_cursor)}`;
    }
    expect(listed).toBeGreaterThan(1);
    expect(lines.length - 1).toBe(listed);
    expect(lines.slice(1).every((l) => /^[^,]+,[^,]+,critical,/.test(l))).toBe(true);
  });

  it('lists zombies by waste with their evidence, and ignores one with a reason', async () => {
    await signIn(page, main, USERS.admin.email, USERS.admin.password);
    await page.getByRole('link', { name: 'Zombies' }).click();
    await page.locator('.total').waitFor();
    const listed = await page.locator('article.finding').evaluateAll((nodes) => nodes.map((n) => n.getAttribute('data-finding')));
    expect(listed).toEqual(ZOMBIES.map((z) => z.id));
    const total = await page.locator('.total').textContent();
    expect(total).toMatch(/\$630\.72\/mo of open waste in 2 findings · \$0\.00\/mo saved this month/);
    expect(await page.locator('article.finding').first().textContent()).toContain('AWS/EC2 CPUUtilization');
    await accessible(page, 'zombies');
    await screenshot(page, 'zombies');
    const smaller = page.locator(`article[data-finding="${ZOMBIES[1].id}"]`);
    await smaller.getByRole('button', { name: 'Ignore' }).click();
    await smaller.getByLabel('Reason').fill('standby for the DR drill');
    await smaller.getByRole('button', { name: 'Ignore' }).click();
    await expect.poll(() => page.locator('article.finding').count()).toBe(1);
    await expect.poll(() => page.locator('.total').textContent()).toMatch(/1 ignored/);
    const ignored = await get<{ items: { finding_id: string; ignored_reason: string }[] }>(main, '/v1/zombies?status=ignored', await tabToken(page));
    expect(ignored.items).toEqual([expect.objectContaining({ finding_id: ZOMBIES[1].id, ignored_reason: 'standby for the DR drill' })]);
  });

  it('requests an action on a zombie, refused by its dry run, and the Actions page shows the log', async () => {
    const token = await tokenFor(main, USERS.admin.email, USERS.admin.password);
    const remediation = (mode: string) =>
      fetch(`${main}/v1/settings/remediation`, {
        method: 'PUT',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ mode }),
      });
    expect((await remediation('approve')).status).toBe(200);
    try {
      await signIn(page, main, USERS.admin.email, USERS.admin.password);
      await page.getByRole('link', { name: 'Zombies' }).click();
      const zombie = page.locator(`article[data-finding="${ZOMBIES[0].id}"]`);
      await zombie.getByRole('button', { name: 'Stop…' }).click();
      // The instance is not in the account: the cloud's dry run refuses, and the refusal is kept.
      await expect.poll(() => zombie.getByRole('alert').textContent()).toMatch(/refused/);
      await page.getByRole('link', { name: 'Actions' }).click();
      const row = page.locator('table.audit tbody tr').first();
      await expect.poll(() => row.textContent()).toMatch(/Stop in 679212434927.*refused/);
      await row.getByRole('button', { name: 'Show' }).click();
      await expect.poll(() => page.locator('ol.log').textContent()).toMatch(/requested by .*refused by dd0c:worker/s);
      await accessible(page, 'actions');
      await screenshot(page, 'actions');
    } finally {
      await remediation('off');
    }
  });

  it('shows a member no admin controls, and says why', async () => {
    await signIn(page, main, USERS.member.email, USERS.member.password);
    await page.getByRole('link', { name: 'Accounts' }).click();
    await page.getByText('needs the admin role').waitFor();
    expect(await page.getByRole('button', { name: 'Add account' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Remove' }).count()).toBe(0);
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByLabel('Slack webhook URL').waitFor();
    expect(await page.getByRole('button', { name: 'Save settings' }).count()).toBe(0);
    expect(await page.getByLabel('Slack webhook URL').isDisabled()).toBe(true);
    await page.getByRole('link', { name: 'Panic mode' }).click();
    await page.locator('p.panic').waitFor();
    expect(await page.getByRole('button', { name: /Turn panic mode/ }).count()).toBe(0);
    // A member may still act on anomalies.
    await page.getByRole('link', { name: 'Anomalies' }).click();
    await page.getByRole('button', { name: 'Acknowledge' }).first().waitFor();
  });

  it('shows another tenant none of the first tenant’s data', async () => {
    const admin = await tokenFor(main, USERS.admin.email, USERS.admin.password);
    const theirs = await get<{ account_id: string }[]>(main, '/v1/accounts', admin);
    await signIn(page, main, USERS.globex.email, USERS.globex.password);
    await page.getByRole('link', { name: 'Anomalies' }).click();
    await page.getByText('No anomalies match.').waitFor();
    await page.getByRole('link', { name: 'Accounts' }).click();
    await page.getByRole('cell', { name: USERS.globex.account }).waitFor();
    const text = (await page.locator('main').textContent()) ?? '';
    for (const a of theirs) expect(text).not.toContain(a.account_id);
    await page.getByRole('link', { name: 'Overview' }).click();
    await page.getByText('No open anomalies.').waitFor();
  });

  it('serves the app with a strict Content-Security-Policy and deep links', async () => {
    const response = await fetch(`${main}/anomalies/some-id`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/text\/html/);
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect((await fetch(`${main}/assets/missing.js`)).status).toBe(404);
    const config = await (await fetch(`${main}/config.json`)).json();
    expect(config).toEqual({ mode: 'local', api: '' });
  });
});
