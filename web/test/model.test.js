// node --test: the dashboard's pure logic (no browser needed).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { filterEvents, grade, isNewCritical, sortEvents } from '../src/model.js';
import { cai, parkingLevel, subIndex, viewCone } from '../src/map/styles.js';

test('board order: most severe first, then longest open', () => {
  const events = [
    { id: 'a', severity: 'high', occurredAt: '2026-01-01T00:05:00Z' },
    { id: 'b', severity: 'critical', occurredAt: '2026-01-01T00:09:00Z' },
    { id: 'c', severity: 'high', occurredAt: '2026-01-01T00:01:00Z' },
    { id: 'd', severity: 'low', occurredAt: '2026-01-01T00:00:00Z' },
  ];
  assert.deepEqual(sortEvents(events).map((e) => e.id), ['b', 'c', 'a', 'd']);
  assert.deepEqual(sortEvents(events, 'newest').map((e) => e.id), ['b', 'a', 'c', 'd']);
});

test('filters and grades', () => {
  const events = [
    { id: '1', severity: 'critical', category: 'fire', status: 'occurred', eventName: '화재 감지' },
    { id: '2', severity: 'low', category: 'traffic', status: 'acknowledged', eventName: 'Jam' },
  ];
  assert.deepEqual(filterEvents(events, { severities: new Set(['critical']) }).map((e) => e.id), ['1']);
  assert.deepEqual(filterEvents(events, { category: 'traffic' }).map((e) => e.id), ['2']);
  assert.deepEqual(filterEvents(events, { text: '화재' }).map((e) => e.id), ['1']);
  assert.deepEqual(filterEvents(events, { status: 'acknowledged' }).map((e) => e.id), ['2']);
  assert.equal(grade('critical'), 1);
  assert.equal(grade('informational'), 5);
});

test('alert on a new critical event or an escalation, once', () => {
  const critical = { severity: 'critical', status: 'occurred' };
  assert.ok(isNewCritical(undefined, critical));
  assert.ok(isNewCritical({ severity: 'high', status: 'occurred' }, critical));
  assert.ok(!isNewCritical(critical, { ...critical, status: 'acknowledged' }));
  assert.ok(!isNewCritical(undefined, { severity: 'critical', status: 'cleared' }));
  assert.ok(!isNewCritical(undefined, { severity: 'high', status: 'occurred' }));
});

test('parking colour by free share', () => {
  assert.equal(parkingLevel(50, 100), 'plenty');
  assert.equal(parkingLevel(10, 100), 'few');
  assert.equal(parkingLevel(2, 100), 'full');
  assert.equal(parkingLevel(2, 0), 'unknown');
  assert.equal(parkingLevel(undefined, 100), 'unknown');
});

test('Korean CAI from pollutants (REFERENCE.md breakpoints)', () => {
  assert.equal(subIndex('pm10', 30), 50);
  assert.equal(subIndex('pm10', 80), 100);
  assert.equal(subIndex('pm10', 80.5), 100);
  assert.equal(subIndex('pm10', 150), 250);
  assert.equal(subIndex('pm25', 76), 251);
  assert.deepEqual(cai({ pm10: 20, pm25: 40 }), { cai: subIndex('pm25', 40), grade: 3 });
  assert.deepEqual(cai({ airQualityIndex: 42, pm10: 500 }), { cai: 42, grade: 1 });
  assert.deepEqual(cai({}), { cai: null, grade: null });
});

test('camera view cone points along the heading', () => {
  const ring = viewCone(127, 37.43, 90, 60, 100, 4);
  assert.deepEqual(ring[0], [37.43, 127]);
  const middle = ring[3]; // the bearing of the heading itself
  assert.ok(Math.abs(middle[0] - 37.43) < 1e-9 && middle[1] > 127);
  assert.equal(viewCone(127, 37.43, undefined, 60), null);
  assert.equal(viewCone(127, 37.43, 0, 360), null);
});
