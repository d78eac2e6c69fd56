/**
 * The typed API client: routes, parameters and bodies from `openapi.json` (generated into
 * `schema.d.ts` by `npm run api`), so a changed route breaks the build, not the user.
 *
 * Every call carries the session's bearer token; a failure becomes an [`ApiProblem`] holding the
 * server's problem details (RFC 9457), and a 401 ends the session.
 */
import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from './schema';
import * as session from '../auth/session';

export type Schemas = components['schemas'];
// Every anomaly the API returns comes with what its resources amount to now.
export type Anomaly = Schemas['FollowedAnomaly'];
export type AnomalyDetail = Schemas['AnomalyDetail'];
export type Severity = Schemas['Severity'];
/** Every severity, most severe first: the order pages list and count them in. */
export const SEVERITIES: readonly Severity[] = ['critical', 'warning', 'info'];
export type Settings = Schemas['Settings'];
export type Finding = Schemas['Finding'];
export type ActionRecord = Schemas['ActionRecord'];
export type ActionDetail = Schemas['ActionDetail'];
export type ActionKind = Schemas['ActionKind'];
export type Account = Schemas['Account'];
export type Principal = Schemas['Principal'];
export type Problem = Schemas['Problem'];
export type CostSeries = Schemas['CostSeries'];

/** A request the server refused, with its problem details. */
export class ApiProblem extends Error {
  readonly status: number;
  readonly problem: Problem;
  /** Seconds to wait, from Retry-After (429). */
  readonly retryAfter: number | null;

  constructor(status: number, problem: Problem, retryAfter: number | null) {
    super(problem.detail);
    this.status = status;
    this.problem = problem;
    this.retryAfter = retryAfter;
  }

  /** The body field the server refused, when it names one. */
  get field(): string | null {
    return this.problem.field ?? null;
  }
}

/** Called when the server says the session is no longer valid. */
let onSignedOut: () => void = () => {};
export function whenSignedOut(handler: () => void): void {
  onSignedOut = handler;
}

const bearer: Middleware = {
  onRequest({ request }) {
    const token = session.token();
    if (token) request.headers.set('Authorization', `Bearer ${token}`);
    return request;
  },
};

// Answers are typed as JSON; a CSV export is asked for as a blob (`parseAs: 'blob'`).
export type Client = ReturnType<typeof createClient<paths, 'application/json'>>;

function clientFor(baseUrl: string): Client {
  const made = createClient<paths, 'application/json'>({ baseUrl });
  made.use(bearer);
  return made;
}

let client = clientFor('');

/** Points the client at `baseUrl` (empty: this origin). */
export function configure(baseUrl: string): void {
  client = clientFor(baseUrl);
}

export function api(): Client {
  return client;
}

/** Saves `blob` as the file `filename` (a CSV export), as a link the browser downloads. */
export function saveFile(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  link.click();
  URL.revokeObjectURL(url);
}

/** The answer of an openapi-fetch call, or its problem thrown. */
export async function ok<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (response.ok) return data as T;
  const problem = asProblem(error, response);
  if (response.status === 401) {
    session.clear();
    onSignedOut();
  }
  const retry = Number(response.headers.get('Retry-After'));
  throw new ApiProblem(response.status, problem, Number.isFinite(retry) && retry > 0 ? retry : null);
}

function asProblem(error: unknown, response: Response): Problem {
  if (error && typeof error === 'object' && 'detail' in error) return error as Problem;
  return {
    type: 'about:blank',
    title: response.statusText || 'Error',
    status: response.status,
    detail: typeof error === 'string' && error ? error : `HTTP ${response.status}`,
  };
}
