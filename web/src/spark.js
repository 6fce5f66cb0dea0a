// A sparkline: the recent values of one attribute as a small SVG line (no chart library).
import { s } from './dom.js';
import { num } from './format.js';

/** points: [[value, time], ...] oldest first. */
export function sparkline(points, { width = 220, height = 48, label = '' } = {}) {
  const values = points.map((p) => p[0]).filter((v) => typeof v === 'number');
  const svg = s('svg', {
    class: 'spark', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img',
    'aria-label': `${label} ${values.map((v) => num(v)).join(', ')}`,
  });
  if (values.length === 0) return svg;
  const min = Math.min(...values);
  const max = Math.max(...values);
  const span = max - min || 1;
  const pad = 4;
  const step = values.length > 1 ? (width - 2 * pad) / (values.length - 1) : 0;
  const xy = values.map((v, i) => [pad + i * step, height - pad - ((v - min) / span) * (height - 2 * pad)]);
  svg.append(
    s('polyline', { points: xy.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' '), class: 'spark-line' }),
    s('circle', { cx: xy.at(-1)[0].toFixed(1), cy: xy.at(-1)[1].toFixed(1), r: 3, class: 'spark-dot' }),
  );
  return svg;
}
