// One event's page: what happened, the actions (acknowledge, assign, start, clear, cancel,
// complete; each with a comment), its timeline (status history from the temporal API, SOP
// ticks, video shares), the SOP checklist, the nearest cameras and video-share grants.
import { ApiError, api } from '../api.js';
import { fill, h } from '../dom.js';
import { age, fmtTime, num } from '../format.js';
import { onLang, t, tv } from '../i18n.js';
import { NEXT, grade, isOpen } from '../model.js';

const AGENCIES = ['police112', 'fire119', 'disaster-center'];
const enc = encodeURIComponent;

export class EventPage {
  constructor(root, id, { store, onShowOnMap, onBack } = {}) {
    this.root = root;
    this.id = id;
    this.store = store;
    this.onShowOnMap = onShowOnMap;
    this.onBack = onBack;
    this.event = null;
    this.history = [];
    this.grants = [];
    this.cameras = null;
    this.templates = null;
    this.message = null;
    this.unsub = store?.subscribe((change) => {
      if (change.event.id !== this.id) return;
      this.event = { ...this.event, ...change.event };
      this.loadHistory().then(() => this.render());
    });
    this.unLang = onLang(() => this.render());
  }

  stop() {
    clearTimeout(this.retry);
    this.unsub?.();
    this.unLang();
  }

  async load() {
    fill(this.root, h('p', { class: 'muted' }, t('loading')));
    try {
      this.event = await api(`/cityhub/v1/events/${enc(this.id)}`);
    } catch (err) {
      fill(this.root, h('p', { class: 'error', role: 'alert' }, err instanceof ApiError && err.status === 404 ? t('event.notFound') : err.message),
        h('a', { href: '#/' }, t('event.back')));
      return;
    }
    await Promise.all([this.loadHistory(), this.loadGrants(), this.loadCameras(), this.loadTemplates()]);
    this.render();
  }

  async loadHistory() {
    try {
      const found = await api(`/ngsi-ld/v1/temporal/entities/${enc(this.id)}?attrs=status&lastN=100&options=sysAttrs`);
      const key = Object.keys(found).find((k) => k.split(/[/#]/).pop() === 'status');
      const instances = key ? [].concat(found[key]) : [];
      const sub = (inst, name) => {
        const k = Object.keys(inst).find((x) => x.split(/[/#]/).pop() === name);
        return k ? inst[k]?.value : undefined;
      };
      this.history = instances.map((inst) => ({
        at: inst.modifiedAt || inst.createdAt, kind: 'status', value: inst.value,
        by: sub(inst, 'changedBy'), reason: sub(inst, 'reason'),
      }));
    } catch {
      this.history = [];
    }
    this.catchUp();
  }

  /** History is recorded a moment after the change (a consumer of the change log): while the
   * last recorded status is not the event's, look again shortly. */
  catchUp() {
    clearTimeout(this.retry);
    const last = this.history.at(-1)?.value;
    if (!this.event || last === this.event.status || (this.tries = (this.tries || 0) + 1) > 20) {
      this.tries = 0;
      return;
    }
    this.retry = setTimeout(() => this.loadHistory().then(() => this.render()), 300);
  }

  async loadGrants() {
    try {
      this.grants = (await api('/cityhub/v1/cctv/grants')).filter((g) => g.eventId === this.id);
    } catch {
      this.grants = [];
    }
  }

  async loadCameras() {
    const coords = this.event?.location?.coordinates;
    if (!Array.isArray(coords)) {
      this.cameras = [];
      return;
    }
    try {
      this.cameras = await api(`/cityhub/v1/cctv/nearest?lon=${coords[0]}&lat=${coords[1]}&count=8&maxDistance=500`);
    } catch {
      this.cameras = [];
    }
  }

  async loadTemplates() {
    if (this.event?.sop || this.templates) return;
    try {
      this.templates = await api('/cityhub/v1/sops');
    } catch {
      this.templates = [];
    }
  }

  async reloadEvent() {
    this.event = await api(`/cityhub/v1/events/${enc(this.id)}`);
    await Promise.all([this.loadHistory(), this.loadGrants(), this.loadTemplates()]);
    this.render();
  }

  say(text, error = false) {
    this.message = { text, error };
  }

  async run(action) {
    try {
      await action();
    } catch (err) {
      this.say(err.message, true);
    }
    await this.reloadEvent().catch(() => this.render());
  }

  // --- rendering ------------------------------------------------------------------------------

  render() {
    const e = this.event;
    if (!e) return;
    const focusId = document.activeElement?.id;
    fill(this.root,
      h('nav', { class: 'crumbs' }, h('a', { href: '#/' }, '← ', t('event.back'))),
      this.header(e),
      this.message ? h('p', { class: this.message.error ? 'error' : 'ok', role: this.message.error ? 'alert' : 'status' }, this.message.text) : null,
      h('div', { class: 'event-grid' },
        h('div', { class: 'col' }, this.actions(e), this.sop(e), this.timeline()),
        h('div', { class: 'col' }, this.camerasSection(e), this.grantsSection())));
    if (focusId) document.getElementById(focusId)?.focus();
  }

  header(e) {
    const facts = [
      ['eventCode', e.eventCode], ['category', tv('category', e.category)], ['placeName', e.placeName],
      ['occurredAt', `${fmtTime(e.occurredAt)} (${age(e.occurredAt)})`], ['assignee', e.assignee],
      ['occurrenceCount', e.occurrenceCount], ['source', e.source], ['description', e.description],
    ].filter(([, v]) => v !== undefined && v !== null && v !== '');
    return h('header', { class: ['event-head', `sev-${e.severity}`] },
      h('span', { class: 'grade big' }, String(grade(e.severity) ?? '–')),
      h('div', null,
        h('h1', { id: 'event-title' }, e.eventName || e.eventCode || e.id),
        h('p', null,
          h('span', { class: `sevtag sev-${e.severity}` }, tv('severity', e.severity)), ' ',
          h('span', { class: `status st-${e.status}`, id: 'event-status' }, tv('status', e.status)),
          e.escalated ? h('span', { class: 'tag' }, t('event.escalated')) : null),
        h('dl', { class: 'facts inline' }, facts.map(([k, v]) => [h('dt', null, t(`attr.${k}`)), h('dd', null, String(v))])),
        e.location && this.onShowOnMap ? h('button', { type: 'button', onclick: () => this.onShowOnMap(e.id) }, '◎ ', t('event.showOnMap')) : null));
  }

  actions(e) {
    const open = isOpen(e);
    const next = NEXT[e.status] || [];
    const buttons = ['acknowledged', 'assigned', 'inProgress', 'cleared', 'cancelled', 'completed']
      .filter((to) => next.includes(to))
      .map((to) => h('button', {
        type: 'button', class: ['action', `to-${to}`, to === 'cleared' && 'primary'], dataset: { to },
        onclick: () => this.transition(to),
      }, t(`action.${to}`)));
    return h('section', { class: 'card', 'aria-labelledby': 'actions-title' },
      h('h2', { id: 'actions-title' }, t('event.actions')),
      open
        ? [
          h('label', { class: 'field', for: 'ev-reason' }, t('event.reason'),
            h('textarea', { id: 'ev-reason', rows: 2, maxlength: 500, placeholder: t('event.reasonHint') })),
          h('label', { class: 'field', for: 'ev-assignee' }, t('event.assignee'),
            h('input', { id: 'ev-assignee', type: 'text', autocomplete: 'off', value: e.assignee || '' })),
          h('div', { class: 'buttons' }, buttons),
        ]
        : h('p', { class: 'muted' }, t('event.closed', { status: tv('status', e.status) })));
  }

  transition(to) {
    const reason = document.getElementById('ev-reason')?.value.trim() || '';
    const assignee = document.getElementById('ev-assignee')?.value.trim() || '';
    if (to === 'assigned' && !assignee) {
      this.say(t('event.needAssignee'), true);
      this.render();
      document.getElementById('ev-assignee')?.focus();
      return;
    }
    const body = { to, reason, ...(to === 'assigned' ? { assignee } : {}) };
    this.run(async () => {
      await api(`/cityhub/v1/events/${enc(this.id)}/transitions`, { method: 'POST', body });
      this.say(t('event.moved', { status: tv('status', to) }));
    });
  }

  timeline() {
    const items = [...this.history.map((x) => ({ ...x, text: tv('status', x.value) }))];
    for (const step of this.event.sop?.steps || []) {
      if (step.at && step.status !== 'pending') {
        items.push({ at: step.at, kind: 'sop', text: t('timeline.step', { title: step.title, status: tv('step', step.status) }), by: step.by, reason: step.comment });
      }
    }
    for (const g of this.grants) {
      const names = { agency: tv('agency', g.agency), camera: this.cameraName(g.cameraId) };
      items.push({ at: g.grantedAt, kind: 'grant', text: t('timeline.grant', names), by: g.grantedBy, reason: g.purpose });
      if (g.revokedAt) items.push({ at: g.revokedAt, kind: 'revoke', text: t('timeline.revoke', names), by: g.revokedBy });
    }
    items.sort((a, b) => String(a.at).localeCompare(String(b.at)));
    return h('section', { class: 'card', 'aria-labelledby': 'timeline-title' },
      h('h2', { id: 'timeline-title' }, t('event.timeline')),
      items.length
        ? h('ol', { class: 'timeline' }, items.map((x) => h('li', { class: `tl-${x.kind}` },
          h('time', { datetime: x.at }, fmtTime(x.at)),
          h('span', { class: 'tl-text' }, x.text),
          x.by ? h('span', { class: 'tl-by' }, t('timeline.by', { who: x.by })) : null,
          x.reason ? h('q', { class: 'tl-reason' }, x.reason) : null)))
        : h('p', { class: 'muted' }, t('event.noHistory')));
  }

  sop(e) {
    const open = isOpen(e);
    const sop = e.sop;
    const head = h('h2', { id: 'sop-title' }, t('event.sop'), sop?.name ? ` — ${sop.name}` : '');
    if (!sop) {
      const templates = this.templates || [];
      return h('section', { class: 'card', 'aria-labelledby': 'sop-title' }, head,
        h('p', { class: 'muted' }, t('sop.none')),
        open && templates.length
          ? h('div', { class: 'row' },
            h('label', { class: 'field', for: 'sop-template' }, t('sop.template'),
              h('select', { id: 'sop-template' }, templates.map((tp) => h('option', { value: tp.id }, `${tp.name || tp.id}`)))),
            h('button', { type: 'button', onclick: () => this.startSop() }, t('sop.start')))
          : null);
    }
    const now = Date.now();
    const steps = sop.steps.map((step) => {
      const late = step.status === 'pending' && step.dueAt && Date.parse(step.dueAt) < now;
      const pending = step.status === 'pending' || step.status === 'failed';
      const commentId = `sop-comment-${step.id}`;
      return h('li', { class: ['step', `step-${step.status}`, late && 'late'], dataset: { step: step.id } },
        h('span', { class: 'step-mark', 'aria-hidden': 'true' }, step.status === 'done' ? '✔' : step.status === 'skipped' ? '–' : step.status === 'failed' ? '!' : '○'),
        h('div', { class: 'step-body' },
          h('span', { class: 'step-title' }, step.title),
          h('span', { class: 'step-meta' },
            tv('role', step.role), ' · ', tv('step', step.status),
            step.dueAt ? [' · ', t('sop.due', { time: fmtTime(step.dueAt, false) })] : null,
            late ? [' · ', h('strong', null, t('sop.late'))] : null,
            step.by ? [' · ', t('timeline.by', { who: step.by })] : null),
          step.comment ? h('q', null, step.comment) : null,
          step.result?.error ? h('span', { class: 'error' }, step.result.error) : null),
        open && pending
          ? h('div', { class: 'step-actions' },
            h('label', { class: 'sr-only', for: commentId }, t('sop.comment', { title: step.title })),
            h('input', { id: commentId, type: 'text', placeholder: t('sop.commentHint'), autocomplete: 'off' }),
            h('button', { type: 'button', class: 'tick', 'aria-label': t('sop.doneLabel', { title: step.title }), onclick: () => this.tick(step.id, 'done') }, t('sop.done')),
            h('button', { type: 'button', 'aria-label': t('sop.skipLabel', { title: step.title }), onclick: () => this.tick(step.id, 'skipped') }, t('sop.skip')))
          : null);
    });
    const done = sop.steps.filter((s) => s.status === 'done' || s.status === 'skipped').length;
    return h('section', { class: 'card', 'aria-labelledby': 'sop-title' }, head,
      h('p', { class: 'muted' }, t('sop.progress', { done, total: sop.steps.length })),
      h('ol', { class: 'sop' }, steps));
  }

  tick(step, status) {
    const comment = document.getElementById(`sop-comment-${step}`)?.value.trim() || undefined;
    this.run(async () => {
      await api(`/cityhub/v1/events/${enc(this.id)}/sop/steps/${enc(step)}`, { method: 'POST', body: { status, ...(comment ? { comment } : {}) } });
      this.say(t('sop.ticked'));
    });
  }

  startSop() {
    const template = document.getElementById('sop-template')?.value;
    this.run(async () => {
      await api(`/cityhub/v1/events/${enc(this.id)}/sop`, { method: 'POST', body: template ? { template } : {} });
      this.say(t('sop.started'));
    });
  }

  cameraName(id) {
    return this.cameras?.find((c) => c.id === id)?.name || short(id);
  }

  camerasSection(e) {
    const cams = this.cameras || [];
    const open = isOpen(e);
    const list = cams.length
      ? h('ul', { class: 'cameras' }, cams.map((c, i) => h('li', null,
        h('label', { for: `cam-${i}` },
          open ? h('input', { type: 'checkbox', id: `cam-${i}`, class: 'cam-pick', value: c.id, checked: i < 3 }) : null, ' ',
          h('span', { class: 'cam-name' }, c.name || short(c.id)), ' ',
          h('span', { class: 'muted' }, t('camera.distance', { m: num(c.distance, 0) })),
          c.facing ? h('span', { class: 'tag' }, t('camera.facing')) : null))))
      : h('p', { class: 'muted' }, e.location ? t('camera.none') : t('camera.noLocation'));
    const form = open && cams.length
      ? h('form', { class: 'grant-form', onsubmit: (ev) => { ev.preventDefault(); this.grant(); } },
        h('h3', null, t('grant.new')),
        h('label', { class: 'field', for: 'grant-agency' }, t('grant.agency'),
          h('select', { id: 'grant-agency' }, AGENCIES.map((a) => h('option', { value: a }, tv('agency', a))))),
        h('label', { class: 'field', for: 'grant-purpose' }, t('grant.purpose'),
          h('input', { id: 'grant-purpose', type: 'text', required: true, maxlength: 200, autocomplete: 'off' })),
        h('label', { class: 'field', for: 'grant-minutes' }, t('grant.minutes'),
          h('input', { id: 'grant-minutes', type: 'number', min: 1, max: 1440, value: 30 })),
        h('button', { type: 'submit', class: 'primary', id: 'grant-submit' }, t('grant.create')))
      : null;
    return h('section', { class: 'card', 'aria-labelledby': 'cameras-title' },
      h('h2', { id: 'cameras-title' }, t('event.cameras')), list, form);
  }

  grant() {
    const cameras = [...this.root.querySelectorAll('.cam-pick:checked')].map((el) => el.value);
    const purpose = document.getElementById('grant-purpose').value.trim();
    if (!cameras.length || !purpose) {
      this.say(t(cameras.length ? 'grant.needPurpose' : 'grant.needCamera'), true);
      this.render();
      return;
    }
    const body = {
      eventId: this.id, agency: document.getElementById('grant-agency').value, purpose, cameras,
      minutes: Number(document.getElementById('grant-minutes').value) || 30,
    };
    this.run(async () => {
      const made = await api('/cityhub/v1/cctv/grants', { method: 'POST', body });
      this.say(t('grant.created', { n: made.length, agency: tv('agency', body.agency) }));
    });
  }

  grantsSection() {
    const rows = this.grants.map((g) => {
      const state = g.revokedAt ? 'revoked' : g.live ? 'live' : 'expired';
      return h('tr', { dataset: { grant: g.id, state } },
        h('td', null, this.cameraName(g.cameraId)),
        h('td', null, tv('agency', g.agency)),
        h('td', null, g.purpose),
        h('td', null, g.grantedBy),
        h('td', null, fmtTime(g.expiresAt, false)),
        h('td', null, h('span', { class: `tag grant-${state}` }, t(`grant.${state}`))),
        h('td', null, state === 'live'
          ? h('button', { type: 'button', class: 'revoke', 'aria-label': t('grant.revokeLabel', { camera: this.cameraName(g.cameraId), agency: tv('agency', g.agency) }), onclick: (ev) => this.revoke(g, ev.currentTarget) }, t('grant.revoke'))
          : null));
    });
    return h('section', { class: 'card', 'aria-labelledby': 'grants-title' },
      h('h2', { id: 'grants-title' }, t('event.grants')),
      rows.length
        ? h('table', { class: 'grants' },
          h('thead', null, h('tr', null, ['grant.camera', 'grant.agency', 'grant.purposeCol', 'grant.by', 'grant.expires', 'grant.state', ''].map((k) => h('th', { scope: 'col' }, k ? t(k) : '')))),
          h('tbody', null, rows))
        : h('p', { class: 'muted' }, t('grant.none')));
  }

  revoke(g, button) {
    if (button.dataset.confirm !== '1') { // a second press confirms (no modal dialog)
      button.dataset.confirm = '1';
      button.textContent = t('grant.confirmRevoke');
      return;
    }
    this.run(async () => {
      await api(`/cityhub/v1/cctv/grants/${enc(g.id)}`, { method: 'DELETE' });
      this.say(t('grant.revokedMsg'));
    });
  }
}

const short = (id) => String(id || '').split(':').pop();
