/** Chromium for the end-to-end tests (Debian's, driven by playwright-core), and what every test does with it. */
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { expect } from 'vitest';

export const SCREENSHOTS = resolve(import.meta.dirname, 'screenshots');

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.DD0C_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update'],
  });
}

/** Signs in through the form at `url` as `email`. */
export async function signIn(page: Page, url: string, email: string, password: string) {
  await page.goto(url);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Pages', exact: true }).waitFor();
}

/** The token this tab holds (sessionStorage), for checks through the API. */
export async function tabToken(page: Page): Promise<string> {
  const session = await page.evaluate(() => sessionStorage.getItem('dd0c.session'));
  return (JSON.parse(session ?? '{}') as { token: string }).token;
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/** axe-core on the page as it is: no serious or critical violation. */
export async function accessible(page: Page, name: string) {
  // Evaluated through the DevTools protocol, which the page's CSP does not govern.
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const w = window as unknown as { axe: { run: () => Promise<{ violations: Violation[] }> } };
    return (await w.axe.run()).violations;
  });
  const grave = violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect(grave, `${name}: accessibility`).toEqual([]);
}

/** Saves a screenshot of the page as `e2e/screenshots/NAME.png`. */
export async function screenshot(page: Page, name: string) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: resolve(SCREENSHOTS, `${name}.png`), fullPage: true });
}
