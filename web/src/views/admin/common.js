// What the admin pages share: the page frame (crumbs, title, message line), the "not allowed"
// notice, a pager, press-twice buttons, ProblemDetails errors shown in full, and JSON shown as
// text. Everything from the hub goes in as text (h()).
import '../../styles/admin.css';
import { ApiError } from '../../api.js';
import { h } from '../../dom.js';
import { onLang, t } from '../../i18n.js';
import { pageInfo } from './logic.js';

export const enc = encodeURIComponent;

/** The crumbs back to the admin index and the page's title. */
export function head(titleKey, { index = true } = {}) {
  return [
    h('nav', { class: 'crumbs', 'aria-label': t('admin.crumbs') },
      h('a', { href: '#/' }, '← ', t('event.back')),
      index ? [' · ', h('a', { href: '#/admin' }, t('admin.title'))] : null),
    h('h1', { id: 'admin-title', tabindex: '-1' }, t(titleKey)),
  ];
}

/** The notice for a user without the permission a page needs. */
export function notAllowed(root, fill) {
  fill(root, ...head('admin.title', { index: false }),
    h('p', { class: 'error admin-forbidden', role: 'alert' }, t('admin.forbidden')),
    h('p', { class: 'muted' }, t('admin.forbiddenHint')));
}

/** A status line: {text, error} from say(). */
export function message(msg) {
  if (!msg) return null;
  return h('p', { class: ['admin-msg', msg.error ? 'error' : 'ok'], role: msg.error ? 'alert' : 'status' }, msg.text);
}

/** A refusal of the API, in full: its title and status, the detail, the type. */
export function problemView(err, id) {
  if (!err) return null;
  const problem = err instanceof ApiError ? err.problem : {};
  const status = err instanceof ApiError ? err.status : null;
  return h('div', { class: 'problem', role: 'alert', id },
    h('p', { class: 'problem-title' },
      status ? h('span', { class: 'problem-status' }, String(status)) : null, ' ',
      problem.title || (status ? t('admin.refused') : t('admin.notSent'))),
    h('p', { class: 'problem-detail' }, problem.detail || err.message),
    problem.type ? h('p', { class: 'problem-type' }, h('code', null, problem.type)) : null);
}

/** The text of an error, for a one-line message. */
export function errorText(err) {
  if (err instanceof ApiError && err.status === 403) return t('admin.forbiddenCall', { detail: err.problem?.detail || '' });
  return err?.problem?.detail || err?.message || String(err);
}

/** A button that acts on the second press: the first one asks (no modal dialog). */
export function twice(props, label, confirmLabel, action) {
  return h('button', {
    type: 'button', ...props,
    onclick: (ev) => {
      const button = ev.currentTarget;
      if (button.dataset.confirm !== '1') {
        button.dataset.confirm = '1';
        button.textContent = confirmLabel;
        return;
      }
      action(button);
    },
    onblur: (ev) => { // leaving the button takes the question back
      const button = ev.currentTarget;
      if (button.dataset.confirm === '1' && !button.disabled) {
        button.dataset.confirm = '';
        button.textContent = label;
      }
    },
  }, label);
}

/** "1–20 of 57" with the previous and next page buttons. */
export function pager(id, offset, limit, count, go) {
  const p = pageInfo(offset, limit, count);
  return h('div', { class: 'pager', role: 'group', 'aria-label': t('admin.paging') },
    h('button', { type: 'button', id: `${id}-prev`, disabled: p.prev === null, onclick: () => go(p.prev) }, '‹ ', t('admin.prev')),
    h('span', { class: 'pager-range', id: `${id}-range` }, t('admin.range', { first: p.first, last: p.last, total: p.total })),
    h('button', { type: 'button', id: `${id}-next`, disabled: p.next === null, onclick: () => go(p.next) }, t('admin.next'), ' ›'));
}

/** JSON shown as text in a scrollable block. */
export function jsonBlock(value, props = {}) {
  return h('pre', { class: 'json', tabindex: '0', ...props }, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
}

/** A table with a caption read by screen readers, the column titles and the rows. */
export function table(cls, captionKey, columns, rows) {
  return h('div', { class: 'scroll' }, h('table', { class: ['admin-table', cls] },
    h('caption', { class: 'sr-only' }, t(captionKey)),
    h('thead', null, h('tr', null, columns.map((k) => h('th', { scope: 'col' }, k ? t(k) : '')))),
    h('tbody', null, rows)));
}

/** Keep the focus on the element with the same id across a re-render; when it went (a row
 * deleted), on the page's title, so the keyboard is not sent back to the top of the page. */
export function keepFocus(render) {
  const had = document.activeElement && document.activeElement !== document.body;
  const id = document.activeElement?.id;
  render();
  const again = id && document.getElementById(id);
  if (again) again.focus();
  else if (had && (!document.activeElement || document.activeElement === document.body)) {
    document.getElementById('admin-title')?.focus({ preventScroll: true });
  }
}

/** What every admin page does: render again when the language changes, say things, run an
 * API call and show its refusal, keep the focus where it was across a re-render. */
export class AdminPage {
  constructor(root, { access } = {}) {
    this.root = root;
    this.access = access || {};
    this.msg = null;
    this.unLang = onLang(() => this.render());
  }

  stop() {
    this.stopped = true;
    this.unLang();
  }

  say(text, error = false) {
    this.msg = { text, error };
  }

  /** Run an API call; a refusal becomes the page's message. Returns the call's result, or
   * undefined when it failed. */
  async run(action, done) {
    try {
      const out = await action();
      if (done) this.say(done);
      return out ?? true;
    } catch (err) {
      this.say(errorText(err), true);
      return undefined;
    } finally {
      if (!this.stopped) keepFocus(() => this.render());
    }
  }
}

/** A labelled field. */
export function field(id, labelKey, ...control) {
  return h('label', { class: 'field', for: id }, t(labelKey), control);
}
