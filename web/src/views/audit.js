// The audit log (GET /cityhub/v1/audit; auditors and administrators): newest first, filtered
// by action.
import { ApiError, api } from '../api.js';
import { fill, h } from '../dom.js';
import { fmtTime } from '../format.js';
import { onLang, t } from '../i18n.js';

const ACTIONS = ['', 'cctv.grant', 'cctv.revoke', 'cctv.view', 'event.transition', 'sop.step', 'sop.start',
  'auth.login', 'auth.login_failed', 'access.denied'];

export class AuditPage {
  constructor(root) {
    this.root = root;
    this.action = '';
    this.entries = null;
    this.error = null;
    this.unLang = onLang(() => this.render());
  }

  stop() {
    this.unLang();
  }

  async load() {
    this.render();
    try {
      const found = await api(`/cityhub/v1/audit?limit=200${this.action ? `&action=${encodeURIComponent(this.action)}` : ''}`);
      this.entries = found.entries;
      this.error = null;
    } catch (err) {
      this.error = err instanceof ApiError && err.status === 403 ? t('audit.forbidden') : err.message;
    }
    this.render();
  }

  render() {
    const rows = (this.entries || []).map((e) => h('tr', { dataset: { action: e.action } },
      h('td', null, h('time', { datetime: e.at }, fmtTime(e.at))),
      h('td', null, e.actor),
      h('td', null, h('code', null, e.action)),
      h('td', null, e.target || ''),
      h('td', null, e.outcome),
      h('td', { class: 'detail' }, Object.entries(e.detail || {}).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' · '))));
    fill(this.root,
      h('nav', { class: 'crumbs' }, h('a', { href: '#/' }, '← ', t('event.back'))),
      h('h1', null, t('audit.title')),
      h('form', { class: 'row', onsubmit: (ev) => { ev.preventDefault(); this.load(); } },
        h('label', { class: 'field', for: 'audit-action' }, t('audit.action'),
          h('select', { id: 'audit-action', onchange: (ev) => { this.action = ev.target.value; this.load(); } },
            ACTIONS.map((a) => h('option', { value: a, selected: a === this.action }, a || t('board.all'))))),
        h('button', { type: 'submit' }, t('audit.refresh'))),
      this.error ? h('p', { class: 'error', role: 'alert' }, this.error) : null,
      this.entries === null && !this.error ? h('p', { class: 'muted' }, t('loading')) : null,
      rows.length
        ? h('table', { class: 'audit' },
          h('thead', null, h('tr', null, ['audit.at', 'audit.actor', 'audit.action', 'audit.target', 'audit.outcome', 'audit.detail'].map((k) => h('th', { scope: 'col' }, t(k))))),
          h('tbody', null, rows))
        : null);
  }
}
