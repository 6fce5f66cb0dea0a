// #/admin/devices: the ingest gateway's service groups and devices (/iot/services,
// /iot/devices; the tenant in NGSILD-Tenant, every service path listed): paged lists, a
// device's details, adding a device from the small form or pasted JSON, adding a service group
// from JSON, removing either (press twice).
import { api } from '../../api.js';
import { fill, h } from '../../dom.js';
import { t } from '../../i18n.js';
import { AdminPage, enc, field, head, jsonBlock, message, notAllowed, pager, problemView, table, twice } from './common.js';
import { deviceFromForm, devicesFromJson, groupsFromJson, parseJson } from './logic.js';

const LIMIT = 20;

export class DevicesPage extends AdminPage {
  constructor(root, ctx) {
    super(root, ctx);
    this.groups = null;
    this.devices = null;
    this.groupOffset = 0;
    this.deviceOffset = 0;
    this.shown = null; // the device whose details are open
    this.addMode = 'form';
    this.addError = null;
    this.groupError = null;
  }

  async load() {
    if (!this.access.devices) {
      notAllowed(this.root, fill);
      return;
    }
    this.render();
    await Promise.all([this.loadGroups(), this.loadDevices()]);
    this.render();
  }

  async loadGroups() {
    try {
      this.groups = await api(`/iot/services?limit=${LIMIT}&offset=${this.groupOffset}`);
    } catch (err) {
      this.groups = { count: 0, services: [], error: err };
    }
  }

  async loadDevices() {
    try {
      this.devices = await api(`/iot/devices?limit=${LIMIT}&offset=${this.deviceOffset}`);
    } catch (err) {
      this.devices = { count: 0, devices: [], error: err };
    }
  }

  render() {
    if (!this.access.devices || this.stopped) return;
    fill(this.root, ...head('admin.devices.title'),
      h('p', { class: 'muted' }, t('admin.devices.intro'), ' ', h('a', { href: '#/admin/dead-letters' }, t('admin.deadLetters.title'))),
      message(this.msg),
      h('div', { class: 'admin-grid' },
        h('div', { class: 'col' }, this.devicesSection(), this.details()),
        h('div', { class: 'col' }, this.addSection(), this.groupsSection())));
  }

  devicesSection() {
    const found = this.devices;
    const rows = (found?.devices || []).map((d) => h('tr', { dataset: { device: d.device_id } },
      h('td', null, h('button', {
        type: 'button', class: 'linkish', 'aria-expanded': String(this.shown?.device_id === d.device_id),
        onclick: () => this.show(d.device_id),
      }, d.device_id)),
      h('td', null, h('code', null, d.entity_name || '')),
      h('td', null, d.entity_type || ''),
      h('td', null, d.apikey || ''),
      h('td', null, d.service_path || '/'),
      h('td', null, twice({ class: 'danger remove', 'aria-label': t('admin.devices.removeLabel', { id: d.device_id }) },
        t('admin.remove'), t('admin.confirmRemove'), () => this.remove(d.device_id)))));
    return h('section', { class: 'card', 'aria-labelledby': 'devices-title' },
      h('h2', { id: 'devices-title' }, t('admin.devices.list')),
      found === null ? h('p', { class: 'muted' }, t('loading')) : null,
      found?.error ? problemView(found.error) : null,
      rows.length
        ? [table('devices', 'admin.devices.list',
          ['admin.devices.id', 'admin.devices.entity', 'admin.devices.type', 'admin.devices.apikey', 'admin.devices.path', ''], rows),
        pager('devices', this.deviceOffset, LIMIT, found.count, (offset) => this.pageDevices(offset))]
        : found && !found.error ? h('p', { class: 'muted empty' }, t('admin.devices.none')) : null);
  }

  async pageDevices(offset) {
    this.deviceOffset = offset;
    await this.loadDevices();
    this.render();
    document.getElementById(offset > 0 ? 'devices-prev' : 'devices-next')?.focus();
  }

  async show(id) {
    if (this.shown?.device_id === id) {
      this.shown = null;
      this.render();
      return;
    }
    await this.run(async () => {
      this.shown = await api(`/iot/devices/${enc(id)}`);
    });
    document.getElementById('device-details-title')?.focus();
  }

  details() {
    const d = this.shown;
    if (!d) return null;
    const facts = [
      ['admin.devices.id', d.device_id], ['admin.devices.entity', d.entity_name], ['admin.devices.type', d.entity_type],
      ['admin.devices.apikey', d.apikey], ['admin.devices.path', d.service_path], ['admin.devices.protocol', d.protocol],
      ['admin.devices.transport', d.transport], ['admin.devices.timezone', d.timezone],
    ].filter(([, v]) => v !== undefined && v !== null && v !== '');
    const attrs = [...(d.attributes || []), ...(d.static_attributes || []).map((a) => ({ ...a, static: true }))];
    return h('section', { class: 'card device-details', 'aria-labelledby': 'device-details-title' },
      h('h2', { id: 'device-details-title', tabindex: '-1' }, t('admin.devices.details', { id: d.device_id })),
      h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', null, t(k)), h('dd', null, String(v))])),
      attrs.length
        ? table('device-attrs', 'admin.devices.attributes', ['admin.devices.objectId', 'admin.devices.attr', 'admin.devices.attrType', 'admin.devices.value'],
          attrs.map((a) => h('tr', null, h('td', null, a.object_id || ''), h('td', null, a.name || ''), h('td', null, a.type || ''),
            h('td', null, a.static ? JSON.stringify(a.value) : ''))))
        : null,
      h('details', null, h('summary', null, t('admin.json')), jsonBlock(d)),
      h('button', { type: 'button', onclick: () => { this.shown = null; this.render(); } }, t('admin.close')));
  }

  remove(id) {
    this.run(async () => {
      await api(`/iot/devices/${enc(id)}`, { method: 'DELETE' });
      if (this.shown?.device_id === id) this.shown = null;
      await this.loadDevices();
      if (!this.devices.devices.length && this.deviceOffset > 0) await this.pageDevices(Math.max(0, this.deviceOffset - LIMIT));
    }, t('admin.devices.removed', { id }));
  }

  addSection() {
    const form = this.addMode === 'form';
    const groups = this.groups?.services || [];
    const fields = form
      ? [
        field('dev-id', 'admin.devices.id', h('input', { id: 'dev-id', type: 'text', required: true, autocomplete: 'off', pattern: '[A-Za-z0-9_.:\\-]+' })),
        field('dev-apikey', 'admin.devices.apikey', h('input', { id: 'dev-apikey', type: 'text', autocomplete: 'off', list: 'dev-apikeys' }),
          h('datalist', { id: 'dev-apikeys' }, groups.map((g) => h('option', { value: g.apikey }, g.entity_type || '')))),
        field('dev-entity', 'admin.devices.entity', h('input', { id: 'dev-entity', type: 'text', autocomplete: 'off', placeholder: 'urn:ngsi-ld:AirQualityObserved:…' })),
        field('dev-type', 'admin.devices.type', h('input', { id: 'dev-type', type: 'text', autocomplete: 'off' })),
        field('dev-attrs', 'admin.devices.mapping', h('input', { id: 'dev-attrs', type: 'text', autocomplete: 'off', placeholder: 'p10=pm10:Number, loc=location:geo:point', 'aria-describedby': 'dev-attrs-hint' })),
        h('p', { class: 'hint', id: 'dev-attrs-hint' }, t('admin.devices.mappingHint')),
      ]
      : [
        field('dev-json', 'admin.devices.json', h('textarea', { id: 'dev-json', rows: 9, spellcheck: 'false', class: 'code', 'aria-describedby': 'dev-add-error' },
          '{"devices": [{"device_id": "", "apikey": "", "entity_name": ""}]}')),
      ];
    return h('section', { class: 'card', 'aria-labelledby': 'dev-add-title' },
      h('h2', { id: 'dev-add-title' }, t('admin.devices.add')),
      h('div', { class: 'tabs', role: 'group', 'aria-label': t('admin.devices.addHow') },
        h('button', { type: 'button', id: 'dev-mode-form', 'aria-pressed': String(form), onclick: () => this.mode('form') }, t('admin.devices.byForm')),
        h('button', { type: 'button', id: 'dev-mode-json', 'aria-pressed': String(!form), onclick: () => this.mode('json') }, t('admin.devices.byJson'))),
      h('form', { class: 'admin-form', id: 'dev-add', onsubmit: (ev) => { ev.preventDefault(); this.add(); } },
        fields,
        h('div', { id: 'dev-add-error' }, this.addError ? problemView(this.addError) : null),
        h('button', { type: 'submit', class: 'primary', id: 'dev-add-submit' }, t('admin.devices.addButton'))));
  }

  mode(next) {
    this.addMode = next;
    this.addError = null;
    this.render();
    document.getElementById(next === 'form' ? 'dev-id' : 'dev-json')?.focus();
  }

  async add() {
    let devices;
    if (this.addMode === 'form') {
      const value = (id) => document.getElementById(id)?.value || '';
      const made = deviceFromForm({
        deviceId: value('dev-id'), apikey: value('dev-apikey'), entityName: value('dev-entity'),
        entityType: value('dev-type'), attributes: value('dev-attrs'),
      });
      if (made.error) return this.refuse(new Error(t(`admin.devices.${made.error}`, { part: made.part || '' })));
      devices = [made.device];
    } else {
      const parsed = parseJson(document.getElementById('dev-json')?.value);
      if (parsed.error) return this.refuse(new Error(t('admin.jsonError', parsed)));
      devices = devicesFromJson(parsed.value);
      if (!devices?.length) return this.refuse(new Error(t('admin.devices.jsonShape')));
    }
    try {
      await api('/iot/devices', { method: 'POST', body: { devices } });
    } catch (err) {
      return this.refuse(err);
    }
    this.addError = null;
    this.say(t('admin.devices.added', { n: devices.length, ids: devices.map((d) => d.device_id).join(', ') }));
    await this.loadDevices();
    this.render();
    document.getElementById(this.addMode === 'form' ? 'dev-id' : 'dev-json')?.focus();
  }

  /** Show why the device was not added next to the form, keeping what was typed. */
  refuse(err) {
    const kept = [...this.root.querySelectorAll('#dev-add input, #dev-add textarea')].map((el) => [el.id, el.value]);
    this.addError = err;
    this.render();
    for (const [id, value] of kept) {
      const el = document.getElementById(id);
      if (el) el.value = value;
    }
    document.getElementById('dev-add-error')?.scrollIntoView({ block: 'nearest' });
  }

  groupsSection() {
    const found = this.groups;
    const rows = (found?.services || []).map((g) => h('tr', { dataset: { apikey: g.apikey } },
      h('td', null, h('code', null, g.apikey)),
      h('td', null, g.resource || ''),
      h('td', null, g.entity_type || ''),
      h('td', null, g.service_path || '/'),
      h('td', null, String((g.attributes || []).length)),
      h('td', null, twice({ class: 'danger remove', 'aria-label': t('admin.groups.removeLabel', { key: g.apikey }) },
        t('admin.remove'), t('admin.confirmRemove'), () => this.removeGroup(g)))));
    return h('section', { class: 'card', 'aria-labelledby': 'groups-title' },
      h('h2', { id: 'groups-title' }, t('admin.groups.title')),
      found === null ? h('p', { class: 'muted' }, t('loading')) : null,
      found?.error ? problemView(found.error) : null,
      rows.length
        ? [table('groups', 'admin.groups.title',
          ['admin.devices.apikey', 'admin.groups.resource', 'admin.devices.type', 'admin.devices.path', 'admin.groups.attrs', ''], rows),
        pager('groups', this.groupOffset, LIMIT, found.count, async (offset) => {
          this.groupOffset = offset;
          await this.loadGroups();
          this.render();
        })]
        : found && !found.error ? h('p', { class: 'muted empty' }, t('admin.groups.none')) : null,
      h('details', { class: 'group-add' },
        h('summary', null, t('admin.groups.add')),
        h('form', { class: 'admin-form', onsubmit: (ev) => { ev.preventDefault(); this.addGroup(); } },
          field('group-json', 'admin.groups.json', h('textarea', { id: 'group-json', rows: 7, spellcheck: 'false', class: 'code', 'aria-describedby': 'group-add-error' },
            '{"apikey": "", "entity_type": "", "attributes": []}')),
          h('div', { id: 'group-add-error' }, this.groupError ? problemView(this.groupError) : null),
          h('button', { type: 'submit', id: 'group-add-submit' }, t('admin.groups.addButton')))));
  }

  async addGroup() {
    const text = document.getElementById('group-json')?.value;
    const keep = () => {
      const el = document.getElementById('group-json');
      if (el) el.value = text;
      el?.closest('details')?.setAttribute('open', '');
    };
    const parsed = parseJson(text);
    const services = parsed.error ? null : groupsFromJson(parsed.value);
    if (!services?.length) {
      this.groupError = new Error(parsed.error ? t('admin.jsonError', parsed) : t('admin.groups.jsonShape'));
      this.render();
      keep();
      return;
    }
    try {
      await api('/iot/services', { method: 'POST', body: { services } });
    } catch (err) {
      this.groupError = err;
      this.render();
      keep();
      return;
    }
    this.groupError = null;
    this.say(t('admin.groups.added', { n: services.length }));
    await this.loadGroups();
    this.render();
  }

  removeGroup(g) {
    this.run(async () => {
      await api(`/iot/services?apikey=${enc(g.apikey)}&resource=${enc(g.resource || '/iot/json')}`, { method: 'DELETE' });
      await this.loadGroups();
    }, t('admin.groups.removed', { key: g.apikey }));
  }
}

