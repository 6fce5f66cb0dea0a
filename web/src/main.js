// The dashboard: login, then the operations view (KPI tiles, live map, event board) and the
// event and audit pages, routed by the URL's #fragment. Everything is built from the hub's
// own API; no external host is contacted (works offline, see docs/dashboard.md).
import './styles/app.css';
import { api, onUnauthenticated } from './api.js';
import { Alerts } from './alert.js';
import { fill, h } from './dom.js';
import { fmtTime } from './format.js';
import { LANGS, getLang, onLang, relabelStatic, setLang, t } from './i18n.js';
import { CityMap } from './map/map.js';
import { EventStore } from './store.js';
import { AuditPage } from './views/audit.js';
import { ADMIN, adminPage, canAdmin } from './views/admin/index.js';
import { Board } from './views/board.js';
import { EventPage } from './views/event.js';
import { KpiTiles } from './views/kpis.js';
import { loginView } from './views/login.js';
import { MayorPanel } from './views/mayor.js';

performance.mark('cityhub:start');
const config = JSON.parse(document.querySelector('meta[name="cityhub-config"]')?.content || '{}');

class App {
  constructor(root) {
    this.root = root;
    this.user = null;
    this.parts = [];
    onUnauthenticated(() => this.showLogin());
    onLang(() => this.renderHeader());
    window.addEventListener('hashchange', () => this.route(true));
  }

  async start() {
    relabelStatic();
    try {
      this.user = await api('/cityhub/v1/auth/me', { quiet401: true });
    } catch {
      this.showLogin();
      return;
    }
    await this.enter();
  }

  langSwitch() {
    return h('div', { class: 'lang', role: 'group', 'aria-label': t('lang.label') },
      LANGS.map((lang) => h('button', {
        type: 'button', lang, 'aria-pressed': String(getLang() === lang), dataset: { lang },
        onclick: () => setLang(lang),
      }, t(`lang.${lang}`))));
  }

  stopAll() {
    for (const part of this.parts) part.stop?.();
    this.parts = [];
    this.page?.stop?.();
    this.page = null;
    this.mayor?.stop();
    this.mayor = null;
    this.map = null;
    this.store = null;
    clearInterval(this.clock);
  }

  showLogin() {
    if (this.loggingIn) return;
    this.loggingIn = true;
    this.stopAll();
    this.user = null;
    const main = h('main', { id: 'main', tabindex: '-1' });
    fill(this.root, main);
    const render = () => loginView(main, {
      langSwitch: this.langSwitch(),
      onLoggedIn: async () => {
        this.user = await api('/cityhub/v1/auth/me');
        unLang();
        this.loggingIn = false;
        await this.enter();
      },
    });
    const unLang = onLang(render);
    render();
  }

  async logout() {
    await api('/cityhub/v1/auth/logout', { method: 'POST' }).catch(() => {});
    this.showLogin();
  }

  canAudit() {
    return Boolean(this.user?.access?.['*']?.permissions?.includes('audit:read'));
  }

  async enter() {
    this.header = h('header', { class: 'topbar' });
    this.alertRegion = h('div', { class: 'alerts', id: 'alerts', 'aria-live': 'assertive' });
    this.kpiEl = h('section', { class: 'kpis', 'aria-label': t('kpi.title') });
    const mapPane = h('section', { class: 'map-pane', 'aria-label': t('map.label') });
    this.boardPane = h('section', { class: 'board-pane', 'aria-labelledby': 'board-title' });
    this.mayorPane = h('section', { class: 'mayor-pane', 'aria-labelledby': 'mayor-title', hidden: true });
    this.opsEl = h('div', { class: 'ops', id: 'ops' }, this.kpiEl, h('div', { class: 'ops-body' }, mapPane, this.boardPane, this.mayorPane));
    this.pageEl = h('div', { class: 'page', id: 'page', hidden: true });
    fill(this.root, this.header, this.alertRegion, h('main', { id: 'main', tabindex: '-1' }, this.opsEl, this.pageEl));
    this.renderHeader();
    this.clock = setInterval(() => this.tick(), 1000);

    this.alerts = new Alerts(this.alertRegion, { onOpen: (id) => this.openEvent(id) });
    this.store = new EventStore({ onCritical: (event) => this.alerts.critical(event) });
    this.kpis = new KpiTiles(this.kpiEl);
    this.map = new CityMap(mapPane, config, { onOpenEvent: (id) => this.openEvent(id) });
    this.board = new Board(this.boardPane, this.store, { onShowOnMap: (id) => this.showOnMap(id) });
    this.parts = [this.store, this.kpis, this.map, this.board, this.alerts];
    this.store.subscribe(() => {
      this.map?.setEvents(this.store.list());
      this.kpis.refreshSoon();
    });
    this.route();

    const board = this.store.start().then(() => performance.mark('cityhub:board'));
    const map = this.map.start().then(() => performance.mark('cityhub:map'));
    this.kpis.load();
    await Promise.all([board, map]);
    // the first paint with the board and every map feature on screen
    requestAnimationFrame(() => requestAnimationFrame(() => {
      performance.mark('cityhub:first-meaningful-paint');
      document.body.dataset.ready = '1';
      this.kpis?.startCity();
    }));
  }

  renderHeader() {
    if (!this.header || !this.user) return;
    const nav = [['#/', t('nav.ops')], ['#/mayor', t('nav.mayor')], ['#/charts', t('nav.charts')]];
    if (this.canAudit()) nav.push(['#/audit', t('nav.audit')]);
    if (canAdmin(this.user)) nav.push([ADMIN, t('nav.admin')]);
    const here = nav.map(([href]) => href).filter((href) => href !== '#/' && location.hash.startsWith(href))[0] || '#/';
    fill(this.header,
      h('div', { class: 'brand' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, '◆'), ' cityhub ', h('span', null, t('app.center'))),
      h('nav', { 'aria-label': t('nav.label') }, nav.map(([href, text]) => h('a', { href, 'aria-current': href === here ? 'page' : null }, text))),
      h('div', { class: 'tools' },
        h('span', { class: 'clock', id: 'clock', 'aria-label': t('clock.label') }, fmtTime(new Date().toISOString())),
        h('button', {
          type: 'button', class: 'sound', 'aria-pressed': String(this.alerts?.sound ?? true),
          onclick: (e) => {
            this.alerts.setSound(!this.alerts.sound);
            e.currentTarget.setAttribute('aria-pressed', String(this.alerts.sound));
          },
        }, t('sound.label')),
        this.langSwitch(),
        h('span', { class: 'user' }, this.user.name),
        h('button', { type: 'button', onclick: () => this.logout() }, t('logout'))));
    relabelStatic();
    if (this.kpiEl) this.kpiEl.setAttribute('aria-label', t('kpi.title'));
  }

  tick() {
    const clock = document.getElementById('clock');
    if (clock) clock.textContent = fmtTime(new Date().toISOString());
  }

  /** Show the page the #fragment names; moving to another one puts the focus on it. */
  route(moved = false) {
    if (!this.user || !this.opsEl) return;
    this.page?.stop?.();
    this.page = null;
    const hash = decodeURIComponent(location.hash || '#/');
    const mayor = hash.startsWith('#/mayor');
    const ops = mayor || !['#/events/', '#/audit', '#/charts', ADMIN].some((p) => hash.startsWith(p));
    this.opsEl.hidden = !ops;
    this.pageEl.hidden = ops;
    this.showMayor(ops && mayor);
    if (ops) {
      this.map?.invalidate();
    } else if (hash.startsWith('#/charts')) {
      this.page = chartsPage(this.pageEl, hash);
    } else if (hash.startsWith('#/events/')) {
      this.page = new EventPage(this.pageEl, hash.slice('#/events/'.length), {
        store: this.store, onShowOnMap: (id) => this.showOnMap(id),
      });
      this.page.load();
    } else if (hash.startsWith(ADMIN)) {
      this.page = adminPage(this.pageEl, hash, this.user);
      this.page.load();
    } else {
      this.page = new AuditPage(this.pageEl);
      this.page.load();
    }
    this.renderHeader();
    if (moved) document.getElementById('main')?.focus({ preventScroll: true });
    if (moved && !ops) window.scrollTo(0, 0);
  }

  /** The mayor's view: the map with the city's figures in place of the KPI tiles and board. */
  showMayor(on) {
    this.opsEl.classList.toggle('mayor', on);
    this.boardPane.hidden = on;
    this.mayorPane.hidden = !on;
    if (on && !this.mayor) {
      this.mayor = new MayorPanel(this.mayorPane, this.store, { onOpenEvent: (id) => this.openEvent(id) });
      this.mayor.load();
    } else if (!on && this.mayor) {
      this.mayor.stop();
      this.mayor = null;
    }
  }

  openEvent(id) {
    location.hash = `#/events/${encodeURIComponent(id)}`;
  }

  showOnMap(id) {
    if (location.hash.length > 2) location.hash = '#/';
    setTimeout(() => this.map?.focus(id), 0);
  }
}

/** The charts page, loaded on first use (its chart library stays out of the first paint). */
function chartsPage(root, hash) {
  let page = null;
  let stopped = false;
  import('./views/charts.js').then(({ ChartsPage }) => {
    if (stopped) return;
    page = new ChartsPage(root, hash);
    page.load();
  });
  return { stop() { stopped = true; page?.stop(); } };
}

const app = new App(document.getElementById('app'));
// for automation (the tests, a wall display's remote control): read-only views of the state
window.cityhub = {
  app,
  get map() { return app.map; },
  get alerts() { return app.alerts; },
  get store() { return app.store; },
};
app.start();
