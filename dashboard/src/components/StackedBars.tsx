/** New spend per day as stacked SVG bars, with a legend and a table for screen readers. */
import { stack, type StackBy } from '../chart';
import type { CostSeries } from '../api/client';
import { perHour } from '../format';

const COLOURS = ['#2563eb', '#f97316', '#16a34a', '#9333ea', '#dc2626', '#0891b2', '#ca8a04', '#64748b'];
const WIDTH = 720;
const HEIGHT = 200;
/** Room under the bars for the days, and above them for the scale. */
const AXIS = 16;

export function StackedBars({ series, by, days }: { series: CostSeries; by: StackBy; days: number }) {
  const { groups, stacks, max } = stack(series, by, days);
  const colour = (g: string) => COLOURS[groups.indexOf(g) % COLOURS.length];
  const band = WIDTH / Math.max(1, stacks.length);
  const base = HEIGHT - AXIS;
  const scale = max > 0 ? (base - AXIS) / max : 0;
  // Every day's label fits up to two weeks; a month labels every fifth day.
  const every = stacks.length > 14 ? 5 : 1;
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={`New spend per day by ${by === 'account' ? 'account' : 'resource kind'}`}>
        {max > 0 && (
          <text x={2} y={AXIS - 4} className="axis">
            {perHour(max)} at most
          </text>
        )}
        <line x1={0} x2={WIDTH} y1={base} y2={base} className="baseline" />
        {stacks.map((s, i) => {
          let y = base;
          return (
            <g key={s.at}>
              <title>{`${s.at}: ${perHour(s.total)}`}</title>
              {groups
                .filter((g) => s.parts[g])
                .map((g) => {
                  const h = s.parts[g] * scale;
                  y -= h;
                  return <rect key={g} x={i * band + 2} y={y} width={Math.max(1, band - 4)} height={h} fill={colour(g)} />;
                })}
              {(stacks.length - 1 - i) % every === 0 && (
                <text x={i * band + band / 2} y={HEIGHT - 3} className="axis" textAnchor="middle">
                  {s.at.slice(5)}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <figcaption>
        {groups.length === 0 ? (
          'No resources created in this range.'
        ) : (
          <ul className="legend">
            {groups.map((g) => (
              <li key={g}>
                <span className="swatch" style={{ background: colour(g) }} />
                {g}
              </li>
            ))}
          </ul>
        )}
      </figcaption>
      <table className="visually-hidden">
        <caption>New spend per day</caption>
        <thead>
          <tr>
            <th scope="col">Day</th>
            <th scope="col">$/h created</th>
          </tr>
        </thead>
        <tbody>
          {stacks.map((s) => (
            <tr key={s.at}>
              <td>{s.at}</td>
              <td>{perHour(s.total)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
