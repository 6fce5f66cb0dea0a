// #/admin/models: the data models (/cityhub/v1/models): built-in, the city's own and extended
// ones, enforced on the NGSI-LD API or not (switchable by model administrators); one model's
// schema as a table (and as JSON); and a pasted entity checked against it
// (POST /cityhub/v1/models/{type}/validate), each error on its own line.
import { api } from '../../api.js';
import { fill, h } from '../../dom.js';
import { fmtTime } from '../../format.js';
import { t, tv } from '../../i18n.js';
import { AdminPage, enc, field, head, jsonBlock, message, notAllowed, problemView, table } from './common.js';
import { parseJson, schemaRows } from './logic.js';

let remembered = ''; // the filter, kept while moving from one model to another

export class ModelsPage extends AdminPage {
  constructor(root, ctx, type = '') {
    super(root, ctx);
    this.models = null;
    this.error = null;
    this.filter = remembered;
    this.type = type;
    this.model = null;
    this.check = null; // {result} or {error}
  }

  async load() {
    if (!this.access.models) {
      notAllowed(this.root, fill);
      return;
    }
    this.render();
    try {
      this.models = await api('/cityhub/v1/models');
    } catch (err) {
      this.models = [];
      this.error = err;
    }
    if (this.type) await this.open(this.type, false);
    this.render();
  }

  render() {
    if (!this.access.models || this.stopped) return;
    const text = document.getElementById('model-entity')?.value;
    fill(this.root, ...head('admin.models.title'),
      h('p', { class: 'muted' }, t('admin.models.intro')),
      message(this.msg),
      h('div', { class: 'admin-grid models' },
        h('div', { class: 'col' }, this.listSection()),
        h('div', { class: 'col' }, this.modelSection())));
    const area = document.getElementById('model-entity');
    if (area && text !== undefined && this.keepText) area.value = text;
    this.keepText = true;
  }

  listSection() {
    return h('section', { class: 'card', 'aria-labelledby': 'models-title' },
      h('h2', { id: 'models-title' }, t('admin.models.list')),
      h('label', { class: 'field', for: 'models-filter' }, t('admin.models.filter'),
        h('input', {
          id: 'models-filter', type: 'search', value: this.filter, autocomplete: 'off', 'aria-controls': 'models-rows',
          oninput: (ev) => { // only the list changes: the field keeps its caret
            this.filter = ev.target.value;
            remembered = this.filter;
            fill(document.getElementById('models-rows'), this.rows());
          },
        })),
      this.models === null ? h('p', { class: 'muted' }, t('loading')) : null,
      this.error ? problemView(this.error) : null,
      h('div', { id: 'models-rows' }, this.rows()));
  }

  rows() {
    const needle = this.filter.toLowerCase();
    const shown = (this.models || []).filter((m) => !needle ||
      `${m.type} ${m.title || ''}`.toLowerCase().includes(needle));
    const rows = shown.map((m) => h('tr', { dataset: { type: m.type }, class: m.type === this.type ? 'current' : null },
      h('td', null, h('a', { href: `#/admin/models/${enc(m.type)}`, 'aria-current': m.type === this.type ? 'true' : null }, m.type)),
      h('td', null, m.title || ''),
      h('td', null, h('span', { class: ['tag', `origin-${m.origin}`] }, tv('admin.origin', m.origin))),
      h('td', null, this.access.modelsAdmin
        ? h('button', {
          type: 'button', id: `model-enforce-${m.type}`, class: ['toggle', m.enforce ? 'on' : 'off'], role: 'switch', 'aria-checked': String(Boolean(m.enforce)),
          'aria-label': t('admin.models.enforceLabel', { type: m.type }), onclick: () => this.enforce(m),
        }, m.enforce ? t('admin.models.enforced') : t('admin.models.notEnforced'))
        : h('span', { class: ['tag', m.enforce ? 'on' : 'off'] }, m.enforce ? t('admin.models.enforced') : t('admin.models.notEnforced')))));
    if (rows.length) return table('models', 'admin.models.list', ['admin.models.type', 'admin.models.titleCol', 'admin.models.origin', 'admin.models.enforce'], rows);
    return this.models ? h('p', { class: 'muted empty' }, t('admin.models.none')) : null;
  }

  async open(type, render = true) {
    this.type = type;
    this.check = null;
    this.keepText = false;
    try {
      this.model = await api(`/cityhub/v1/models/${enc(type)}`);
    } catch (err) {
      this.model = { type, error: err };
    }
    if (render) this.render();
  }

  enforce(m) {
    const next = !m.enforce;
    this.run(async () => {
      await api(`/cityhub/v1/models/${enc(m.type)}`, { method: 'PATCH', body: { enforce: next } });
      this.models = await api('/cityhub/v1/models');
      if (this.model?.type === m.type) this.model = { ...this.model, enforce: next };
    }, t(next ? 'admin.models.enforcedMsg' : 'admin.models.releasedMsg', { type: m.type }));
  }

  modelSection() {
    const m = this.model;
    if (!m) return h('section', { class: 'card' }, h('p', { class: 'muted' }, t('admin.models.pick')));
    if (m.error) return h('section', { class: 'card' }, h('h2', null, m.type), problemView(m.error));
    const rows = schemaRows(m.schema).map((r) => h('tr', { dataset: { attr: r.name } },
      h('td', null, h('code', null, r.name), r.required ? h('span', { class: 'tag req' }, t('admin.models.required')) : null),
      h('td', null, [r.type, r.format].filter(Boolean).join(' · ')),
      h('td', null, r.ngsi),
      h('td', null, r.unit),
      h('td', { class: 'num' }, r.range),
      h('td', { class: 'values' }, r.values),
      h('td', { class: 'desc' }, r.description)));
    const source = /^https?:\/\//.test(m.source || '') ? h('a', { href: m.source, rel: 'noreferrer noopener', target: '_blank' }, m.source) : m.source;
    return h('section', { class: 'card model', 'aria-labelledby': 'model-title', dataset: { type: m.type } },
      h('h2', { id: 'model-title', tabindex: '-1' }, m.type, m.title ? ` — ${m.title}` : ''),
      m.description ? h('p', null, m.description) : null,
      h('dl', { class: 'facts' },
        h('dt', null, t('admin.models.origin')), h('dd', null, tv('admin.origin', m.origin)),
        h('dt', null, t('admin.models.enforce')), h('dd', null, m.enforce ? t('admin.models.enforced') : t('admin.models.notEnforced')),
        source ? [h('dt', null, t('admin.models.source')), h('dd', null, source)] : null,
        m.updatedAt ? [h('dt', null, t('admin.models.updated')), h('dd', null, fmtTime(m.updatedAt))] : null),
      this.validateForm(m),
      h('h3', null, t('admin.models.schema')),
      rows.length
        ? table('schema', 'admin.models.schema',
          ['admin.models.attr', 'admin.models.jsonType', 'admin.models.ngsiType', 'admin.models.unit', 'admin.models.range', 'admin.models.values', 'admin.models.description'], rows)
        : null,
      h('details', null, h('summary', null, t('admin.models.schemaJson')), jsonBlock(m.schema)));
  }

  validateForm(m) {
    const example = JSON.stringify({ id: `urn:ngsi-ld:${m.type}:example-1`, type: m.type }, null, 2);
    const c = this.check;
    return h('form', { class: 'admin-form validate', onsubmit: (ev) => { ev.preventDefault(); this.validate(m.type); } },
      h('h3', null, t('admin.models.validate')),
      field('model-entity', 'admin.models.entity',
        h('textarea', { id: 'model-entity', rows: 8, spellcheck: 'false', class: 'code', 'aria-describedby': 'model-check' }, example)),
      h('button', { type: 'submit', class: 'primary', id: 'model-validate' }, t('admin.models.check')),
      h('div', { id: 'model-check', class: 'check', 'aria-live': 'polite' },
        c?.error ? problemView(c.error) : null,
        c?.result?.valid ? h('p', { class: 'ok valid' }, '✔ ', t('admin.models.valid', { type: m.type })) : null,
        c?.result && !c.result.valid
          ? [h('p', { class: 'error invalid' }, t('admin.models.invalid', { n: c.result.errors.length })),
            h('ul', { class: 'check-errors' }, c.result.errors.map((e) => h('li', null, e)))]
          : null));
  }

  async validate(type) {
    const parsed = parseJson(document.getElementById('model-entity')?.value);
    if (parsed.error) {
      this.check = { error: new Error(t('admin.jsonError', parsed)) };
    } else {
      try {
        this.check = { result: await api(`/cityhub/v1/models/${enc(type)}/validate`, { method: 'POST', body: parsed.value }) };
      } catch (err) {
        this.check = { error: err };
      }
    }
    this.render();
    document.getElementById('model-validate')?.focus();
  }
}
