// Korean (default) and English strings, from two JSON dictionaries. t('key', {n: 3}) fills
// {n}; a key missing in English falls back to Korean, then to the key itself.
import ko from './i18n/ko.json';
import en from './i18n/en.json';
import adminKo from './i18n/admin.ko.json';
import adminEn from './i18n/admin.en.json';

// the admin pages keep their strings in dictionaries of their own
const DICTS = { ko: { ...ko, ...adminKo }, en: { ...en, ...adminEn } };
export const LANGS = ['ko', 'en'];
const listeners = new Set();
let lang = LANGS.includes(localStorage.getItem('cityhub.lang')) ? localStorage.getItem('cityhub.lang') : 'ko';
document.documentElement.lang = lang;

export function t(key, vars) {
  let text = DICTS[lang][key] ?? DICTS.ko[key] ?? key;
  if (vars) text = text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
  return text;
}

/** t() for a value of a fixed set ('severity.critical'), falling back to the value itself. */
export function tv(group, value) {
  const key = `${group}.${value}`;
  return DICTS[lang][key] ?? DICTS.ko[key] ?? String(value ?? '');
}

export const getLang = () => lang;

export function setLang(next) {
  if (!LANGS.includes(next) || next === lang) return;
  lang = next;
  localStorage.setItem('cityhub.lang', next);
  document.documentElement.lang = next;
  relabelStatic();
  for (const fn of listeners) fn(next);
}

export function onLang(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Elements written in index.html with data-i18n get their text again. */
export function relabelStatic(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  document.title = t('app.title');
}
