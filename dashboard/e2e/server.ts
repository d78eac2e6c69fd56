/**
 * The real `dd0c-cost` for the end-to-end tests: a fresh Postgres database, tenants and users
 * made with the CLI, and `serve` on loopback with the built dashboard.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const DIST = resolve(import.meta.dirname, '../dist');
export const BINARY = process.env.DD0C_COST_BIN ?? resolve(ROOT, 'target/debug/dd0c-cost');
export const JWT_SECRET = 'e2e-9c1f0e5b7a3d4e2f8a6b0c1d2e3f40516273849a5b6c7d8e';

/** The server-level URL of the test Postgres (`scripts/test.sh` exports it). */
export function serverUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set: run the UI tests with scripts/test.sh ui');
  return url;
}

/** A new database on the test server; its URL. */
export function freshDatabase(name: string): string {
  const server = serverUrl();
  const database = `${name}_${randomBytes(4).toString('hex')}`;
  execFileSync('psql', [server, '-q', '-c', `CREATE DATABASE ${database}`], { stdio: 'pipe' });
  const url = new URL(server);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Runs `dd0c-cost ARGS` on `database`, `stdin` written to it; its standard output. */
export function cli(database: string, args: string[], stdin = ''): string {
  return execFileSync(BINARY, args, {
    input: stdin,
    env: { ...process.env, DATABASE_URL: database, DD0C_LOG: 'warn' },
    encoding: 'utf8',
  });
}

export interface Running {
  url: string;
  process: ChildProcess;
  stop: () => Promise<void>;
}

/** `dd0c-cost serve ARGS` on `database` and a free port, once it answers /readyz. */
export async function serve(database: string, args: string[], env: Record<string, string> = {}): Promise<Running> {
  if (!existsSync(resolve(DIST, 'index.html'))) {
    throw new Error(`${DIST} is not built: run npm run build in dashboard/`);
  }
  const child = spawn(BINARY, ['serve', '--listen', '127.0.0.1:0', '--dashboard-dir', DIST, ...args], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: database, DD0C_JWT_SECRET: JWT_SECRET, DD0C_LOG: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout?.on('data', (d) => (log += d));
  child.stderr?.on('data', (d) => (log += d));
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`dd0c-cost serve exited (${child.exitCode}):\n${log}`);
    // The port is the system's choice: the log says which.
    const address = log.replace(/\x1b\[[0-9;]*m/g, '').match(/HTTP API.*?address=(127\.0\.0\.1:\d+)/)?.[1];
    const url = `http://${address}`;
    try {
      if (!address) throw new Error('not listening yet');
      if ((await fetch(`${url}/readyz`)).ok) {
        return {
          url,
          process: child,
          stop: () =>
            new Promise((done) => {
              if (child.exitCode !== null) return done();
              child.once('exit', () => done());
              child.kill('SIGTERM');
            }),
        };
      }
    } catch {
      // not answering yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`dd0c-cost serve did not become ready:\n${log}`);
}

/** A bearer token for a local user, through the API. */
export async function tokenFor(url: string, email: string, password: string): Promise<string> {
  const response = await fetch(`${url}/v1/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  if (!response.ok) throw new Error(`sign-in of ${email}: HTTP ${response.status}`);
  return ((await response.json()) as { access_token: string }).access_token;
}

/** GET `path` of the API as `token`. */
export async function get<T>(url: string, path: string, token: string): Promise<T> {
  const response = await fetch(`${url}${path}`, { headers: { Authorization: `Bearer ${token}` } });
  if (!response.ok) throw new Error(`GET ${path}: HTTP ${response.status}`);
  return (await response.json()) as T;
}
