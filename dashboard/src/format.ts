/** How figures read on every page. */

const usd = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', maximumFractionDigits: 2 });
const usdWhole = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', maximumFractionDigits: 0 });

/** `$1,234.56`, or whole dollars from ten thousand up. */
export function money(value: number): string {
  return Math.abs(value) >= 10_000 ? usdWhole.format(value) : usd.format(value);
}

export function perHour(value: number): string {
  return `${money(value)}/h`;
}

export function perMonth(value: number): string {
  return `${money(value)}/mo`;
}

/** `2026-12-01 14:03 UTC`: one zone for everyone looking at the same anomaly. */
export function when(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** The readable end of an ARN: `user/temp-contractor` of `arn:aws:iam::1:user/temp-contractor`. */
export function actor(arn: string): string {
  const resource = arn.split(':').slice(5).join(':');
  return resource || arn;
}

/** `2 × p5.48xlarge`. */
export function what(quantity: number, type: string): string {
  return `${quantity} × ${type}`;
}

/** What an anomaly's resources amount to, in a few words: `ended · cost $355.02`,
 * `10 of 40 running · $32.77/h`, `4 running · $131.08/h`. */
export function lifeOf(a: {
  quantity: number;
  running_count: number;
  hourly_now_usd: number;
  actual_cost_usd?: number | null;
}): string {
  if (a.actual_cost_usd != null) return `ended · cost ${money(a.actual_cost_usd)}`;
  if (a.running_count === 0) return 'stopped';
  const of = a.running_count < a.quantity ? `${a.running_count} of ${a.quantity}` : `${a.running_count}`;
  return `${of} running · ${perHour(a.hourly_now_usd)}`;
}

/** A figure at what the tenant pays under `discountPercent`, and the list price beside when
 * there is a discount: `{ shown: '$80.00/h', list: '$100.00/h' }`. */
export function price(listUsd: number, unit: '' | '/h' | '/mo', discountPercent: number): { shown: string; list: string | null } {
  const listed = `${money(listUsd)}${unit}`;
  if (!discountPercent) return { shown: listed, list: null };
  return { shown: `${money(listUsd * (1 - discountPercent / 100))}${unit}`, list: listed };
}

/** The footer's word on the price catalog: `Prices as of 2025-06-01 (190 days old)`, and what to
 * do when it is stale. */
export function catalogAge(c: { as_of: string; age_days?: number | null; stale: boolean }): string {
  const age = c.age_days == null ? '' : ` (${c.age_days === 1 ? '1 day' : `${c.age_days} days`} old)`;
  const stale = c.stale ? ' — prices may have moved since: run dd0c-cost catalog update' : '';
  return `Prices as of ${c.as_of}${age}${stale}`;
}
