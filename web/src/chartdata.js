// Time-series charts' data: which history to ask the temporal API for over a range, the
// series out of its answer, and a series as CSV. Pure functions (tested by node --test).

export const RANGES = { '1h': 3600e3, '6h': 6 * 3600e3, '24h': 86400e3, '7d': 7 * 86400e3, '30d': 30 * 86400e3 };
const RAW_MAX_MS = 36 * 3600e3; // longer ranges are asked for as hourly (or coarser) aggregates

/** '#/charts?series=<id>|<attr>,...&range=24h' or '...&from=<iso>&to=<iso>' → the chart state. */
export function parseChartHash(hash) {
  const query = new URLSearchParams(hash.split('?')[1] || '');
  const series = (query.get('series') || '').split(',').filter(Boolean).map((item) => {
    const cut = item.lastIndexOf('|');
    return cut > 0 ? { entity: item.slice(0, cut), attr: item.slice(cut + 1) } : null;
  }).filter((s) => s && s.attr);
  const from = Date.parse(query.get('from') || '');
  const to = Date.parse(query.get('to') || '');
  if (Number.isFinite(from) && Number.isFinite(to) && from < to) return { series, range: 'custom', from, to };
  const range = RANGES[query.get('range')] ? query.get('range') : '24h';
  return { series, range, from: null, to: null };
}

/** The state as a '#/charts?...' fragment (the inverse of parseChartHash). */
export function chartHash({ series, range, from, to }) {
  const query = new URLSearchParams();
  if (series.length) query.set('series', series.map((s) => `${s.entity}|${s.attr}`).join(','));
  if (range === 'custom' && from !== null && to !== null) {
    query.set('from', new Date(from).toISOString());
    query.set('to', new Date(to).toISOString());
  } else {
    query.set('range', range);
  }
  return `#/charts?${query.toString()}`;
}

/** The time window [from, to] in ms of a state at ``now``. */
export function chartWindow(state, now = Date.now()) {
  if (state.range === 'custom') return { from: state.from, to: state.to };
  return { from: now - RANGES[state.range], to: now };
}

/** The aggregation period for a window: null (every instance) up to 36 h, then hours/days. */
export function periodFor(spanMs) {
  if (spanMs <= RAW_MAX_MS) return null;
  if (spanMs <= 8 * 86400e3) return 'PT1H';
  if (spanMs <= 40 * 86400e3) return 'PT6H';
  return 'P1D';
}

/** The temporal API path of one series over a window. */
export function temporalPath(entity, attr, { from, to }) {
  const params = new URLSearchParams({
    attrs: attr,
    timerel: 'between',
    timeAt: new Date(from).toISOString(),
    endTimeAt: new Date(to).toISOString(),
  });
  const period = periodFor(to - from);
  if (period) {
    params.set('options', 'aggregatedValues');
    params.set('aggrMethods', 'avg,min,max');
    params.set('aggrPeriodDuration', period);
  } else {
    params.set('options', 'temporalValues');
  }
  return `/ngsi-ld/v1/temporal/entities/${encodeURIComponent(entity)}?${params.toString()}`;
}

const number = (v) => (typeof v === 'number' ? v : typeof v === 'boolean' ? Number(v) : null);

/**
 * The points of ``attr`` in a temporal answer (temporalValues or aggregatedValues; the
 * default instance, else the first dataset): {times: [s], values: [..], min?, max?, aggregated}.
 * Times are seconds (uPlot's unit), sorted; non-numeric values are left out.
 */
export function seriesOf(body, attr) {
  let found = body?.[attr];
  if (Array.isArray(found)) found = found.find((d) => !d.datasetId) || found[0];
  const out = { times: [], values: [], min: null, max: null, aggregated: false };
  if (!found || typeof found !== 'object') return out;
  if (Array.isArray(found.values)) {
    const rows = found.values
      .map(([v, at]) => [Date.parse(at) / 1000, number(v)])
      .filter(([at, v]) => Number.isFinite(at) && v !== null)
      .sort((a, b) => a[0] - b[0]);
    out.times = rows.map((r) => r[0]);
    out.values = rows.map((r) => r[1]);
    return out;
  }
  if (Array.isArray(found.avg)) {
    out.aggregated = true;
    const at = (rows) => new Map((rows || []).map(([v, start]) => [Date.parse(start) / 1000, number(v)]));
    const avg = at(found.avg);
    const min = at(found.min);
    const max = at(found.max);
    out.times = [...avg.keys()].filter(Number.isFinite).sort((a, b) => a - b);
    out.values = out.times.map((t) => avg.get(t));
    out.min = out.times.map((t) => min.get(t) ?? null);
    out.max = out.times.map((t) => max.get(t) ?? null);
  }
  return out;
}

const cell = (v) => {
  const text = v === null || v === undefined ? '' : String(v);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};

/** One series as CSV: a header naming the entity and attribute, then time (UTC ISO) and values. */
export function seriesCsv(entity, attr, series) {
  const head = series.aggregated
    ? ['entityId', 'attribute', 'periodStart', 'avg', 'min', 'max']
    : ['entityId', 'attribute', 'observedAt', 'value'];
  const rows = series.times.map((t, i) => [
    entity, attr, new Date(t * 1000).toISOString(),
    series.values[i], ...(series.aggregated ? [series.min[i], series.max[i]] : []),
  ]);
  return [head, ...rows].map((r) => r.map(cell).join(',')).join('\r\n') + '\r\n';
}

/** The numeric attributes of an entity (normalized or concise form), to chart. */
export function numericAttributes(entity) {
  return Object.entries(entity || {})
    .filter(([name, a]) => !['id', 'type', '@context', 'location'].includes(name)
      && a && typeof a === 'object' && typeof (Array.isArray(a) ? a[0]?.value : a.value) === 'number')
    .map(([name]) => name)
    .sort();
}
