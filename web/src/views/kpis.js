// KPI tiles from GET /cityhub/v1/kpis (the last 24 hours), with a CSV export.
import { api, headers } from '../api.js';
import { fill, h } from '../dom.js';
import { duration, num, percent } from '../format.js';
import { onLang, t } from '../i18n.js';

const REFRESH_MS = 60000;

export class KpiTiles {
  constructor(root) {
    this.root = root;
    this.data = null;
    this.error = null;
    this.unLang = onLang(() => this.render());
    this.timer = setInterval(() => this.load(), REFRESH_MS);
    this.render();
  }

  stop() {
    clearInterval(this.timer);
    clearTimeout(this.soon);
    this.unLang();
  }

  /** Load again shortly (events changed): several changes make one request. */
  refreshSoon() {
    clearTimeout(this.soon);
    this.soon = setTimeout(() => this.load(), 3000);
  }

  async load() {
    try {
      this.data = await api('/cityhub/v1/kpis');
      this.error = null;
    } catch (err) {
      this.error = err;
    }
    this.render();
  }

  tiles() {
    const k = this.data;
    if (!k) return [];
    const linked = Object.values(k.linkedServices || {});
    const requests = linked.reduce((n, s) => n + (s.requests || 0), 0);
    const answered = linked.reduce((n, s) => n + (s.answeredWithinTarget || 0), 0);
    const grants = Object.values(k.agencies || {}).reduce((n, a) => n + (a.grants || 0), 0);
    return [
      ['open', num(k.events.open, 0), t('kpi.openHint'), k.events.open > 0 ? 'warn' : ''],
      ['critical', num(k.events.bySeverity?.critical ?? 0, 0), t('kpi.criticalHint'), (k.events.bySeverity?.critical ?? 0) > 0 ? 'bad' : ''],
      ['total', num(k.events.total, 0), t('kpi.totalHint'), ''],
      ['ack', duration(k.timeToAcknowledge?.median_s), t('kpi.ackHint', { n: k.timeToAcknowledge?.count ?? 0 }), ''],
      ['close', duration(k.timeToClose?.median_s), t('kpi.closeHint', { n: k.timeToClose?.count ?? 0 }), ''],
      ['linked', requests ? percent(answered / requests) : '–', t('kpi.linkedHint', { n: requests }), ''],
      ['dispatch', percent(k.dispatch119?.shareWithinTarget), t('kpi.dispatchHint', { m: num(k.dispatch119?.targetMinutes, 0) }), ''],
      ['grants', num(grants, 0), t('kpi.grantsHint'), ''],
    ];
  }

  render() {
    if (this.error) {
      fill(this.root, h('p', { class: 'muted' }, t('kpi.unavailable')));
      return;
    }
    const tiles = this.tiles().map(([id, value, hint, tone]) => h('div', { class: ['tile', tone && `tone-${tone}`], dataset: { kpi: id } },
      h('span', { class: 'tile-label' }, t(`kpi.${id}`)),
      h('span', { class: 'tile-value' }, value),
      h('span', { class: 'tile-hint' }, hint)));
    fill(this.root,
      h('h2', { class: 'sr-only' }, t('kpi.title')),
      tiles.length ? tiles : h('p', { class: 'muted' }, t('loading')),
      h('button', { type: 'button', class: 'csv', onclick: () => this.csv() }, t('kpi.csv')));
  }

  async csv() {
    const response = await fetch('/cityhub/v1/kpis?format=csv', { credentials: 'same-origin', headers: headers() });
    if (!response.ok) return;
    const url = URL.createObjectURL(await response.blob());
    const link = h('a', { href: url, download: 'cityhub-kpis.csv' });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }
}
