// KPI tiles from GET /cityhub/v1/kpis (the last 24 hours), with a CSV export, and the city's
// state from its services: parking occupancy, the worst air-quality district, sensors offline.
import { api, headers } from '../api.js';
import { cityFigures } from '../cityfigures.js';
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

  /** From now on with the city's figures too (they take the services longer to compute, so
   * the page asks for them once the board and map are drawn). */
  startCity() {
    this.withCity = true;
    this.load();
  }

  /** Load again shortly (events changed): several changes make one request. */
  refreshSoon() {
    clearTimeout(this.soon);
    this.soon = setTimeout(() => this.load(), 3000);
  }

  async load() {
    const city = this.withCity ? cityFigures() : null;
    try {
      this.data = await api('/cityhub/v1/kpis');
      this.error = null;
    } catch (err) {
      this.error = err;
    }
    if (city) this.city = await city;
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
      ['ack', duration(k.timeToAcknowledge?.mean_s), t('kpi.ackHint', { m: duration(k.timeToAcknowledge?.median_s), n: k.timeToAcknowledge?.count ?? 0 }), ''],
      ['close', duration(k.timeToClose?.median_s), t('kpi.closeHint', { n: k.timeToClose?.count ?? 0 }), ''],
      ['linked', requests ? percent(answered / requests) : '–', t('kpi.linkedHint', { n: requests }), ''],
      ['dispatch', percent(k.dispatch119?.shareWithinTarget), t('kpi.dispatchHint', { m: num(k.dispatch119?.targetMinutes, 0) }), ''],
      ['grants', num(grants, 0), t('kpi.grantsHint'), ''],
      ...cityTiles(this.city),
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

/** Tiles of the city's state ([id, value, hint, tone]); a figure not known shows a dash. */
export function cityTiles(city) {
  const parking = city?.parking;
  const air = city?.air;
  const sensors = city?.sensors;
  return [
    ['parking', parking ? percent(parking.occupancy) : '–',
      parking ? t('kpi.parkingHint', { free: num(parking.available, 0), total: num(parking.total, 0) }) : t('kpi.noData'),
      parking && parking.occupancy >= 0.9 ? 'bad' : parking && parking.occupancy >= 0.7 ? 'warn' : ''],
    ['air', air ? air.name : '–',
      air ? t('kpi.airHint', { grade: t(`cai.${air.caiGrade}`), cai: num(air.airQualityIndex, 0) }) : t('kpi.noData'),
      air && air.caiGrade >= 4 ? 'bad' : air && air.caiGrade >= 3 ? 'warn' : ''],
    ['sensors', sensors ? num(sensors.silent, 0) : '–',
      sensors ? t('kpi.sensorsHint', { n: num(sensors.devices, 0), h: num(sensors.after_s / 3600, 1) }) : t('kpi.noData'),
      sensors && sensors.silent > 0 ? 'warn' : ''],
  ];
}
