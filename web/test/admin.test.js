// node --test: the admin pages' pure logic (who may use which page, JSON typed by hand,
// paging, the device form, rules as sent back, schemas as rows, grants).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  adminAccess, devicesFromJson, deviceFromForm, dryRunRows, grantLabel, grantsFor, jsonErrorOffset, lineColumn, pageInfo,
  parseJson, permissionsIn, ruleBody, ruleText, schemaRows, userProblem, withGrant, withoutGrant,
} from '../src/views/admin/logic.js';

const ALL = ['audit:read', 'events:read', 'events:write', 'iot:admin', 'models:admin', 'models:read',
  'subscriptions:read', 'subscriptions:write', 'users:admin'];
const me = (access) => ({ name: 'x', access });

test('who may use which admin page', () => {
  const admin = adminAccess(me({ '*': { permissions: ALL } }));
  assert.equal(admin.any && admin.devices && admin.rulesWrite && admin.models && admin.modelsAdmin && admin.users, true);
  const supervisor = adminAccess(me({ '(default)': { permissions: ['iot:admin', 'events:read', 'events:write', 'models:read', 'subscriptions:read'] } }));
  assert.equal(supervisor.any, true);
  assert.equal(supervisor.devices && supervisor.deadLetters && supervisor.rulesWrite && supervisor.models, true);
  assert.equal(supervisor.users || supervisor.modelsAdmin || supervisor.notificationsWrite, false);
  // an operator may write events but holds no administrative permission: no admin pages
  const operator = adminAccess(me({ '(default)': { permissions: ['events:read', 'events:write', 'models:read', 'subscriptions:read'] } }));
  assert.deepEqual(Object.values(operator).filter(Boolean), []);
  // users:admin counts only for every tenant
  const district = adminAccess(me({ gwacheon: { permissions: ALL } }), 'gwacheon');
  assert.equal(district.users, false);
  assert.equal(district.devices, true);
  assert.equal(adminAccess(me({ gwacheon: { permissions: ALL } })).devices, false); // another tenant
  assert.equal(adminAccess(null).any, false);
  assert.deepEqual([...permissionsIn(me({ '*': { permissions: ['a'] }, seoul: { permissions: ['b'] } }), 'seoul')].sort(), ['a', 'b']);
});

test('typed JSON: the value, or where it breaks', () => {
  assert.deepEqual(parseJson(' {"a": [1, 2]} '), { value: { a: [1, 2] } });
  const broken = parseJson('{\n  "id": "x",\n  "kind: "threshold"\n}');
  assert.ok(broken.error);
  assert.equal(broken.line, 3);
  assert.equal(broken.column, 11); // the "t" after the run-away key
  for (const [text, at] of [['{"a": 1,}', 8], ['[1, 2', 5], ['{"a" 1}', 5], ['tru', 0], ['{"a": "\\n"} x', 12], ['"a\nb"', 2]]) {
    assert.equal(jsonErrorOffset(text), at, text);
  }
  for (const text of ['{"a": [1, -2.5e3, true, false, null, "x\\"y", {}]}', ' [] ', '"\\u00e9"']) {
    assert.equal(jsonErrorOffset(text), null, text);
    JSON.parse(text);
  }
  assert.equal(parseJson('   ').error, 'empty');
  assert.deepEqual(lineColumn('ab\ncd\nef', 4), { line: 2, column: 2 });
  assert.deepEqual(lineColumn('abc', 0), { line: 1, column: 1 });
});

test('paging', () => {
  assert.deepEqual(pageInfo(0, 20, 57), { first: 1, last: 20, total: 57, prev: null, next: 20 });
  assert.deepEqual(pageInfo(40, 20, 57), { first: 41, last: 57, total: 57, prev: 20, next: null });
  assert.deepEqual(pageInfo(0, 20, 0), { first: 0, last: 0, total: 0, prev: null, next: null });
  assert.equal(pageInfo(10, 20, 57).prev, 0);
});

test('a device from the small form, and devices from pasted JSON', () => {
  assert.deepEqual(deviceFromForm({ deviceId: ' aq-031 ', apikey: 'air', entityName: '', attributes: 'p10=pm10, loc=location:geo:point' }), {
    device: {
      device_id: 'aq-031', apikey: 'air',
      attributes: [{ object_id: 'p10', name: 'pm10', type: 'Number' }, { object_id: 'loc', name: 'location', type: 'geo:point' }],
    },
  });
  assert.deepEqual(deviceFromForm({ deviceId: '' }), { error: 'deviceId.required' });
  assert.deepEqual(deviceFromForm({ deviceId: 'aq 031' }), { error: 'deviceId.invalid' });
  assert.deepEqual(deviceFromForm({ deviceId: 'a', attributes: 'p10' }), { error: 'attributes.invalid', part: 'p10' });
  assert.deepEqual(devicesFromJson({ devices: [{ device_id: 'a' }] }), [{ device_id: 'a' }]);
  assert.deepEqual(devicesFromJson([{ device_id: 'a' }]), [{ device_id: 'a' }]);
  assert.deepEqual(devicesFromJson({ device_id: 'a' }), [{ device_id: 'a' }]);
  assert.equal(devicesFromJson('a'), null);
});

test('a rule as sent back, and as shown in its editor', () => {
  const stored = { q: 'pm25>=75', id: 'r', kind: 'threshold', createdAt: 't', modifiedAt: 't', state: { active: [] } };
  assert.deepEqual(ruleBody(stored), { q: 'pm25>=75', id: 'r', kind: 'threshold' });
  assert.deepEqual(Object.keys(JSON.parse(ruleText(stored))), ['id', 'kind', 'q']);
});

test('the dry run as rows', () => {
  const rows = dryRunRows({ rule: 'r', events: [
    { at: '1', action: 'raise', entityId: 'urn:a', eventCode: 'E1', since: '0' },
    { at: '2', action: 'clear', dedupeKey: 'rule:r:urn:a', reason: 'pm10<50 at 2' },
    { at: '3', action: 'raise', dedupeKey: 'rule:r', change: 0.51 },
  ] });
  assert.deepEqual(rows.map((r) => [r.action, r.entity, r.code, r.since, r.detail]), [
    ['raise', 'urn:a', 'E1', '0', ''], ['clear', 'urn:a', '', '', 'pm10<50 at 2'], ['raise', '', '', '', '0.51'],
  ]);
  assert.deepEqual(dryRunRows(null), []);
});

test('a schema as rows', () => {
  const rows = schemaRows({
    required: ['id'],
    properties: {
      id: { type: 'string', format: 'uri' },
      pm10: { type: 'number', minimum: 0, maximum: 5000, 'x-ngsi': { type: 'Property', unitCode: 'GQ' } },
      status: { anyOf: [{ type: 'string', enum: ['ok', 'fault'] }, { type: 'null' }] },
    },
  });
  assert.deepEqual(rows.map((r) => [r.name, r.type, r.required, r.unit, r.range, r.values, r.format]), [
    ['id', 'string', true, '', '', '', 'uri'],
    ['pm10', 'number', false, 'GQ', '0–5000', '', ''],
    ['status', 'string | null', false, '', '', 'ok, fault', ''],
  ]);
  assert.deepEqual(schemaRows(undefined), []);
});

test('grants and new users', () => {
  assert.equal(grantLabel({ role: 'operator', tenant: '' }), 'operator@(default)');
  assert.equal(grantLabel({ role: 'provider', tenant: 'gwacheon', types: ['ParkingSpot'] }), 'provider@gwacheon[ParkingSpot]');
  assert.deepEqual(grantsFor(['operator', 'operator', 'auditor'], ' * '), [{ role: 'operator', tenant: '*' }, { role: 'auditor', tenant: '*' }]);
  const grants = [{ role: 'operator', tenant: '' }];
  assert.equal(withGrant(grants, { role: 'operator', tenant: '' }).length, 1);
  assert.equal(withGrant(grants, { role: 'operator', tenant: 'seoul' }).length, 2);
  assert.deepEqual(withoutGrant(grants, 0), []);
  assert.equal(userProblem({ name: 'kim', password: 'long-enough-pw', roles: ['operator'] }), null);
  assert.equal(userProblem({ name: '-kim', roles: ['operator'] }), 'user.badName');
  assert.equal(userProblem({ name: 'kim', password: 'short', roles: ['operator'] }), 'user.shortPassword');
  assert.equal(userProblem({ name: 'kim', password: '', roles: [] }), 'user.needRole');
});
