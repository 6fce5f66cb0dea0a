// The admin area (#/admin/...): a small index of the pages the user may use, and the page a
// #fragment names. Who may use what: adminAccess() in logic.js.
import { getTenant } from '../../api.js';
import { fill, h } from '../../dom.js';
import { t } from '../../i18n.js';
import { AdminPage, head, notAllowed } from './common.js';
import { DeadLettersPage } from './deadletters.js';
import { DevicesPage } from './devices.js';
import { adminAccess } from './logic.js';
import { ModelsPage } from './models.js';
import { RulesPage } from './rules.js';
import { UsersPage } from './users.js';

export const ADMIN = '#/admin';

const PAGES = [
  ['devices', 'devices', DevicesPage],
  ['dead-letters', 'deadLetters', DeadLettersPage],
  ['rules', 'rules', RulesPage],
  ['models', 'models', ModelsPage],
  ['users', 'users', UsersPage],
];

/** Whether the user sees the admin entry in the menu. */
export function canAdmin(user) {
  return adminAccess(user, getTenant()).any;
}

class AdminIndex extends AdminPage {
  load() {
    this.render();
  }

  render() {
    if (this.stopped) return;
    if (!this.access.any) {
      notAllowed(this.root, fill);
      return;
    }
    const key = { devices: 'devices', 'dead-letters': 'deadLetters', rules: 'rules', models: 'models', users: 'users' };
    const items = PAGES.filter(([, allowed]) => this.access[allowed]).map(([path]) => h('li', { class: 'card' },
      h('a', { href: `${ADMIN}/${path}`, class: 'admin-link' }, t(`admin.${key[path]}.title`)),
      h('p', { class: 'muted' }, t(`admin.${key[path]}.summary`))));
    fill(this.root, ...head('admin.title', { index: false }),
      h('p', { class: 'muted' }, t('admin.intro')),
      h('ul', { class: 'admin-index' }, items));
  }
}

/** The admin page the #fragment (#/admin, #/admin/rules, #/admin/models/AirQualityObserved)
 * names, for this user; call load() on it. */
export function adminPage(root, hash, user) {
  const access = adminAccess(user, getTenant());
  const [, , name = '', ...rest] = hash.split('/');
  const found = PAGES.find(([path]) => path === name);
  if (!found) return new AdminIndex(root, { access, user });
  const [, allowed, Page] = found;
  if (!access[allowed]) return new AdminIndex(root, { access: { ...access, any: false }, user });
  return new Page(root, { access, user }, rest.join('/')); // route() decoded the fragment
}
