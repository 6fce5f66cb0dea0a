// node --test: the map's layers: the levels of panels, crosswalks and parking violations, and
// every string a layer shows in both dictionaries.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { LAYERS, LAYER_BY_TYPE } from '../src/map/layers.js';
import {
  CROSSWALK_COLORS, CROSSWALK_MANY, GREY, PANEL_COLORS, crosswalkLevel, panelLevel, violationLevel,
  violationStanding,
} from '../src/map/styles.js';

const dictionary = (lang) => JSON.parse(readFileSync(new URL(`../src/i18n/${lang}.json`, import.meta.url)));

test('a distribution panel by its anomaly grade, danger drawn largest', () => {
  for (const grade of ['normal', 'caution', 'danger', 'recovering']) assert.equal(panelLevel(grade), grade);
  assert.equal(panelLevel(undefined), 'unknown');
  assert.equal(panelLevel('위험'), 'unknown');
  assert.equal(panelLevel('toString'), 'unknown'); // not a grade, whatever the object has
  const layer = LAYER_BY_TYPE.ElectricalPanel;
  const danger = layer.style({ anomalyGrade: 'danger' });
  assert.equal(danger.fillColor, PANEL_COLORS.danger);
  assert.equal(layer.style({}).fillColor, GREY);
  for (const grade of ['normal', 'caution', 'recovering']) {
    assert.ok(danger.radius > layer.style({ anomalyGrade: grade }).radius, grade);
  }
  assert.equal(layer.level({ anomalyGrade: 'caution' }), 'caution');
});

test('a crosswalk by the stop-line violations of its latest count', () => {
  assert.equal(CROSSWALK_MANY, 10); // the crosswalk-violations rule: stopLineViolations>=10
  assert.equal(crosswalkLevel(0), 'none');
  assert.equal(crosswalkLevel(1), 'some');
  assert.equal(crosswalkLevel(9), 'some');
  assert.equal(crosswalkLevel(10), 'many');
  assert.equal(crosswalkLevel(250), 'many');
  assert.equal(crosswalkLevel(undefined), 'unknown');
  assert.equal(crosswalkLevel('3'), 'unknown');
  assert.equal(crosswalkLevel(-1), 'unknown');
  assert.equal(crosswalkLevel(NaN), 'unknown');
  const layer = LAYER_BY_TYPE.CrosswalkObserved;
  assert.equal(layer.style({ stopLineViolations: 12 }).fillColor, CROSSWALK_COLORS.many);
  assert.equal(layer.style({ stopLineViolations: 0 }).fillColor, CROSSWALK_COLORS.none);
});

test('a parking violation stays on the map while the car stands there', () => {
  for (const status of [undefined, null, 'open', 'detected', 'confirmed', 'notified']) {
    assert.ok(violationStanding(status), String(status));
  }
  for (const status of ['cleared', 'towed', 'paid', 'cancelled']) assert.ok(!violationStanding(status), status);
  const layer = LAYER_BY_TYPE.ParkingViolation;
  assert.ok(layer.shows({ status: 'confirmed' }) && !layer.shows({ status: 'cleared' }));
  assert.match(layer.q, /!status\|status=="open","detected","confirmed","notified"/);
  assert.equal(violationLevel('hydrant'), 'fire');
  assert.equal(violationLevel('fireFacility'), 'fire');
  assert.equal(violationLevel('busStop'), 'other');
  assert.ok(!layer.attrs.includes('maskedPlate'));
});

test('elderly-alone households are not on the general map', () => {
  assert.equal(LAYER_BY_TYPE.CareHousehold, undefined);
});

test('every layer names, legends and labels its fields in Korean and English', () => {
  const keysOf = (layer) => [
    `layer.${layer.id}`,
    ...layer.legend.map(([, label]) => (Array.isArray(label) ? label[0] : label)),
    ...layer.fields.map((name) => `attr.${name}`),
    ...(layer.spark ? [`attr.${layer.spark}`] : []),
  ];
  for (const lang of ['ko', 'en']) {
    const strings = dictionary(lang);
    for (const layer of LAYERS) {
      for (const key of keysOf(layer)) assert.ok(key in strings, `${lang}: ${key} (${layer.id})`);
      for (const [, label] of layer.legend) {
        if (!Array.isArray(label)) continue;
        const [key, vars] = label; // a legend with a figure fills each of its placeholders
        for (const name of strings[key].match(/\{(\w+)\}/g) || []) assert.ok(name.slice(1, -1) in vars, `${lang}: ${key}`);
      }
    }
    for (const grade of ['normal', 'caution', 'danger', 'recovering']) assert.ok(`panel.${grade}` in strings);
    for (const status of ['open', 'detected', 'confirmed', 'notified', 'cleared']) {
      assert.ok(`violationStatus.${status}` in strings, `${lang}: violationStatus.${status}`);
    }
  }
});
