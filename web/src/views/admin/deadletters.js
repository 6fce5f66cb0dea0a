// #/admin/dead-letters: messages the ingest gateway could not take (/iot/dead-letters: counts
// per device and reason, the list by device, one in full with its raw payload, replay and
// discard) and notifications that used up their attempts (/cityhub/v1/dead-letters: retry,
// delete), each part for users who may use its API.
import { api } from '../../api.js';
import { fill, h } from '../../dom.js';
import { fmtTime } from '../../format.js';
import { t } from '../../i18n.js';
import { AdminPage, enc, errorText, head, jsonBlock, message, notAllowed, pager, problemView, table, twice } from './common.js';

const LIMIT = 20;

export class DeadLettersPage extends AdminPage {
  constructor(root, ctx) {
    super(root, ctx);
    this.counts = null;
    this.letters = null;
    this.offset = 0;
    this.device = '';
    this.shown = null;
    this.notes = null;
    this.noteOffset = 0;
  }

  async load() {
    if (!this.access.deadLetters) {
      notAllowed(this.root, fill);
      return;
    }
    this.render();
    await Promise.all([this.loadIot(), this.loadNotes()]);
    this.render();
  }

  async loadIot() {
    if (!this.access.devices) return;
    const device = this.device ? `&device_id=${enc(this.device)}` : '';
    try {
      const [counts, letters] = await Promise.all([
        api('/iot/dead-letters/counts'),
        api(`/iot/dead-letters?limit=${LIMIT}&offset=${this.offset}${device}`),
      ]);
      this.counts = counts;
      this.letters = letters;
    } catch (err) {
      this.counts = [];
      this.letters = { count: 0, deadLetters: [], error: err };
    }
  }

  async loadNotes() {
    if (!this.access.notifications) return;
    try {
      // one more than a page: whether there is a next one (this list is not counted)
      this.notes = await api(`/cityhub/v1/dead-letters?limit=${LIMIT + 1}&offset=${this.noteOffset}`);
    } catch (err) {
      this.notes = Object.assign([], { error: err });
    }
  }

  render() {
    if (!this.access.deadLetters || this.stopped) return;
    fill(this.root, ...head('admin.deadLetters.title'),
      h('p', { class: 'muted' }, t('admin.deadLetters.intro'), ' ', this.access.devices ? h('a', { href: '#/admin/devices' }, t('admin.devices.title')) : null),
      message(this.msg),
      this.access.devices
        ? h('div', { class: 'admin-grid' },
          h('div', { class: 'col' }, this.listSection(), this.shownSection()),
          h('div', { class: 'col' }, this.countsSection()))
        : null,
      this.access.notifications ? this.notesSection() : null);
  }

  countsSection() {
    const rows = (this.counts || []).map((c) => h('tr', { dataset: { device: c.device_id, error: c.error } },
      h('td', null, h('button', {
        type: 'button', class: 'linkish', 'aria-pressed': String(this.device === c.device_id),
        'aria-label': t('admin.deadLetters.onlyDevice', { device: c.device_id }),
        onclick: () => this.filter(this.device === c.device_id ? '' : c.device_id),
      }, c.device_id || '–')),
      h('td', null, h('code', null, c.error)),
      h('td', { class: 'num' }, String(c.count))));
    return h('section', { class: 'card', 'aria-labelledby': 'dl-counts-title' },
      h('h2', { id: 'dl-counts-title' }, t('admin.deadLetters.counts')),
      this.counts === null ? h('p', { class: 'muted' }, t('loading')) : null,
      rows.length
        ? table('dl-counts', 'admin.deadLetters.counts', ['admin.devices.id', 'admin.deadLetters.error', 'admin.deadLetters.count'], rows)
        : this.counts ? h('p', { class: 'muted empty' }, t('admin.deadLetters.noneAtAll')) : null);
  }

  async filter(device) {
    this.device = device;
    this.offset = 0;
    this.shown = null;
    await this.loadIot();
    this.render();
    document.getElementById('dl-device')?.focus();
  }

  listSection() {
    const found = this.letters;
    const rows = (found?.deadLetters || []).map((d) => h('tr', { dataset: { letter: String(d.id), device: d.device_id || '' } },
      h('td', { class: 'num' }, String(d.id)),
      h('td', null, h('time', { datetime: d.receivedAt }, fmtTime(d.receivedAt))),
      h('td', null, d.device_id || '–'),
      h('td', null, `${d.source || ''} ${d.resource || d.topic || ''}`.trim()),
      h('td', { class: 'reason' }, d.reason || ''),
      h('td', { class: 'actions' },
        h('button', { type: 'button', class: 'show', 'aria-label': t('admin.deadLetters.showLabel', { id: d.id }), onclick: () => this.show(d.id) }, t('admin.show')),
        h('button', { type: 'button', class: 'replay', 'aria-label': t('admin.deadLetters.replayLabel', { id: d.id }), onclick: () => this.replay(d.id) }, t('admin.deadLetters.replay')),
        twice({ class: 'danger discard', 'aria-label': t('admin.deadLetters.discardLabel', { id: d.id }) },
          t('admin.deadLetters.discard'), t('admin.deadLetters.confirmDiscard'), () => this.discard(d.id)))));
    const devices = [...new Set((this.counts || []).map((c) => c.device_id))];
    return h('section', { class: 'card', 'aria-labelledby': 'dl-list-title' },
      h('h2', { id: 'dl-list-title' }, t('admin.deadLetters.list')),
      h('div', { class: 'row' },
        h('label', { class: 'field', for: 'dl-device' }, t('admin.deadLetters.device'),
          h('select', { id: 'dl-device', onchange: (ev) => this.filter(ev.target.value) },
            h('option', { value: '' }, t('board.all')),
            devices.map((d) => h('option', { value: d, selected: d === this.device }, d)))),
        h('button', { type: 'button', id: 'dl-refresh', onclick: () => this.refresh() }, t('audit.refresh'))),
      found === null ? h('p', { class: 'muted' }, t('loading')) : null,
      found?.error ? problemView(found.error) : null,
      rows.length
        ? [table('dead-letters', 'admin.deadLetters.list',
          ['admin.deadLetters.id', 'admin.deadLetters.at', 'admin.devices.id', 'admin.deadLetters.source', 'admin.deadLetters.reason', ''], rows),
        pager('dl', this.offset, LIMIT, found.count, async (offset) => {
          this.offset = offset;
          await this.loadIot();
          this.render();
        })]
        : found && !found.error ? h('p', { class: 'muted empty' }, t('admin.deadLetters.none')) : null);
  }

  async refresh() {
    await Promise.all([this.loadIot(), this.loadNotes()]);
    this.render();
  }

  async show(id) {
    await this.run(async () => {
      this.shown = await api(`/iot/dead-letters/${enc(id)}`);
    });
    document.getElementById('dl-shown-title')?.focus();
  }

  shownSection() {
    const d = this.shown;
    if (!d) return null;
    const facts = [
      ['admin.deadLetters.id', d.id], ['admin.deadLetters.at', fmtTime(d.receivedAt)], ['admin.devices.id', d.device_id],
      ['admin.devices.apikey', d.apikey], ['admin.deadLetters.source', d.source], ['admin.deadLetters.resource', d.resource || d.topic],
      ['admin.devices.path', d.service_path], ['admin.deadLetters.format', d.format], ['admin.deadLetters.error', d.error],
    ].filter(([, v]) => v !== undefined && v !== null && v !== '');
    const payload = d.payload?.text ?? d.payload;
    return h('section', { class: 'card dl-shown', 'aria-labelledby': 'dl-shown-title', dataset: { letter: String(d.id) } },
      h('h2', { id: 'dl-shown-title', tabindex: '-1' }, t('admin.deadLetters.one', { id: d.id })),
      h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', null, t(k)), h('dd', null, String(v))])),
      h('h3', null, t('admin.deadLetters.reason')),
      h('p', { class: 'reason-full' }, d.reason || ''),
      h('h3', null, t('admin.deadLetters.payload')),
      jsonBlock(typeof payload === 'string' ? payload : JSON.stringify(payload, null, 2), { class: 'json payload' }),
      h('div', { class: 'buttons' },
        h('button', { type: 'button', class: 'replay primary', onclick: () => this.replay(d.id) }, t('admin.deadLetters.replay')),
        twice({ class: 'danger discard' }, t('admin.deadLetters.discard'), t('admin.deadLetters.confirmDiscard'), () => this.discard(d.id)),
        h('button', { type: 'button', onclick: () => { this.shown = null; this.render(); } }, t('admin.close'))));
  }

  async replay(id) {
    try {
      await api(`/iot/dead-letters/${enc(id)}/replay`, { method: 'POST' });
      this.say(t('admin.deadLetters.replayed', { id }));
    } catch (err) {
      // refused again: the hub kept it as a new dead letter, with the reason
      this.say(t('admin.deadLetters.refusedAgain', { id, reason: errorText(err) }), true);
    }
    if (this.shown?.id === id) this.shown = null;
    await this.loadIot();
    this.render();
    document.querySelector('.admin-msg')?.scrollIntoView({ block: 'nearest' });
  }

  discard(id) {
    this.run(async () => {
      await api(`/iot/dead-letters/${enc(id)}`, { method: 'DELETE' });
      if (this.shown?.id === id) this.shown = null;
      await this.loadIot();
    }, t('admin.deadLetters.discarded', { id }));
  }

  notesSection() {
    const found = this.notes;
    const write = this.access.notificationsWrite;
    const page = (found || []).slice(0, LIMIT);
    const rows = page.map((n) => h('tr', { dataset: { nid: String(n.nid) } },
      h('td', { class: 'num' }, String(n.nid)),
      h('td', null, h('time', { datetime: n.createdAt }, fmtTime(n.createdAt))),
      h('td', null, h('code', null, n.subscriptionId)),
      h('td', null, h('code', null, n.endpoint)),
      h('td', { class: 'num' }, String(n.attempts)),
      h('td', { class: 'reason' }, n.lastError || ''),
      h('td', { class: 'actions' }, write
        ? [h('button', { type: 'button', class: 'retry', 'aria-label': t('admin.notes.retryLabel', { id: n.nid }), onclick: () => this.retry(n.nid) }, t('admin.notes.retry')),
          twice({ class: 'danger delete', 'aria-label': t('admin.notes.deleteLabel', { id: n.nid }) }, t('admin.delete'), t('admin.confirmDelete'), () => this.forget(n.nid))]
        : null)));
    return h('section', { class: 'card', 'aria-labelledby': 'notes-title' },
      h('h2', { id: 'notes-title' }, t('admin.notes.title')),
      h('p', { class: 'muted' }, t('admin.notes.intro')),
      found === null ? h('p', { class: 'muted' }, t('loading')) : null,
      found?.error ? problemView(found.error) : null,
      rows.length
        ? [table('notes', 'admin.notes.title',
          ['admin.deadLetters.id', 'admin.deadLetters.at', 'admin.notes.subscription', 'admin.notes.endpoint', 'admin.notes.attempts', 'admin.notes.lastError', ''], rows),
        h('div', { class: 'pager', role: 'group', 'aria-label': t('admin.paging') },
          h('button', { type: 'button', disabled: this.noteOffset === 0, onclick: () => this.pageNotes(Math.max(0, this.noteOffset - LIMIT)) }, '‹ ', t('admin.prev')),
          h('button', { type: 'button', disabled: found.length <= LIMIT, onclick: () => this.pageNotes(this.noteOffset + LIMIT) }, t('admin.next'), ' ›'))]
        : found && !found.error ? h('p', { class: 'muted empty' }, t('admin.notes.none')) : null);
  }

  async pageNotes(offset) {
    this.noteOffset = offset;
    await this.loadNotes();
    this.render();
  }

  retry(nid) {
    this.run(async () => {
      await api(`/cityhub/v1/dead-letters/${enc(nid)}/retry`, { method: 'POST' });
      await this.loadNotes();
    }, t('admin.notes.retried', { id: nid }));
  }

  forget(nid) {
    this.run(async () => {
      await api(`/cityhub/v1/dead-letters/${enc(nid)}`, { method: 'DELETE' });
      await this.loadNotes();
    }, t('admin.notes.deleted', { id: nid }));
  }
}
