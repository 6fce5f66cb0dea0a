// The live city map: the districts base layer shipped with cityhub (tiles only when
// map_tile_url is set), one layer per entity type drawn on a canvas and clustered at low
// zoom, camera view cones when zoomed in, a layer switcher with legends, and a details panel
// with a sparkline of recent history. Entities come from NGSI-LD queries and stay current
// through the change stream (/cityhub/v1/changes/stream); events come from the board's store.
import L from './leaflet.js';
import { allEntities, api } from '../api.js';
import { chartHash } from '../chartdata.js';
import { fill, h } from '../dom.js';
import { fmtTime, num } from '../format.js';
import { getLang, onLang, t, tv } from '../i18n.js';
import { sparkline } from '../spark.js';
import { openStream } from '../sse.js';
import { LAYERS, LAYER_BY_TYPE, latLngOf } from './layers.js';
import { cai, viewCone } from './styles.js';

const CENTER = [37.431, 126.993];
const CONE_ZOOM = 16;
const MAX_CONES = 600;
const SPARK_POINTS = 30;

const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export class CityMap {
  constructor(root, config, { onOpenEvent } = {}) {
    this.config = config;
    this.onOpenEvent = onOpenEvent;
    this.features = new Map(); // id -> {def, entity, marker}
    this.groups = new Map(); // layer id -> Leaflet group
    this.selected = null;
    this.history = null; // [[value, time]] of the selected feature's sparkline attribute
    const saved = JSON.parse(localStorage.getItem('cityhub.layers') || 'null');
    this.enabled = new Set(Array.isArray(saved) ? saved : LAYERS.map((l) => l.id));

    this.mapEl = h('div', { class: 'map', id: 'map', 'aria-label': t('map.label'), role: 'region' });
    this.panel = h('details', { class: 'layer-panel', open: window.innerWidth > 700 });
    this.details = h('aside', { class: 'details', hidden: true, 'aria-live': 'polite', tabindex: '-1' });
    fill(root, this.mapEl, this.panel, this.details);

    this.map = L.map(this.mapEl, {
      preferCanvas: true, zoomSnap: 0.5, minZoom: 10, maxZoom: 19, keyboard: true, center: CENTER, zoom: 13,
    });
    this.map.attributionControl.setPrefix('Leaflet');
    this.renderer = L.canvas({ padding: 0.3, tolerance: 4 });
    // the districts lie under every marker: their own pane below the overlays, drawn as SVG
    this.map.createPane('districts').style.zIndex = '350';
    this.districtRenderer = L.svg({ pane: 'districts' });
    this.cones = L.layerGroup().addTo(this.map);
    for (const def of LAYERS) {
      const group = def.cluster
        ? L.markerClusterGroup({
          showCoverageOnHover: false,
          disableClusteringAtZoom: 17,
          maxClusterRadius: 45,
          spiderfyOnMaxZoom: true,
          iconCreateFunction: (cluster) => clusterIcon(def, cluster.getChildCount()),
        })
        : L.featureGroup();
      this.groups.set(def.id, group);
      if (this.enabled.has(def.id)) group.addTo(this.map);
    }
    this.map.on('moveend', () => this.drawCones());
    this.mapEl.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') this.closeDetails();
    });
    this.renderPanel();
    this.unLang = onLang(() => this.relabel());
  }

  /** Load the base layer and every entity layer, then follow the change stream. */
  async start() {
    const types = LAYERS.filter((l) => l.attrs).map((l) => l.type);
    const attrs = [...new Set(LAYERS.flatMap((l) => l.attrs || []))];
    let pending = []; // changes that arrive while the layers load
    let opened = false;
    this.stream = openStream(`/cityhub/v1/changes/stream?type=${types.join(',')}&attrs=${attrs.join(',')}`, {
      onEvent: (kind, change) => {
        if (kind !== 'change') return;
        if (pending) pending.push(change);
        else this.applyChange(change);
      },
      onOpen: () => {
        if (opened) this.reload(); // reconnected: what happened meanwhile is not in the stream
        opened = true;
      },
    });
    await Promise.all([this.loadBase(), ...LAYERS.filter((l) => l.attrs).map((l) => this.loadLayer(l))]);
    for (const change of pending) this.applyChange(change);
    pending = null;
    this.drawCones();
    this.renderPanel();
  }

  stop() {
    this.stream?.close();
    this.unLang?.();
    this.map.remove();
  }

  async loadBase() {
    if (this.config.tileUrl) {
      L.tileLayer(this.config.tileUrl, {
        attribution: escapeHtml(this.config.tileAttribution || ''), maxZoom: 19,
      }).addTo(this.map);
    }
    const response = await fetch(this.config.districtsUrl || '/static/districts.geojson');
    if (!response.ok) return;
    const districts = await response.json();
    this.districts = L.geoJSON(districts, {
      interactive: false,
      pane: 'districts',
      renderer: this.districtRenderer,
      style: () => ({
        color: '#5fa8d3', weight: 1.5, opacity: 0.9, fillColor: '#17344d',
        fillOpacity: this.config.tileUrl ? 0.15 : 0.6,
      }),
      onEachFeature: (feature, layer) => {
        layer.bindTooltip(h('span', null, this.districtName(feature)), {
          permanent: true, direction: 'center', className: 'district-label',
        });
      },
    }).addTo(this.map);
    this.districts.bringToBack();
    this.map.fitBounds(this.districts.getBounds(), { padding: [8, 8] });
  }

  districtName(feature) {
    const p = feature.properties || {};
    return (getLang() === 'en' && p.nameEn) || p.name || '';
  }

  async loadLayer(def) {
    let rows = [];
    try {
      rows = await allEntities(def.type, def.attrs, { q: def.q });
    } catch (err) {
      console.warn(`cityhub: cannot load ${def.type}`, err);
      return;
    }
    const markers = [];
    for (const entity of rows) {
      const marker = this.makeMarker(def, entity);
      if (marker) markers.push(marker);
    }
    const group = this.groups.get(def.id);
    if (def.cluster) group.addLayers(markers);
    else for (const m of markers) group.addLayer(m);
  }

  async reload() {
    for (const def of LAYERS.filter((l) => l.attrs)) {
      const rows = await allEntities(def.type, def.attrs, { q: def.q }).catch(() => null);
      if (!rows) continue;
      const seen = new Set();
      for (const entity of rows) {
        seen.add(entity.id);
        this.upsert(def, entity);
      }
      for (const [id, f] of this.features) if (f.def === def && !seen.has(id)) this.remove(id);
    }
    this.renderPanel();
  }

  makeMarker(def, entity) {
    const at = latLngOf(entity);
    if (!at || (def.shows && !def.shows(entity))) return null;
    const marker = L.circleMarker(at, { ...def.style(entity), renderer: this.renderer, bubblingMouseEvents: false });
    marker.on('click', () => this.select(entity.id));
    this.features.set(entity.id, { def, entity, marker });
    return marker;
  }

  /** A change from the stream: {id, type, op, ...attributes}. */
  applyChange(change) {
    const def = LAYER_BY_TYPE[change.type];
    if (!def) return;
    if (change.op === 'delete') {
      this.remove(change.id);
    } else {
      const { op, ...entity } = change;
      this.upsert(def, entity);
    }
    this.renderCounts();
  }

  upsert(def, entity) {
    const found = this.features.get(entity.id);
    if (found && def.shows && !def.shows(entity)) {
      this.remove(entity.id); // no longer one the layer shows (a violation cleared)
      return;
    }
    if (!found) {
      const marker = this.makeMarker(def, entity);
      if (marker) this.groups.get(def.id).addLayer(marker);
      return;
    }
    const before = found.entity;
    found.entity = entity;
    found.marker.setStyle(def.style(entity));
    const at = latLngOf(entity);
    const was = found.marker.getLatLng();
    if (at && (at[0] !== was.lat || at[1] !== was.lng)) {
      const group = this.groups.get(def.id);
      group.removeLayer(found.marker); // a cluster places a moved marker again
      found.marker.setLatLng(at);
      group.addLayer(found.marker);
    }
    if (def.cones) this.drawCones();
    if (this.selected === entity.id) {
      const value = def.sparkValue ? def.sparkValue(entity[def.spark]) : entity[def.spark];
      if (def.spark && this.history && typeof value === 'number' && entity[def.spark] !== before[def.spark]) {
        this.history = [...this.history, [value, new Date().toISOString()]].slice(-SPARK_POINTS);
      }
      this.renderDetails();
    }
  }

  remove(id) {
    const found = this.features.get(id);
    if (!found) return;
    this.groups.get(found.def.id).removeLayer(found.marker);
    this.features.delete(id);
    if (this.selected === id) this.closeDetails();
  }

  /** The board's open events (the events layer mirrors them). */
  setEvents(events) {
    const def = LAYER_BY_TYPE.CityEvent;
    const keep = new Set();
    for (const event of events) {
      keep.add(event.id);
      this.upsert(def, event);
    }
    for (const [id, f] of this.features) if (f.def === def && !keep.has(id)) this.remove(id);
    this.renderCounts();
  }

  drawCones() {
    this.cones.clearLayers();
    if (!this.enabled.has('cctv') || this.map.getZoom() < CONE_ZOOM) return;
    const bounds = this.map.getBounds().pad(0.2);
    let drawn = 0;
    for (const { def, entity, marker } of this.features.values()) {
      if (!def.cones || drawn >= MAX_CONES || !bounds.contains(marker.getLatLng())) continue;
      const { lat, lng } = marker.getLatLng();
      const ring = viewCone(lng, lat, entity.heading, entity.fieldOfView, entity.viewDistance || 60);
      const shape = ring
        ? L.polygon(ring, { renderer: this.renderer, interactive: false, color: '#4fc3f7', weight: 1, fillOpacity: 0.18 })
        : L.circle([lat, lng], { radius: entity.viewDistance || 30, renderer: this.renderer, interactive: false, color: '#4fc3f7', weight: 1, fillOpacity: 0.1 });
      shape.addTo(this.cones);
      drawn += 1;
    }
  }

  // --- layer switcher -----------------------------------------------------------------------

  renderPanel() {
    const items = LAYERS.map((def) => {
      const box = h('input', {
        type: 'checkbox', id: `layer-${def.id}`, checked: this.enabled.has(def.id),
        onchange: (e) => this.toggle(def.id, e.target.checked),
      });
      const legend = h('ul', { class: 'legend', 'aria-label': t('map.legend') }, def.legend.map(([color, label]) => {
        const [key, vars] = Array.isArray(label) ? label : [label];
        const swatch = h('span', { class: 'swatch', 'aria-hidden': 'true' });
        swatch.style.backgroundColor = color;
        return h('li', null, swatch, t(key, vars));
      }));
      return h('div', { class: 'layer-item' },
        h('label', { for: `layer-${def.id}` }, box, ' ', t(`layer.${def.id}`), ' ',
          h('span', { class: 'count', dataset: { layer: def.id } }, `(${this.count(def.id)})`)),
        legend);
    });
    fill(this.panel, h('summary', null, t('map.layers')), items);
  }

  renderCounts() {
    for (const el of this.panel.querySelectorAll('.count')) el.textContent = `(${this.count(el.dataset.layer)})`;
  }

  count(layerId) {
    let n = 0;
    for (const f of this.features.values()) if (f.def.id === layerId) n += 1;
    return n;
  }

  toggle(layerId, on) {
    const group = this.groups.get(layerId);
    if (on) {
      this.enabled.add(layerId);
      group.addTo(this.map);
    } else {
      this.enabled.delete(layerId);
      group.remove();
    }
    localStorage.setItem('cityhub.layers', JSON.stringify([...this.enabled]));
    this.drawCones();
  }

  // --- details --------------------------------------------------------------------------------

  async select(id) {
    const found = this.features.get(id);
    if (!found) return;
    this.selected = id;
    this.history = null;
    this.renderDetails();
    if (found.def.spark) {
      const attr = found.def.spark;
      try {
        const history = await api(`/ngsi-ld/v1/temporal/entities/${encodeURIComponent(id)}?attrs=${attr}&lastN=${SPARK_POINTS}&options=temporalValues`);
        const values = Object.entries(history).find(([k]) => k.split(/[/#]/).pop() === attr)?.[1]?.values || [];
        if (this.selected !== id) return;
        const asNumber = found.def.sparkValue || ((v) => v);
        this.history = [...values].sort((a, b) => String(a[1]).localeCompare(String(b[1])))
          .map(([v, at]) => [asNumber(v), at]);
      } catch {
        this.history = [];
      }
      this.renderDetails();
    }
  }

  /** Zoom to a feature (out of its cluster) and show its details. */
  focus(id) {
    const found = this.features.get(id);
    if (!found) return false;
    if (!this.enabled.has(found.def.id)) {
      this.toggle(found.def.id, true);
      this.renderPanel();
    }
    // clusters open up at zoom 17 (disableClusteringAtZoom): every marker is drawn there
    const zoom = Math.max(this.map.getZoom(), found.def.cluster ? 17 : 15);
    this.map.setView(found.marker.getLatLng(), zoom, { animate: false });
    this.select(id);
    return true;
  }

  closeDetails() {
    this.selected = null;
    this.history = null;
    this.details.hidden = true;
  }

  renderDetails() {
    const found = this.features.get(this.selected);
    if (!found) return this.closeDetails();
    const { def, entity } = found;
    const rows = def.fields.map((name) => {
      let value = name === 'cai' ? cai(entity).cai : entity[name];
      if (value === undefined || value === null) value = '–';
      else if (def.enums?.[name]) value = tv(def.enums[name], value);
      else if (name === 'severity' || name === 'status') value = tv(name, value);
      else if (/At$|^date/.test(name)) value = fmtTime(value);
      else if (typeof value === 'boolean') value = t(value ? 'yes' : 'no');
      else if (typeof value === 'number') value = num(value, 3);
      return [t(`attr.${name}`), value ?? '–', name];
    });
    const title = entity.name || entity.eventName || entity.id.split(':').pop();
    const body = [
      h('div', { class: 'details-head' },
        h('h2', null, String(title)),
        h('button', { type: 'button', class: 'icon', 'aria-label': t('close'), onclick: () => this.closeDetails() }, '×')),
      h('p', { class: 'muted' }, t(`layer.${def.id}`), ' · ', h('code', null, entity.id)),
      h('dl', { class: 'facts' }, rows.map(([label, value, name]) => [h('dt', null, label), h('dd', { dataset: { attr: name } }, String(value))])),
    ];
    if (def.spark) {
      body.push(h('p', { class: 'spark-label' }, t('map.recent', { attr: t(`attr.${def.spark}`) })));
      body.push(this.history === null ? h('p', { class: 'muted' }, t('loading'))
        : this.history.length ? sparkline(this.history, { label: t(`attr.${def.spark}`) }) : h('p', { class: 'muted' }, t('map.noHistory')));
      body.push(h('a', { class: 'chart-link', href: chartHash({ series: [{ entity: entity.id, attr: def.spark }], range: '24h' }) }, t('map.chart')));
    }
    if (def.type === 'CityEvent' && this.onOpenEvent) {
      body.push(h('button', { type: 'button', class: 'primary', onclick: () => this.onOpenEvent(entity.id) }, t('event.open')));
    }
    fill(this.details, body);
    this.details.dataset.entity = entity.id;
    this.details.hidden = false;
  }

  relabel() {
    this.mapEl.setAttribute('aria-label', t('map.label'));
    this.renderPanel();
    this.districts?.eachLayer((layer) => layer.setTooltipContent(h('span', null, this.districtName(layer.feature))));
    if (this.selected) this.renderDetails();
  }

  invalidate() {
    this.map.invalidateSize();
  }

  // --- for automation (tests, the wall display's remote) -------------------------------------

  /** The drawn style of a feature: {fillColor, color, radius, weight, level}. */
  styleOf(id) {
    const found = this.features.get(id);
    if (!found) return null;
    const { fillColor, color, radius, weight } = found.marker.options;
    return { fillColor, color, radius, weight, level: found.def.level ? found.def.level(found.entity) : null, layer: found.def.id };
  }

  /** Where a feature is drawn, in page coordinates (null when not on the map now). */
  pointOf(id) {
    const found = this.features.get(id);
    if (!found || !found.marker._map) return null;
    const p = this.map.latLngToContainerPoint(found.marker.getLatLng());
    const box = this.mapEl.getBoundingClientRect();
    return { x: box.left + p.x, y: box.top + p.y };
  }
}

function clusterIcon(def, count) {
  const size = count < 10 ? 30 : count < 100 ? 36 : count < 1000 ? 44 : 52;
  return L.divIcon({
    html: `<span>${Number(count)}</span><span class="sr-only"> ${escapeHtml(t(`layer.${def.id}`))}</span>`,
    className: `cluster cluster-${def.id}`,
    iconSize: L.point(size, size),
  });
}
