// The login form: POST /cityhub/v1/auth/login sets the session cookie (and its CSRF cookie).
import { ApiError, api } from '../api.js';
import { fill, h } from '../dom.js';
import { t } from '../i18n.js';

export function loginView(root, { onLoggedIn, langSwitch }) {
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const user = h('input', { id: 'login-user', name: 'username', autocomplete: 'username', required: true });
  const password = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit', class: 'primary', id: 'login-submit' }, t('login.submit'));
  const form = h('form', {
    class: 'login card', 'aria-labelledby': 'login-title',
    onsubmit: async (ev) => {
      ev.preventDefault();
      submit.disabled = true;
      error.hidden = true;
      try {
        await api('/cityhub/v1/auth/login', { method: 'POST', body: { username: user.value, password: password.value }, quiet401: true });
        await onLoggedIn();
      } catch (err) {
        error.textContent = err instanceof ApiError && err.status === 401 ? t('login.failed') : err.message;
        error.hidden = false;
        password.select();
      } finally {
        submit.disabled = false;
      }
    },
  },
  h('h1', { id: 'login-title' }, t('app.title')),
  h('label', { class: 'field', for: 'login-user' }, t('login.user'), user),
  h('label', { class: 'field', for: 'login-password' }, t('login.password'), password),
  error, submit, langSwitch);
  fill(root, h('div', { class: 'login-wrap' }, form));
  user.focus();
}
