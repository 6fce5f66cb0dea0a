// The event board: open events, most severe first, with filters (grade, category, status,
// text) and the order; each links to its event page and can be shown on the map.
import { fill, h } from '../dom.js';
import { age } from '../format.js';
import { onLang, t, tv } from '../i18n.js';
import { CATEGORIES, OPEN, SEVERITIES, filterEvents, grade, sortEvents } from '../model.js';

const NEW_MS = 15000;

export class Board {
  constructor(root, store, { onShowOnMap } = {}) {
    this.root = root;
    this.store = store;
    this.onShowOnMap = onShowOnMap;
    this.filters = { severities: new Set(), category: '', status: '', text: '' };
    this.order = 'grade';
    this.fresh = new Map(); // id -> when it arrived (highlighted for a while)
    this.head = h('div', { class: 'board-head' });
    this.controls = h('div', { class: 'board-filters', role: 'group' });
    this.list = h('ol', { class: 'events', 'aria-live': 'polite', 'aria-relevant': 'additions' });
    fill(root, this.head, this.controls, this.list);
    this.unsub = store.subscribe((change) => {
      if (change.kind === 'new') this.fresh.set(change.event.id, Date.now());
      this.renderList();
    });
    this.unLang = onLang(() => this.render());
    this.timer = setInterval(() => this.renderList(), 30000);
    this.render();
  }

  stop() {
    this.unsub();
    this.unLang();
    clearInterval(this.timer);
  }

  render() {
    this.renderControls();
    this.renderList();
  }

  renderControls() {
    const chips = SEVERITIES.slice().reverse().map((sev) => h('button', {
      type: 'button', class: `chip sev-${sev}`, 'aria-pressed': String(this.filters.severities.has(sev)),
      onclick: (e) => {
        if (this.filters.severities.has(sev)) this.filters.severities.delete(sev);
        else this.filters.severities.add(sev);
        e.currentTarget.setAttribute('aria-pressed', String(this.filters.severities.has(sev)));
        this.renderList();
      },
    }, `${grade(sev)} ${tv('severity', sev)}`));
    const select = (id, label, value, options, onchange) => h('label', { class: 'field', for: id }, label,
      h('select', { id, onchange: (e) => onchange(e.target.value) },
        options.map(([v, text]) => h('option', { value: v, selected: v === value }, text))));
    fill(this.controls,
      h('div', { class: 'chips', role: 'group', 'aria-label': t('board.filterSeverity') }, chips),
      h('div', { class: 'fields' },
        select('board-category', t('board.category'), this.filters.category,
          [['', t('board.all')], ...CATEGORIES.map((c) => [c, tv('category', c)])],
          (v) => { this.filters.category = v; this.renderList(); }),
        select('board-status', t('board.status'), this.filters.status,
          [['', t('board.all')], ...OPEN.map((s) => [s, tv('status', s)])],
          (v) => { this.filters.status = v; this.renderList(); }),
        select('board-order', t('board.order'), this.order,
          [['grade', t('board.byGrade')], ['newest', t('board.newest')]],
          (v) => { this.order = v; this.renderList(); }),
        h('label', { class: 'field grow', for: 'board-search' }, t('board.search'),
          h('input', { id: 'board-search', type: 'search', value: this.filters.text, autocomplete: 'off',
            oninput: (e) => { this.filters.text = e.target.value; this.renderList(); } }))));
  }

  renderList() {
    const all = this.store.list();
    const shown = sortEvents(filterEvents(all, this.filters), this.order);
    const critical = all.filter((e) => e.severity === 'critical').length;
    fill(this.head,
      h('h2', { id: 'board-title' }, t('board.title')),
      h('p', { class: 'summary' }, t('board.summary', { n: all.length, critical, shown: shown.length })));
    this.list.setAttribute('aria-labelledby', 'board-title');
    const now = Date.now();
    for (const [id, at] of this.fresh) if (now - at > NEW_MS) this.fresh.delete(id);
    if (!this.store.loaded) {
      fill(this.list, h('li', { class: 'muted' }, t('loading')));
      return;
    }
    if (!shown.length) {
      fill(this.list, h('li', { class: 'empty' }, all.length ? t('board.noneMatch') : t('board.none')));
      return;
    }
    fill(this.list, shown.map((e) => this.item(e, now)));
  }

  item(e, now) {
    const name = e.eventName || e.eventCode || e.id;
    return h('li', { class: ['ev', `sev-${e.severity}`, this.fresh.has(e.id) && 'new'], dataset: { id: e.id, status: e.status } },
      h('span', { class: 'grade', title: tv('severity', e.severity) }, String(grade(e.severity) ?? '–'),
        h('span', { class: 'sr-only' }, ` ${tv('severity', e.severity)}`)),
      h('a', { class: 'ev-link', href: `#/events/${encodeURIComponent(e.id)}` },
        h('span', { class: 'ev-name' }, name),
        h('span', { class: 'ev-meta' }, [e.eventCode, tv('category', e.category), e.placeName].filter(Boolean).join(' · '))),
      h('span', { class: `status st-${e.status}` }, tv('status', e.status)),
      h('time', { datetime: e.occurredAt, class: 'age' }, age(e.occurredAt, now)),
      e.location && this.onShowOnMap
        ? h('button', { type: 'button', class: 'icon map-btn', 'aria-label': t('board.showOnMap', { name }),
          title: t('board.showOnMap', { name }), onclick: () => this.onShowOnMap(e.id) }, '◎')
        : null);
  }
}
