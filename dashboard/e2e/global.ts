/**
 * The world of the end-to-end tests, made once per run: a database with two tenants (`default`
 * with the bundled sample's anomalies, an admin and a member; `globex` with its own admin and
 * account), `dd0c-cost serve --demo` on it with the built dashboard, and a second API process
 * that signs users in through a loopback Cognito-shaped provider; and a catcher for test alerts.
 */
import type { TestProject } from 'vitest/node';
import { execFileSync } from 'node:child_process';
import { cli, freshDatabase, get, serve, tokenFor, type Running } from './server';
import { zombieSql } from './seed';
import { startProvider, type Provider } from './oidc';
import { startCatcher, type Catcher } from './catcher';
import { USERS } from './users';

declare module 'vitest' {
  export interface ProvidedContext {
    main: string;
    cognito: string;
    database: string;
    catcher: string;
  }
}

let running: Running[] = [];
let provider: Provider | null = null;
let catcher: Catcher | null = null;

export async function setup(project: TestProject) {
  const database = freshDatabase('ui');
  cli(database, ['migrate']);
  for (const tenant of ['default', 'globex']) cli(database, ['tenant', 'add', tenant]);
  for (const u of Object.values(USERS)) {
    cli(database, ['user', 'add', '--tenant', u.tenant, '--email', u.email, '--role', u.role], `${u.password}\n`);
  }
  cli(database, ['account', 'add', '--tenant', 'globex', '--account-id', USERS.globex.account, '--name', 'globex-prod']);
  execFileSync('psql', [database, '-q', '-c', zombieSql('default', '679212434927')]);
  // The zombies' account, with a remediation role: actions are offered on it (the demo adds the
  // rest of the sample's accounts, and leaves this one as it is).
  cli(database, [
    'account', 'add', '--tenant', 'default', '--account-id', '679212434927',
    '--remediation-role-arn', 'arn:aws:iam::679212434927:role/dd0c-cost-remediation',
  ]);

  // Channels' far end for test alerts, on loopback: the server may post there.
  catcher = await startCatcher();
  // Actions dry-run in moto when the tests have one (none of the planted zombies is there).
  const moto: Record<string, string> = process.env.DD0C_TEST_AWS_ENDPOINT
    ? { AWS_ENDPOINT_URL: process.env.DD0C_TEST_AWS_ENDPOINT, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_REGION: 'us-east-1' }
    : {};
  const main = await serve(database, ['--demo', 'samples/cloudtrail'], { DD0C_OUTBOUND_PRIVATE_HOSTS: '127.0.0.1', ...moto });
  running.push(main);
  await scored(main.url, await tokenFor(main.url, USERS.admin.email, USERS.admin.password));

  provider = await startProvider('default', 'cloud-admin@acme.example');
  const cognito = await serve(database, [
    '--role',
    'api',
    '--cognito-issuer',
    provider.url,
    '--cognito-client-id',
    provider.clientId,
    '--cognito-domain',
    provider.url,
    '--cognito-jwks-url',
    `${provider.url}/.well-known/jwks.json`,
  ]);
  running.push(cognito);

  project.provide('main', main.url);
  project.provide('cognito', cognito.url);
  project.provide('database', database);
  project.provide('catcher', catcher.url);
}

/** Waits until the demo's sample is scored: anomalies listed, their count steady. */
async function scored(url: string, token: string) {
  let last = -1;
  for (let i = 0; i < 240; i++) {
    const page = await get<{ items: unknown[] }>(url, '/v1/anomalies?limit=200', token);
    if (page.items.length > 0 && page.items.length === last) return;
    last = page.items.length;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error('the demo sample was not scored in two minutes');
}

export async function teardown() {
  await Promise.all(running.map((r) => r.stop()));
  running = [];
  await provider?.close();
  await catcher?.close();
}
