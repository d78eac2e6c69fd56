/** Turning a refusal into what a person reads where it applies. */
import { ApiProblem } from './api/client';

/** The message for a failed call: a 403 explained, a 429 with its wait, else the detail. */
export function explain(error: unknown): string {
  if (error instanceof ApiProblem) {
    if (error.status === 403) return `Your role cannot do this (${error.problem.detail}). Ask an admin of your organization.`;
    if (error.status === 429) return `Too many attempts: try again in ${error.retryAfter ?? 'a few'} seconds.`;
    if (error.status === 503) return `The service is busy or a backend is down: ${error.problem.detail}`;
    return error.problem.detail;
  }
  return error instanceof Error ? error.message : String(error);
}

/**
 * The form field a refusal names (`thresholds.min_samples`, or `routing` for
 * `routing[1] "sandbox".channels`), when it names one of `fields`.
 */
export function fieldOf(error: unknown, fields: readonly string[]): string | null {
  if (!(error instanceof ApiProblem) || !error.field) return null;
  const field = error.field;
  return fields.find((f) => field === f || field.startsWith(`${f}.`) || field.startsWith(`${f}[`)) ?? null;
}
