/**
 * Benchmark, reported not asserted: the app's initial JavaScript gzipped, and how soon the
 * anomalies page is interactive with 10,000 anomalies in the database (Chromium, the real
 * server on Postgres): from navigation to the first page's rows with their buttons enabled.
 * On the same data it checks that the pages follow the server's cursor.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launch, signIn } from './browser';
import { cli, DIST, freshDatabase, serve, type Running } from './server';

const ANOMALIES = 10_000;
const BUDGET_KB = 150;
let running: Running | null = null;

afterAll(async () => {
  await running?.stop();
});

/** The gzipped size of the scripts `index.html` loads before anything else. */
function initialScriptBytes(): { files: string[]; gzipped: number } {
  const index = readFileSync(resolve(DIST, 'index.html'), 'utf8');
  const files = [...index.matchAll(/(?:src|href)="\/(assets\/[^"]+\.js)"/g)].map((m) => m[1]);
  const gzipped = files.reduce((sum, f) => sum + gzipSync(readFileSync(resolve(DIST, f)), { level: 9 }).length, 0);
  return { files, gzipped };
}

it(`reports the initial bundle and the anomalies page with ${ANOMALIES} anomalies, paged by the cursor`, async () => {
  const bundle = initialScriptBytes();
  expect(bundle.files.length).toBeGreaterThan(0);

  const database = freshDatabase('bench');
  cli(database, ['migrate']);
  cli(database, ['tenant', 'add', 'bench']);
  cli(database, ['user', 'add', '--tenant', 'bench', '--email', 'bench@acme.example', '--role', 'admin'], 'bench password 1\n');
  execFileSync('psql', [database, '-q', '-c', seedSql(ANOMALIES)]);
  running = await serve(database, ['--role', 'api']);

  const browser = await launch();
  const page = await browser.newPage();
  await signIn(page, running.url, 'bench@acme.example', 'bench password 1');
  const times: number[] = [];
  for (let run = 0; run < 5; run++) {
    const started = Date.now();
    await page.goto(`${running.url}/anomalies`);
    await page.locator('tr[data-anomaly] button:not([disabled])').first().waitFor();
    times.push(Date.now() - started);
  }
  const rows = await page.locator('tr[data-anomaly]').count();
  await pagesThroughWithTheCursor(page);
  await browser.close();
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  console.log(
    [
      `initial JS: ${(bundle.gzipped / 1024).toFixed(1)} kB gzipped (budget ${BUDGET_KB} kB: ${(bundle.gzipped / 1024 / BUDGET_KB).toFixed(2)}× of it) in ${bundle.files.join(', ')}`,
      `anomalies page with ${ANOMALIES} in the database: interactive in ${median} ms (median of ${times.length} loads, from ${times[0]} to ${times[times.length - 1]} ms; target 1000 ms: ${(median / 1000).toFixed(2)}× of it), ${rows} rows on its first page`,
    ].join('\n'),
  );
  expect(rows).toBe(50);
});

/** Older and Newer walk the server's cursor: each page new rows, and back to the first. */
async function pagesThroughWithTheCursor(page: Page) {
  const ids = () => page.locator('tr[data-anomaly]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-anomaly')));
  const first = await ids();
  await page.getByRole('button', { name: 'Older' }).click();
  await expect.poll(async () => (await ids())[0]).not.toBe(first[0]);
  const second = await ids();
  expect(second).toHaveLength(50);
  expect(second.filter((id) => first.includes(id))).toEqual([]);
  await page.getByRole('button', { name: 'Newer' }).click();
  await expect.poll(ids).toEqual(first);
}

/** `count` anomalies of tenant `bench`, a minute apart, of every severity. */
function seedSql(count: number): string {
  return `
INSERT INTO anomalies (tenant_id, anomaly_id, event_id, account_id, event_time, severity, status, payload)
SELECT 'bench', 'bench-' || i, 'ev-' || i, '111122223333', t, s, 'open',
  jsonb_build_object(
    'anomaly_id', 'bench-' || i, 'event_id', 'ev-' || i, 'event_time', to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
    'tenant', 'bench', 'account_id', '111122223333', 'region', 'us-east-1',
    'actor_arn', 'arn:aws:iam::111122223333:user/u' || (i % 40), 'resource_kind', 'ec2', 'resource_type', 'm5.large',
    'resource_ids', jsonb_build_array('i-' || lpad(to_hex(i), 17, '0')), 'quantity', 1 + i % 5,
    'hourly_usd', 0.096 * (1 + i % 5), 'monthly_usd', 70.08 * (1 + i % 5), 'severity', s, 'score', 50,
    'reasons', '[]'::jsonb, 'explanation', 'a seeded anomaly', 'status', 'open')
FROM generate_series(1, ${count}) AS i,
  LATERAL (SELECT now() - make_interval(mins => i) AS t, (ARRAY['info','warning','critical'])[1 + i % 3] AS s) AS v;`;
}
