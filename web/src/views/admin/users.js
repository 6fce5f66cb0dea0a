// #/admin/users (administrators for every tenant: users:admin): the users with their grants;
// adding one with role(s) in a tenant and a password; changing a user's grants; disabling,
// enabling and deleting (press twice). Roles come from GET /cityhub/v1/roles.
import { api } from '../../api.js';
import { fill, h } from '../../dom.js';
import { fmtTime } from '../../format.js';
import { t } from '../../i18n.js';
import { AdminPage, enc, field, head, message, notAllowed, problemView, table, twice } from './common.js';
import { grantLabel, grantsFor, userProblem, withGrant, withoutGrant } from './logic.js';

const FALLBACK_ROLES = ['admin', 'supervisor', 'operator', 'agency', 'provider', 'consumer', 'citizen', 'auditor'];

export class UsersPage extends AdminPage {
  constructor(root, ctx) {
    super(root, ctx);
    this.me = ctx?.user?.name;
    this.users = null;
    this.roles = null;
    this.error = null;
    this.addError = null;
    this.editing = null; // {name, grants}
    this.editError = null;
  }

  async load() {
    if (!this.access.users) {
      notAllowed(this.root, fill);
      return;
    }
    this.render();
    await Promise.all([this.reload(), this.loadRoles()]);
    this.render();
  }

  async reload() {
    try {
      this.users = await api('/cityhub/v1/users');
      this.error = null;
    } catch (err) {
      this.users = [];
      this.error = err;
    }
  }

  async loadRoles() {
    try {
      this.roles = (await api('/cityhub/v1/roles')).roles.map((r) => r.name);
    } catch {
      this.roles = FALLBACK_ROLES;
    }
  }

  render() {
    if (!this.access.users || this.stopped) return;
    const kept = [...this.root.querySelectorAll('#user-add input:not([type=checkbox])')].map((el) => [el.id, el.value]);
    const picked = [...this.root.querySelectorAll('#user-add input[type=checkbox]:checked')].map((el) => el.id);
    fill(this.root, ...head('admin.users.title'),
      h('p', { class: 'muted' }, t('admin.users.intro')),
      message(this.msg),
      h('div', { class: 'admin-grid' },
        h('div', { class: 'col wide' }, this.listSection(), this.grantsEditor()),
        h('div', { class: 'col' }, this.addSection())));
    if (!this.clearForm) {
      for (const [id, value] of kept) {
        const el = document.getElementById(id);
        if (el) el.value = value;
      }
      for (const id of picked) {
        const el = document.getElementById(id);
        if (el) el.checked = true;
      }
    }
    this.clearForm = false;
  }

  listSection() {
    const rows = (this.users || []).map((u) => h('tr', { dataset: { user: u.name, disabled: String(Boolean(u.disabled)) }, class: u.disabled ? 'off' : null },
      h('td', null, h('strong', null, u.name), u.name === this.me ? h('span', { class: 'tag' }, t('admin.users.you')) : null),
      h('td', null, [u.fullName, u.organization].filter(Boolean).join(' · ')),
      h('td', { class: 'grants-cell' }, (u.grants || []).map((g) => h('span', { class: 'tag grant' }, grantLabel(g)))),
      h('td', null, u.disabled ? h('span', { class: 'tag off' }, t('admin.users.disabled')) : h('span', { class: 'tag on' }, t('admin.users.active'))),
      h('td', null, h('time', { datetime: u.createdAt }, fmtTime(u.createdAt))),
      h('td', { class: 'actions' },
        h('button', { type: 'button', class: 'roles', 'aria-label': t('admin.users.rolesLabel', { name: u.name }), onclick: () => this.editGrants(u) }, t('admin.users.roles')),
        u.name === this.me
          ? null
          : [h('button', {
            type: 'button', id: `user-disable-${u.name}`, class: 'disable', 'aria-label': t(u.disabled ? 'admin.users.enableLabel' : 'admin.users.disableLabel', { name: u.name }),
            onclick: (ev) => (u.disabled ? this.setDisabled(u, false) : this.confirmDisable(u, ev.currentTarget)),
          }, u.disabled ? t('admin.users.enable') : t('admin.users.disable')),
          twice({ class: 'danger delete', 'aria-label': t('admin.users.deleteLabel', { name: u.name }) }, t('admin.delete'), t('admin.confirmDelete'), () => this.remove(u.name))])));
    return h('section', { class: 'card', 'aria-labelledby': 'users-title' },
      h('h2', { id: 'users-title' }, t('admin.users.list')),
      this.users === null ? h('p', { class: 'muted' }, t('loading')) : null,
      this.error ? problemView(this.error) : null,
      rows.length
        ? table('users', 'admin.users.list',
          ['admin.users.name', 'admin.users.who', 'admin.users.grants', 'admin.users.state', 'admin.users.created', ''], rows)
        : null);
  }

  /** Disabling asks first, like deleting: the user's logins and keys stop at once. */
  confirmDisable(u, button) {
    if (button.dataset.confirm !== '1') {
      button.dataset.confirm = '1';
      button.textContent = t('admin.users.confirmDisable');
      return;
    }
    this.setDisabled(u, true);
  }

  setDisabled(u, disabled) {
    this.run(async () => {
      await api(`/cityhub/v1/users/${enc(u.name)}`, { method: 'PATCH', body: { disabled } });
      await this.reload();
    }, t(disabled ? 'admin.users.disabledMsg' : 'admin.users.enabledMsg', { name: u.name }));
  }

  remove(name) {
    this.run(async () => {
      await api(`/cityhub/v1/users/${enc(name)}`, { method: 'DELETE' });
      if (this.editing?.name === name) this.editing = null;
      await this.reload();
    }, t('admin.users.deleted', { name }));
  }

  roleOptions(selected) {
    return (this.roles || FALLBACK_ROLES).map((r) => h('option', { value: r, selected: r === selected }, r));
  }

  addSection() {
    const roles = this.roles || FALLBACK_ROLES;
    return h('section', { class: 'card', 'aria-labelledby': 'user-add-title' },
      h('h2', { id: 'user-add-title' }, t('admin.users.add')),
      h('form', { class: 'admin-form', id: 'user-add', onsubmit: (ev) => { ev.preventDefault(); this.add(); } },
        field('user-name', 'admin.users.name', h('input', { id: 'user-name', type: 'text', required: true, autocomplete: 'off', pattern: '[A-Za-z0-9][A-Za-z0-9._@\\-]{0,63}' })),
        field('user-password', 'admin.users.password', h('input', { id: 'user-password', type: 'password', minlength: 10, autocomplete: 'new-password', 'aria-describedby': 'user-password-hint' })),
        h('p', { class: 'hint', id: 'user-password-hint' }, t('admin.users.passwordHint')),
        h('fieldset', { class: 'roles-pick' },
          h('legend', null, t('admin.users.pickRoles')),
          roles.map((r) => h('label', { for: `user-role-${r}`, class: 'check' },
            h('input', { type: 'checkbox', id: `user-role-${r}`, value: r, class: 'role-pick' }), ' ', r))),
        field('user-tenant', 'admin.users.tenant', h('input', { id: 'user-tenant', type: 'text', autocomplete: 'off', placeholder: t('admin.users.tenantHint'), 'aria-describedby': 'user-tenant-hint' })),
        h('p', { class: 'hint', id: 'user-tenant-hint' }, t('admin.users.tenantHelp')),
        field('user-fullname', 'admin.users.fullName', h('input', { id: 'user-fullname', type: 'text', autocomplete: 'off' })),
        field('user-org', 'admin.users.organization', h('input', { id: 'user-org', type: 'text', autocomplete: 'off' })),
        h('div', { id: 'user-add-error' }, this.addError ? problemView(this.addError) : null),
        this.generated
          ? h('p', { class: 'ok generated', role: 'status' }, t('admin.users.generated', { name: this.generated.name }), ' ', h('code', { class: 'secret' }, this.generated.password))
          : null,
        h('button', { type: 'submit', class: 'primary', id: 'user-add-submit' }, t('admin.users.addButton'))));
  }

  async add() {
    const value = (id) => document.getElementById(id)?.value.trim() || '';
    const roles = [...this.root.querySelectorAll('#user-add .role-pick:checked')].map((el) => el.value);
    const name = value('user-name');
    const password = document.getElementById('user-password')?.value || '';
    const problem = userProblem({ name, password, roles });
    this.generated = null;
    if (problem) {
      this.addError = new Error(t(`admin.${problem}`));
      this.render();
      return;
    }
    const body = { name, grants: grantsFor(roles, value('user-tenant')) };
    if (password) body.password = password;
    if (value('user-fullname')) body.fullName = value('user-fullname');
    if (value('user-org')) body.organization = value('user-org');
    let made;
    try {
      made = await api('/cityhub/v1/users', { method: 'POST', body });
    } catch (err) {
      this.addError = err;
      this.render();
      return;
    }
    this.addError = null;
    if (made?.password) this.generated = { name, password: made.password };
    this.say(t('admin.users.added', { name, roles: body.grants.map(grantLabel).join(', ') }));
    await this.reload();
    this.clearForm = true;
    this.render();
    document.getElementById('user-name')?.focus();
  }

  editGrants(u) {
    this.editing = { name: u.name, grants: (u.grants || []).map((g) => ({ ...g })) };
    this.editError = null;
    this.render();
    document.getElementById('grants-title')?.focus();
  }

  grantsEditor() {
    const e = this.editing;
    if (!e) return null;
    return h('section', { class: 'card grants-editor', 'aria-labelledby': 'grants-title', dataset: { user: e.name } },
      h('h2', { id: 'grants-title', tabindex: '-1' }, t('admin.users.grantsOf', { name: e.name })),
      e.grants.length
        ? h('ul', { class: 'grant-list' }, e.grants.map((g, i) => h('li', null,
          h('span', { class: 'tag grant' }, grantLabel(g)), ' ',
          h('button', { type: 'button', class: 'icon remove-grant', 'aria-label': t('admin.users.removeGrant', { grant: grantLabel(g) }), onclick: () => this.changeDraft(withoutGrant(e.grants, i)) }, '✕'))))
        : h('p', { class: 'muted' }, t('admin.users.noGrants')),
      h('div', { class: 'row' },
        field('grant-role', 'admin.users.role', h('select', { id: 'grant-role' }, this.roleOptions('operator'))),
        field('grant-tenant', 'admin.users.tenant', h('input', { id: 'grant-tenant', type: 'text', autocomplete: 'off', placeholder: t('admin.users.tenantHint') })),
        h('button', {
          type: 'button', id: 'grant-add', onclick: () => {
            const [grant] = grantsFor([document.getElementById('grant-role').value], document.getElementById('grant-tenant').value);
            this.changeDraft(withGrant(e.grants, grant));
            document.getElementById('grant-add')?.focus();
          },
        }, '+ ', t('admin.users.addGrant'))),
      this.editError ? problemView(this.editError) : null,
      h('div', { class: 'buttons' },
        h('button', { type: 'button', class: 'primary', id: 'grants-save', onclick: () => this.saveGrants() }, t('admin.save')),
        h('button', { type: 'button', onclick: () => { this.editing = null; this.render(); } }, t('admin.close'))));
  }

  changeDraft(grants) {
    this.editing.grants = grants;
    this.render();
  }

  async saveGrants() {
    const { name, grants } = this.editing;
    try {
      await api(`/cityhub/v1/users/${enc(name)}`, { method: 'PATCH', body: { grants } });
    } catch (err) {
      this.editError = err;
      this.render();
      return;
    }
    this.editing = null;
    this.say(t('admin.users.grantsSaved', { name, grants: grants.map(grantLabel).join(', ') || '–' }));
    await this.reload();
    this.render();
  }
}
