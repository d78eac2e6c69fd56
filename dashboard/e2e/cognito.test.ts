/**
 * The cloud sign-in: the same build, told by `config.json` to sign in through a Cognito-shaped
 * hosted page (authorization code with PKCE, a loopback provider), against an API that verifies
 * the provider's ID tokens.
 */
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launch, tabToken } from './browser';
import { get } from './server';

const cognito = inject('cognito');
let browser: Browser;

beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser.close();
});

it('signs in through the hosted page with PKCE and sees the tenant of the token', async () => {
  const config = await (await fetch(`${cognito}/config.json`)).json();
  expect(config.mode).toBe('cloud');
  const page = await browser.newPage();
  await page.goto(`${cognito}/anomalies`);
  expect(await page.getByLabel('Password').count()).toBe(0);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Pages', exact: true }).waitFor();
  expect(page.url()).toBe(`${cognito}/anomalies`);
  expect(await page.locator('header .who').textContent()).toContain('cloud-admin@acme.example · default · admin');
  await page.locator('.badge.critical').first().waitFor();
  const me = await get<{ tenant: string; role: string }>(cognito, '/v1/me', await tabToken(page));
  expect(me).toMatchObject({ tenant: 'default', role: 'admin' });
  expect((await fetch(`${cognito}/v1/auth/login`, { method: 'POST' })).status).toBe(404);
  await page.close();
});
