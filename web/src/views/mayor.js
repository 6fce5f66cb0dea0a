// The mayor's view (#/mayor, 스마트 시장실): the city on one screen beside the live map —
// large figures (open and critical events, parking, air, sensors, facilities at risk, linked
// services), each district's air grade, alerts in force and parking, and the most severe open
// events. Refreshed every 30 s and when events change.
import { api } from '../api.js';
import { cityFigures } from '../cityfigures.js';
import { fill, h } from '../dom.js';
import { age, num, percent } from '../format.js';
import { onLang, t, tv } from '../i18n.js';
import { grade, sortEvents } from '../model.js';

const REFRESH_MS = 30000;
const TOP_EVENTS = 8;

export class MayorPanel {
  constructor(root, store, { onOpenEvent }) {
    this.root = root;
    this.store = store;
    this.onOpenEvent = onOpenEvent;
    this.city = null;
    this.kpis = null;
    this.unLang = onLang(() => this.render());
    this.unStore = store.subscribe(() => this.render());
    this.timer = setInterval(() => this.load(), REFRESH_MS);
    delete root.dataset.ready; // set again once the figures are in
    this.render();
  }

  stop() {
    clearInterval(this.timer);
    this.unLang();
    this.unStore();
  }

  async load() {
    const [city, kpis] = await Promise.all([cityFigures(), api('/cityhub/v1/kpis').catch(() => null)]);
    this.city = city;
    this.kpis = kpis;
    this.render();
    this.root.dataset.ready = '1';
  }

  figures() {
    const city = this.city || {};
    const events = this.store.list();
    const critical = events.filter((e) => e.severity === 'critical').length;
    const risky = city.facilities ? (city.facilities.D || 0) + (city.facilities.E || 0) : null;
    const linked = Object.values(this.kpis?.linkedServices || {}).reduce((n, s) => n + (s.requests || 0), 0);
    return [
      ['open', num(events.length, 0), t('mayor.openHint'), events.length ? 'warn' : ''],
      ['critical', num(critical, 0), t('mayor.criticalHint'), critical ? 'bad' : ''],
      ['parking', city.parking ? percent(city.parking.occupancy) : '–', city.parking ? t('kpi.parkingHint', { free: num(city.parking.available, 0), total: num(city.parking.total, 0) }) : t('kpi.noData'), ''],
      ['air', city.air ? t(`cai.${city.air.caiGrade}`) : '–', city.air ? `${city.air.name} · CAI ${num(city.air.airQualityIndex, 0)}` : t('kpi.noData'), city.air?.caiGrade >= 3 ? 'bad' : ''],
      ['sensors', city.sensors ? num(city.sensors.silent, 0) : '–', city.sensors ? t('mayor.sensorsHint', { n: num(city.sensors.devices, 0) }) : t('kpi.noData'), city.sensors?.silent ? 'warn' : ''],
      ['facilities', risky === null ? '–' : num(risky, 0), t('mayor.facilitiesHint'), risky ? 'bad' : ''],
      ['linked', this.kpis ? num(linked, 0) : '–', t('mayor.linkedHint'), ''],
    ];
  }

  districts() {
    const city = this.city || {};
    const parking = new Map((city.parkingDistricts || []).map((d) => [d.district, d]));
    return (city.airDistricts || []).map((d) => {
      const lots = parking.get(d.name) || parking.get(d.id);
      return h('tr', { dataset: { district: d.id } },
        h('th', { scope: 'row' }, d.name),
        h('td', null, d.caiGrade ? h('span', { class: ['grade-chip', `cai-${d.caiGrade}`] }, t(`cai.${d.caiGrade}`)) : '–',
          d.airQualityIndex !== null && d.airQualityIndex !== undefined ? ` ${num(d.airQualityIndex, 0)}` : ''),
        h('td', null, (d.alerts || []).length ? d.alerts.map((a) => `${a.pollutant.toUpperCase()} ${a.levelName || a.level}`).join(', ') : t('mayor.noAlert')),
        h('td', null, lots?.occupancy !== null && lots?.occupancy !== undefined ? percent(lots.occupancy) : '–'));
    });
  }

  render() {
    const top = sortEvents(this.store.list()).slice(0, TOP_EVENTS);
    fill(this.root,
      h('h2', { id: 'mayor-title' }, t('mayor.title')),
      h('div', { class: 'mayor-figures' }, this.figures().map(([id, value, hint, tone]) => h('div', { class: ['tile', 'big', tone && `tone-${tone}`], dataset: { figure: id } },
        h('span', { class: 'tile-label' }, t(`mayor.${id}`)),
        h('span', { class: 'tile-value' }, value),
        h('span', { class: 'tile-hint' }, hint)))),
      h('h3', null, t('mayor.districts')),
      this.city === null ? h('p', { class: 'muted' }, t('loading'))
        : h('table', { class: 'mayor-districts' },
          h('thead', null, h('tr', null, ['mayor.district', 'mayor.airGrade', 'mayor.alerts', 'mayor.parking'].map((k) => h('th', { scope: 'col' }, t(k))))),
          h('tbody', null, this.districts())),
      h('h3', null, t('mayor.events')),
      top.length
        ? h('ol', { class: 'mayor-events' }, top.map((e) => h('li', { dataset: { event: e.id, severity: e.severity } },
          h('button', { type: 'button', class: 'link', onclick: () => this.onOpenEvent(e.id) },
            h('span', { class: ['sev', `sev-${e.severity}`] }, `${grade(e.severity)} ${tv('severity', e.severity)}`),
            ' ', e.eventName || e.eventCode || e.id,
            e.placeName ? ` · ${e.placeName}` : '',
            h('span', { class: 'muted' }, ` · ${age(e.occurredAt)}`)))))
        : h('p', { class: 'muted' }, t('mayor.calm')));
  }
}
