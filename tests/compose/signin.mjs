// Signs in to the dashboard at URL through Debian's Chromium and opens the anomalies page:
// `node tests/compose/signin.mjs URL EMAIL PASSWORD` prints how many anomaly rows it shows.
// playwright-core comes from the dashboard's packages (npm ci in dashboard/).
import { createRequire } from 'node:module';

const require = createRequire(new URL('../../dashboard/package.json', import.meta.url));
const { chromium } = require('playwright-core');
const [url, email, password] = process.argv.slice(2);

const browser = await chromium.launch({
  executablePath: process.env.DD0C_CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update'],
});
try {
  const page = await browser.newPage();
  const refused = [];
  page.on('console', (m) => m.type() === 'error' && refused.push(m.text()));
  await page.goto(url);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Pages', exact: true }).waitFor();
  await page.goto(new URL('/anomalies', url).href);
  await page.locator('table tbody tr').first().waitFor();
  const rows = await page.locator('table tbody tr').count();
  if (refused.length > 0) throw new Error(`the console reported: ${refused.join('; ')}`);
  console.log(`anomaly rows: ${rows}`);
} finally {
  await browser.close();
}
