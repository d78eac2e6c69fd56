/**
 * New spend as stacked daily bars: `/v1/costs` series folded into one stack per bucket, by
 * account or by resource kind. Drawn as plain SVG (components/StackedBars.tsx): a chart
 * library would weigh more than the rest of the app for one kind of chart.
 */
import type { CostSeries } from './api/client';

export type StackBy = 'account' | 'kind';

export interface Stack {
  /** The bucket's start (ISO). */
  at: string;
  /** $/h created in it, per group. */
  parts: Record<string, number>;
  total: number;
}

export interface Stacks {
  groups: string[];
  stacks: Stack[];
  /** The tallest stack. */
  max: number;
}

/** Each bucket of `series` between `from` and `to` (days), its $/h per group of `by`. */
export function stack(series: CostSeries, by: StackBy, days: number): Stacks {
  const to = new Date(series.to);
  const buckets: string[] = [];
  for (let i = days - 1; i >= 0; i--) {
    const d = new Date(Date.UTC(to.getUTCFullYear(), to.getUTCMonth(), to.getUTCDate() - i));
    buckets.push(d.toISOString().slice(0, 10));
  }
  const index = new Map(buckets.map((b, i) => [b, i]));
  const stacks: Stack[] = buckets.map((at) => ({ at, parts: {}, total: 0 }));
  const totals = new Map<string, number>();
  for (const line of series.series) {
    const group = by === 'account' ? line.account_id : line.resource_kind;
    for (const point of line.points) {
      const i = index.get(point.at.slice(0, 10));
      if (i === undefined) continue;
      const s = stacks[i];
      s.parts[group] = (s.parts[group] ?? 0) + point.hourly_usd;
      s.total += point.hourly_usd;
      totals.set(group, (totals.get(group) ?? 0) + point.hourly_usd);
    }
  }
  const groups = [...totals.entries()].sort((a, b) => b[1] - a[1]).map(([g]) => g);
  return { groups, stacks, max: Math.max(0, ...stacks.map((s) => s.total)) };
}
