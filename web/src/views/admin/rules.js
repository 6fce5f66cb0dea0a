// #/admin/rules: the tenant's situation rules (/cityhub/v1/rules): their kind, whether they
// are on and what they hold now; switching one on and off; editing or creating one as JSON
// with the hub's refusal shown next to the text; deleting (press twice); and the dry run
// (POST /cityhub/v1/rules/{id}/dry-run): what the rule, as stored or as typed, would have
// raised and cleared over the recorded history.
import { api } from '../../api.js';
import { fill, h } from '../../dom.js';
import { fmtTime } from '../../format.js';
import { t, tv } from '../../i18n.js';
import { AdminPage, enc, field, head, message, notAllowed, problemView, table, twice } from './common.js';
import { dryRunRows, isEnabled, localToIso, parseJson, ruleBody, ruleText } from './logic.js';

const TEMPLATE = {
  id: '', name: '', kind: 'threshold', entityType: 'AirQualityObserved', q: 'pm25>=75', for: 'PT2H', clear: 'pm25<35',
  event: { eventCode: 'ENV0025', eventName: '', severity: 'high', category: 'environment' },
};

export class RulesPage extends AdminPage {
  constructor(root, ctx) {
    super(root, ctx);
    this.rules = null;
    this.error = null;
    this.editing = null; // {id (null: a new rule), text, state}
    this.editError = null;
    this.dry = null; // {id, result, error}
  }

  async load() {
    if (!this.access.rules) {
      notAllowed(this.root, fill);
      return;
    }
    this.render();
    await this.reload();
    this.render();
  }

  async reload() {
    try {
      this.rules = await api('/cityhub/v1/rules');
      this.error = null;
    } catch (err) {
      this.rules = [];
      this.error = err;
    }
  }

  render() {
    if (!this.access.rules || this.stopped) return;
    // what was typed survives a re-render (not a rule just loaded into the editor)
    const text = document.getElementById('rule-json')?.value;
    if (this.editing && !this.editing.fresh && text !== undefined) this.editing.text = text;
    if (this.editing) this.editing.fresh = false;
    const write = this.access.rulesWrite;
    fill(this.root, ...head('admin.rules.title'),
      h('p', { class: 'muted' }, t('admin.rules.intro')),
      message(this.msg),
      h('section', { class: 'card', 'aria-labelledby': 'rules-list-title' },
        h('div', { class: 'card-head' },
          h('h2', { id: 'rules-list-title' }, t('admin.rules.list')),
          write ? h('button', { type: 'button', id: 'rule-new', onclick: () => this.edit(null) }, '+ ', t('admin.rules.new')) : null),
        this.rules === null ? h('p', { class: 'muted' }, t('loading')) : null,
        this.error ? problemView(this.error) : null,
        this.rules?.length ? this.list(write) : this.rules ? h('p', { class: 'muted empty' }, t('admin.rules.none')) : null),
      h('div', { class: 'admin-grid' },
        h('div', { class: 'col' }, this.editor()),
        h('div', { class: 'col' }, this.dryRun())));
  }

  list(write) {
    const rows = this.rules.map((r) => {
      const on = isEnabled(r);
      return h('tr', { dataset: { rule: r.id, enabled: String(on) }, class: on ? null : 'off' },
        h('td', null, h('code', null, r.id)),
        h('td', null, r.name || r.event?.eventName || ''),
        h('td', null, tv('admin.kind', r.kind)),
        h('td', null, r.entityType || (r.all || r.any || r.not ? t('admin.rules.composite') : '')),
        h('td', null, write
          ? h('button', {
            type: 'button', id: `rule-toggle-${r.id}`, class: ['toggle', on ? 'on' : 'off'], role: 'switch', 'aria-checked': String(on),
            'aria-label': t('admin.rules.toggleLabel', { id: r.id }), onclick: () => this.toggle(r),
          }, on ? t('admin.on') : t('admin.off'))
          : h('span', { class: ['tag', on ? 'on' : 'off'] }, on ? t('admin.on') : t('admin.off'))),
        h('td', null, h('time', { datetime: r.modifiedAt }, fmtTime(r.modifiedAt))),
        h('td', { class: 'actions' },
          h('button', { type: 'button', class: 'edit', 'aria-label': t('admin.rules.editLabel', { id: r.id }), onclick: () => this.edit(r.id) }, write ? t('admin.edit') : t('admin.show')),
          h('button', { type: 'button', class: 'dry', 'aria-label': t('admin.rules.dryLabel', { id: r.id }), onclick: () => this.openDry(r.id) }, t('admin.rules.dryRun')),
          write
            ? twice({ class: 'danger delete', 'aria-label': t('admin.rules.deleteLabel', { id: r.id }) }, t('admin.delete'), t('admin.confirmDelete'), () => this.remove(r.id))
            : null));
    });
    return table('rules', 'admin.rules.list',
      ['admin.rules.id', 'admin.rules.name', 'admin.rules.kind', 'admin.rules.entityType', 'admin.rules.enabled', 'admin.rules.modified', ''], rows);
  }

  toggle(rule) {
    const on = !isEnabled(rule);
    this.run(async () => {
      await api(`/cityhub/v1/rules/${enc(rule.id)}`, { method: 'PUT', body: { ...ruleBody(rule), enabled: on } });
      await this.reload();
    }, t(on ? 'admin.rules.enabledMsg' : 'admin.rules.disabledMsg', { id: rule.id }));
  }

  async edit(id) {
    this.editError = null;
    if (id === null) {
      this.editing = { id: null, text: ruleText(TEMPLATE), state: null, fresh: true };
    } else {
      try {
        const rule = await api(`/cityhub/v1/rules/${enc(id)}`);
        this.editing = { id, text: ruleText(rule), state: rule.state || null, fresh: true };
      } catch (err) {
        this.say(err.message, true);
      }
    }
    this.render();
    document.getElementById('rule-json')?.focus();
  }

  editor() {
    const e = this.editing;
    if (!e) return null;
    const write = this.access.rulesWrite;
    return h('section', { class: 'card rule-editor', 'aria-labelledby': 'rule-edit-title' },
      h('h2', { id: 'rule-edit-title' }, e.id ? t('admin.rules.editing', { id: e.id }) : t('admin.rules.new')),
      e.state ? this.stateView(e.state) : null,
      h('form', { class: 'admin-form', onsubmit: (ev) => { ev.preventDefault(); this.save(); } },
        field('rule-json', 'admin.rules.json',
          h('textarea', {
            id: 'rule-json', rows: 18, spellcheck: 'false', class: ['code', this.editError && 'invalid'], readonly: !write,
            'aria-invalid': this.editError ? 'true' : null, 'aria-describedby': 'rule-error rule-json-hint',
          }, e.text)),
        h('p', { class: 'hint', id: 'rule-json-hint' }, t('admin.rules.jsonHint')),
        h('div', { id: 'rule-error', class: 'rule-error' }, this.editError ? problemView(this.editError) : null),
        h('div', { class: 'buttons' },
          write ? h('button', { type: 'submit', class: 'primary', id: 'rule-save' }, e.id ? t('admin.save') : t('admin.rules.create')) : null,
          h('button', { type: 'button', id: 'rule-try', onclick: () => this.runDry(e.id, true) }, t('admin.rules.dryTyped')),
          h('button', { type: 'button', onclick: () => { this.editing = null; this.editError = null; this.render(); } }, t('admin.close')))));
  }

  stateView(state) {
    const active = state.active || [];
    const pending = state.pending || [];
    const item = (x) => h('li', null, h('code', null, x.entityId || x.entity || x.key || JSON.stringify(x)),
      x.since ? [' ', t('admin.rules.since', { time: fmtTime(x.since) })] : null,
      x.due ? [' ', t('admin.rules.due', { time: fmtTime(x.due) })] : null);
    return h('div', { class: 'rule-state' },
      h('p', null, t('admin.rules.state', { active: active.length, pending: pending.length })),
      active.length ? h('ul', { class: 'active' }, active.slice(0, 20).map(item)) : null,
      pending.length ? h('ul', { class: 'pending' }, pending.slice(0, 20).map(item)) : null);
  }

  /** The typed rule, or null after showing where the JSON breaks. */
  typed() {
    const parsed = parseJson(document.getElementById('rule-json')?.value);
    if (parsed.error) {
      this.editError = new Error(t('admin.jsonError', parsed));
      this.render();
      this.selectAt(parsed.line, parsed.column);
      return null;
    }
    return parsed.value;
  }

  /** Put the caret where the JSON breaks. */
  selectAt(line, column) {
    const area = document.getElementById('rule-json');
    if (!area) return;
    const lines = area.value.split('\n');
    const at = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0) + column - 1;
    area.focus();
    area.setSelectionRange(at, Math.min(area.value.length, at + 1));
  }

  async save() {
    const rule = this.typed();
    if (!rule) return;
    const id = this.editing.id;
    try {
      if (id) await api(`/cityhub/v1/rules/${enc(id)}`, { method: 'PUT', body: ruleBody(rule) });
      else await api('/cityhub/v1/rules', { method: 'POST', body: ruleBody(rule) });
    } catch (err) {
      this.editError = err;
      this.render();
      document.getElementById('rule-json')?.focus();
      return;
    }
    this.editError = null;
    this.say(t(id ? 'admin.rules.saved' : 'admin.rules.created', { id: id || rule.id }));
    await this.reload();
    const saved = id || rule.id;
    await this.edit(saved);
  }

  remove(id) {
    this.run(async () => {
      await api(`/cityhub/v1/rules/${enc(id)}`, { method: 'DELETE' });
      if (this.editing?.id === id) this.editing = null;
      if (this.dry?.id === id) this.dry = null;
      await this.reload();
    }, t('admin.rules.deleted', { id }));
  }

  openDry(id) {
    this.dry = { id, result: null, error: null };
    this.render();
    document.getElementById('dry-from')?.focus();
  }

  dryRun() {
    const d = this.dry;
    if (!d) return null;
    // empty fields: the hub's default, the last 24 hours up to the moment of the run
    const from = d.from ?? '';
    const to = d.to ?? '';
    const rows = d.result ? dryRunRows(d.result) : [];
    return h('section', { class: 'card dry-run', 'aria-labelledby': 'dry-title', dataset: { rule: d.id || '' } },
      h('h2', { id: 'dry-title' }, t('admin.rules.dryTitle', { id: d.id || t('admin.rules.typed') })),
      h('p', { class: 'muted' }, t('admin.rules.dryIntro')),
      h('form', { class: 'row', onsubmit: (ev) => { ev.preventDefault(); this.runDry(d.id, d.typed); } },
        field('dry-from', 'admin.rules.from', h('input', { id: 'dry-from', type: 'datetime-local', value: from })),
        field('dry-to', 'admin.rules.to', h('input', { id: 'dry-to', type: 'datetime-local', value: to })),
        h('button', { type: 'submit', class: 'primary', id: 'dry-run' }, t('admin.rules.dryRun'))),
      d.busy ? h('p', { class: 'muted' }, t('admin.rules.dryBusy')) : null,
      d.error ? problemView(d.error) : null,
      d.result
        ? h('div', { class: 'dry-result', role: 'status' },
          h('p', { class: 'dry-summary' }, t('admin.rules.drySummary', {
            changes: d.result.changes, raised: rows.filter((r) => r.action === 'raise').length,
            cleared: rows.filter((r) => r.action === 'clear').length, from: fmtTime(d.result.from), to: fmtTime(d.result.to),
          })),
          rows.length
            ? table('dry-events', 'admin.rules.dryTitle',
              ['admin.deadLetters.at', 'admin.rules.action', 'admin.rules.entity', 'admin.rules.code', 'admin.rules.detail'],
              rows.map((r) => h('tr', { dataset: { action: r.action } },
                h('td', null, h('time', { datetime: r.at }, fmtTime(r.at))),
                h('td', null, h('span', { class: ['tag', `act-${r.action}`] }, tv('admin.action', r.action))),
                h('td', null, h('code', null, r.entity)),
                h('td', null, r.code),
                h('td', null, r.since ? t('admin.rules.since', { time: fmtTime(r.since) }) : null, r.since && r.detail ? ' ' : null, r.detail))))
            : h('p', { class: 'muted empty' }, t('admin.rules.dryNothing')))
        : null);
  }

  /** Dry-run the stored rule, or (typed) the rule in the editor, over the chosen period. */
  async runDry(id, typed = false) {
    let body;
    if (typed) {
      body = this.typed();
      if (!body) return;
      body = ruleBody(body);
      id = id || body.id;
      if (!id) {
        this.editError = new Error(t('admin.rules.needId'));
        this.render();
        return;
      }
    }
    const from = localToIso(document.getElementById('dry-from')?.value);
    const to = localToIso(document.getElementById('dry-to')?.value);
    const prev = this.dry?.id === id ? this.dry : {};
    this.dry = {
      id, typed, busy: true, result: null, error: null,
      from: document.getElementById('dry-from')?.value ?? prev.from, to: document.getElementById('dry-to')?.value ?? prev.to,
    };
    this.render();
    const query = [from && `from=${enc(from)}`, to && `to=${enc(to)}`].filter(Boolean).join('&');
    try {
      // a new rule is tried under its own id; the hub answers for the rule in the body
      const path = `/cityhub/v1/rules/${enc(id)}/dry-run${query ? `?${query}` : ''}`;
      this.dry.result = await api(path, { method: 'POST', ...(body ? { body } : {}) });
    } catch (err) {
      this.dry.error = err;
    }
    this.dry.busy = false;
    this.render();
    document.getElementById('dry-run')?.focus();
  }
}
