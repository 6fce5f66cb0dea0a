// Time-series charts (#/charts): any numeric attribute of any entity over a range (1 h … 30 d
// or a custom window, or a span dragged on a chart), from the temporal API; every series
// exports as CSV. Drawn by uPlot (canvas), which sets only CSSOM styles (allowed by the CSP).
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { ApiError, api } from '../api.js';
import { RANGES, chartHash, chartWindow, numericAttributes, parseChartHash, seriesCsv, seriesOf, temporalPath } from '../chartdata.js';
import { fill, h } from '../dom.js';
import { fmtTime } from '../format.js';
import { getLang, onLang, t } from '../i18n.js';

const ZONE = 'Asia/Seoul';
const COLORS = ['#4fc3f7', '#ffb74d', '#81c784', '#e57373', '#ba68c8', '#fff176'];

/** A local datetime-local value (Seoul time) of ms, and back. */
const SEOUL_OFFSET = 9 * 3600e3;
const toLocalInput = (ms) => new Date(ms + SEOUL_OFFSET).toISOString().slice(0, 16);
const fromLocalInput = (text) => Date.parse(`${text}:00+09:00`);

export class ChartsPage {
  constructor(root, hash) {
    this.root = root;
    this.state = parseChartHash(hash);
    this.data = new Map(); // "entity|attr" → {series, error}
    this.plots = [];
    this.attrs = [];
    this.unLang = onLang(() => this.render());
    this.onResize = () => this.resize();
    window.addEventListener('resize', this.onResize);
  }

  stop() {
    this.unLang();
    window.removeEventListener('resize', this.onResize);
    for (const plot of this.plots) plot.destroy();
    this.plots = [];
  }

  navigate(state) {
    location.hash = chartHash(state); // the router builds the page again from the fragment
  }

  async load() {
    this.window = chartWindow(this.state);
    this.render();
    await Promise.all(this.state.series.map(async (s) => {
      const key = `${s.entity}|${s.attr}`;
      try {
        const body = await api(temporalPath(s.entity, s.attr, this.window));
        this.data.set(key, { series: seriesOf(body, s.attr) });
      } catch (err) {
        this.data.set(key, { error: err instanceof ApiError && err.status === 404 ? t('charts.noEntity') : err.message });
      }
    }));
    this.render();
    document.body.dataset.charts = 'ready';
  }

  async pickEntity(id) {
    this.attrs = [];
    this.pickError = null;
    if (id) {
      try {
        // a query, not GET /entities/{id}: an unknown id is an empty list, not an error
        const pattern = `^${id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`;
        const [entity] = await api(`/ngsi-ld/v1/entities?idPattern=${encodeURIComponent(pattern)}&limit=1`);
        this.attrs = numericAttributes(entity);
        if (!entity) this.pickError = t('charts.noEntity');
        else if (!this.attrs.length) this.pickError = t('charts.noNumbers');
      } catch (err) {
        this.pickError = err.message;
      }
    }
    this.renderPicker();
  }

  renderPicker() {
    if (!this.pickerEl) return;
    const entity = this.pickerEl.querySelector('#chart-entity')?.value || '';
    fill(this.pickerEl,
      h('label', { class: 'field grow', for: 'chart-entity' }, t('charts.entity'),
        h('input', { id: 'chart-entity', value: entity, placeholder: 'urn:ngsi-ld:AirQualityObserved:…', onchange: (ev) => this.pickEntity(ev.target.value.trim()) })),
      h('label', { class: 'field', for: 'chart-attr' }, t('charts.attribute'),
        h('select', { id: 'chart-attr', disabled: !this.attrs.length }, this.attrs.map((a) => h('option', { value: a }, a)))),
      h('button', {
        type: 'submit', class: 'primary', disabled: !this.attrs.length,
      }, t('charts.add')),
      this.pickError ? h('p', { class: 'error', role: 'alert' }, this.pickError) : null);
  }

  add(ev) {
    ev.preventDefault();
    const entity = this.root.querySelector('#chart-entity').value.trim();
    const attr = this.root.querySelector('#chart-attr').value;
    if (!entity || !attr || this.state.series.some((s) => s.entity === entity && s.attr === attr)) return;
    this.navigate({ ...this.state, series: [...this.state.series, { entity, attr }] });
  }

  remove(index) {
    this.navigate({ ...this.state, series: this.state.series.filter((_, i) => i !== index) });
  }

  setRange(range) {
    this.navigate({ ...this.state, range, from: null, to: null });
  }

  setCustom(ev) {
    ev.preventDefault();
    const from = fromLocalInput(this.root.querySelector('#chart-from').value);
    const to = fromLocalInput(this.root.querySelector('#chart-to').value);
    if (!(from < to)) {
      this.rangeError = t('charts.badRange');
      this.render();
      return;
    }
    this.navigate({ ...this.state, range: 'custom', from, to });
  }

  csv(s) {
    const found = this.data.get(`${s.entity}|${s.attr}`);
    if (!found?.series) return;
    const blob = new Blob([seriesCsv(s.entity, s.attr, found.series)], { type: 'text/csv;charset=utf-8' });
    const url = URL.createObjectURL(blob);
    const name = `${s.entity.split(':').pop()}-${s.attr}.csv`.replace(/[^\w.-]+/g, '_');
    const link = h('a', { href: url, download: name });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  render() {
    for (const plot of this.plots) plot.destroy();
    this.plots = [];
    const win = this.window || chartWindow(this.state);
    this.pickerEl = h('form', { class: 'row chart-picker', onsubmit: (ev) => this.add(ev) });
    const panels = this.state.series.map((s, i) => this.panel(s, i));
    fill(this.root,
      h('nav', { class: 'crumbs' }, h('a', { href: '#/' }, '← ', t('event.back'))),
      h('h1', null, t('charts.title')),
      this.pickerEl,
      h('div', { class: 'row chart-ranges', role: 'group', 'aria-label': t('charts.range') },
        Object.keys(RANGES).map((r) => h('button', {
          type: 'button', 'aria-pressed': String(this.state.range === r), dataset: { range: r }, onclick: () => this.setRange(r),
        }, t(`charts.range.${r}`))),
        h('form', { class: 'row', onsubmit: (ev) => this.setCustom(ev) },
          h('label', { class: 'field', for: 'chart-from' }, t('charts.from'), h('input', { id: 'chart-from', type: 'datetime-local', value: toLocalInput(win.from) })),
          h('label', { class: 'field', for: 'chart-to' }, t('charts.to'), h('input', { id: 'chart-to', type: 'datetime-local', value: toLocalInput(win.to) })),
          h('button', { type: 'submit', 'aria-pressed': String(this.state.range === 'custom') }, t('charts.apply')))),
      this.rangeError ? h('p', { class: 'error', role: 'alert' }, this.rangeError) : null,
      h('p', { class: 'muted' }, t('charts.window', { from: fmtTime(new Date(win.from).toISOString()), to: fmtTime(new Date(win.to).toISOString()) }), ' · ', t('charts.dragHint')),
      panels.length ? panels : h('p', { class: 'muted' }, t('charts.empty')));
    this.renderPicker();
    this.resize();
  }

  panel(s, index) {
    const found = this.data.get(`${s.entity}|${s.attr}`);
    const plotEl = h('div', { class: 'chart-plot' });
    const points = found?.series?.times.length ?? 0;
    const el = h('section', { class: 'chart', dataset: { entity: s.entity, attr: s.attr, points: String(points) }, 'aria-label': `${s.entity} ${s.attr}` },
      h('div', { class: 'chart-head' },
        h('h2', null, h('code', null, s.entity), ' · ', t(`attr.${s.attr}`) === `attr.${s.attr}` ? s.attr : t(`attr.${s.attr}`)),
        h('span', { class: 'muted' }, found?.series ? t(found.series.aggregated ? 'charts.aggregated' : 'charts.points', { n: points }) : ''),
        h('button', { type: 'button', class: 'csv', disabled: !points, onclick: () => this.csv(s) }, t('charts.csv')),
        h('button', { type: 'button', class: 'icon', 'aria-label': t('charts.remove'), onclick: () => this.remove(index) }, '×')),
      found?.error ? h('p', { class: 'error', role: 'alert' }, found.error)
        : !found ? h('p', { class: 'muted' }, t('loading'))
          : !points ? h('p', { class: 'muted' }, t('charts.noData'))
            : plotEl);
    if (points) {
      requestAnimationFrame(() => {
        if (!plotEl.isConnected) return;
        this.plots.push(this.plot(plotEl, found.series, index));
      });
    }
    return el;
  }

  plot(el, series, index) {
    const color = COLORS[index % COLORS.length];
    const data = [series.times, series.values];
    const lines = [{}, { label: t('charts.value'), stroke: color, width: 2, points: { show: series.times.length < 200 } }];
    if (series.aggregated) {
      data.push(series.min, series.max);
      lines.push({ label: 'min', stroke: color, dash: [4, 4], width: 1 }, { label: 'max', stroke: color, dash: [4, 4], width: 1 });
    }
    const axis = { stroke: '#b0bec5', grid: { stroke: 'rgba(255,255,255,0.08)' }, ticks: { stroke: 'rgba(255,255,255,0.2)' } };
    const span = this.window.to - this.window.from;
    const clock = new Intl.DateTimeFormat(getLang() === 'ko' ? 'ko-KR' : 'en-GB', {
      timeZone: ZONE, hour12: false, hour: '2-digit', minute: '2-digit', ...(span > 86400e3 ? { month: '2-digit', day: '2-digit' } : {}),
    });
    const timeAxis = { ...axis, space: span > 86400e3 ? 110 : 70, values: (u, splits) => splits.map((ts) => clock.format(new Date(ts * 1000))) };
    return new uPlot({
      width: Math.max(300, el.clientWidth || 800),
      height: 260,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), ZONE),
      scales: { x: { time: true, range: () => [this.window.from / 1000, this.window.to / 1000] } },
      series: lines,
      axes: [timeAxis, axis],
      cursor: { drag: { x: true, y: false, setScale: false } },
      hooks: {
        setSelect: [(u) => {
          if (u.select.width < 5) return;
          const from = u.posToVal(u.select.left, 'x') * 1000;
          const to = u.posToVal(u.select.left + u.select.width, 'x') * 1000;
          this.navigate({ ...this.state, range: 'custom', from: Math.round(from), to: Math.round(to) });
        }],
      },
    }, data, el);
  }

  resize() {
    for (const plot of this.plots) {
      const width = plot.root.parentElement?.clientWidth;
      if (width) plot.setSize({ width, height: 260 });
    }
  }
}
