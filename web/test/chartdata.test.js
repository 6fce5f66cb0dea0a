// node --test: the time-series charts' data (range → temporal query, answer → series, CSV).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chartHash, chartWindow, numericAttributes, parseChartHash, periodFor, seriesCsv, seriesOf, temporalPath } from '../src/chartdata.js';

test('the fragment round-trips, with ranges and custom windows', () => {
  const state = parseChartHash('#/charts?series=urn:ngsi-ld:A:1|pm10,urn:ngsi-ld:B:2|availableSpotNumber&range=7d');
  assert.deepEqual(state.series, [
    { entity: 'urn:ngsi-ld:A:1', attr: 'pm10' },
    { entity: 'urn:ngsi-ld:B:2', attr: 'availableSpotNumber' },
  ]);
  assert.equal(state.range, '7d');
  assert.deepEqual(parseChartHash(chartHash(state)), state);
  const custom = parseChartHash('#/charts?series=x|y&from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z');
  assert.equal(custom.range, 'custom');
  assert.deepEqual(chartWindow(custom), { from: Date.parse('2026-11-01T00:00:00Z'), to: Date.parse('2026-11-02T00:00:00Z') });
  assert.equal(parseChartHash('#/charts?range=nonsense').range, '24h');
  assert.equal(parseChartHash('#/charts?from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z').range, '24h');
  assert.deepEqual(chartWindow({ range: '1h' }, 7200e3), { from: 3600e3, to: 7200e3 });
});

test('short windows ask for every instance, long ones for aggregates', () => {
  assert.equal(periodFor(24 * 3600e3), null);
  assert.equal(periodFor(7 * 86400e3), 'PT1H');
  assert.equal(periodFor(30 * 86400e3), 'PT6H');
  assert.equal(periodFor(90 * 86400e3), 'P1D');
  const raw = new URL(temporalPath('urn:ngsi-ld:A:1', 'pm10', { from: 0, to: 3600e3 }), 'http://h');
  assert.equal(raw.pathname, '/ngsi-ld/v1/temporal/entities/urn%3Angsi-ld%3AA%3A1');
  assert.equal(raw.searchParams.get('options'), 'temporalValues');
  assert.equal(raw.searchParams.get('timeAt'), '1970-01-01T00:00:00.000Z');
  const agg = new URL(temporalPath('e', 'pm10', { from: 0, to: 7 * 86400e3 }), 'http://h');
  assert.equal(agg.searchParams.get('options'), 'aggregatedValues');
  assert.equal(agg.searchParams.get('aggrMethods'), 'avg,min,max');
  assert.equal(agg.searchParams.get('aggrPeriodDuration'), 'PT1H');
});

test('series out of temporalValues and aggregatedValues answers', () => {
  const raw = seriesOf({ pm10: { type: 'Property', values: [[31, '2026-11-30T02:00:00Z'], [30, '2026-11-30T01:00:00Z'], ['n/a', '2026-11-30T03:00:00Z']] } }, 'pm10');
  assert.deepEqual(raw.times, [Date.parse('2026-11-30T01:00:00Z') / 1000, Date.parse('2026-11-30T02:00:00Z') / 1000]);
  assert.deepEqual(raw.values, [30, 31]);
  assert.equal(raw.aggregated, false);
  const datasets = seriesOf({ t: [{ datasetId: 'urn:x', values: [[1, '2026-01-01T00:00:00Z']] }, { values: [[2, '2026-01-01T00:00:00Z']] }] }, 't');
  assert.deepEqual(datasets.values, [2]); // the default instance
  const agg = seriesOf({ pm10: { avg: [[31.5, '2026-11-30T02:00:00.000Z', 'x'], [30, '2026-11-30T00:00:00.000Z', 'x']], min: [[30, '2026-11-30T00:00:00.000Z', 'x'], [31, '2026-11-30T02:00:00.000Z', 'x']], max: [[30, '2026-11-30T00:00:00.000Z', 'x'], [32, '2026-11-30T02:00:00.000Z', 'x']] } }, 'pm10');
  assert.equal(agg.aggregated, true);
  assert.deepEqual(agg.values, [30, 31.5]);
  assert.deepEqual(agg.min, [30, 31]);
  assert.deepEqual(agg.max, [30, 32]);
  assert.deepEqual(seriesOf({}, 'pm10').times, []);
});

test('CSV of a series', () => {
  const csv = seriesCsv('urn:ngsi-ld:A:1', 'pm10', { times: [0, 3600], values: [30, -1], aggregated: false });
  assert.equal(csv, 'entityId,attribute,observedAt,value\r\nurn:ngsi-ld:A:1,pm10,1970-01-01T00:00:00.000Z,30\r\nurn:ngsi-ld:A:1,pm10,1970-01-01T01:00:00.000Z,-1\r\n');
  assert.equal(seriesCsv('a,"b"', 'c', { times: [0], values: [1], aggregated: false }).split('\r\n')[1], '"a,""b""",c,1970-01-01T00:00:00.000Z,1');
  const agg = seriesCsv('e', 'a', { times: [0], values: [1.5], min: [1], max: [2], aggregated: true });
  assert.equal(agg.split('\r\n')[0], 'entityId,attribute,periodStart,avg,min,max');
  assert.equal(agg.split('\r\n')[1], 'e,a,1970-01-01T00:00:00.000Z,1.5,1,2');
});

test('numeric attributes of an entity', () => {
  assert.deepEqual(numericAttributes({
    id: 'x', type: 'T', pm10: { type: 'Property', value: 3 }, name: { type: 'Property', value: 'n' },
    location: { type: 'GeoProperty', value: {} }, t: [{ type: 'Property', value: 1, datasetId: 'd' }],
  }), ['pm10', 't']);
});
