// The hub's HTTP API as the dashboard calls it: the session cookie set at login, the CSRF
// double-submit header on every change (X-CSRF-Token = the cityhub_csrf cookie), the tenant
// header, ProblemDetails errors as ApiError. A 401 anywhere sends the user to the login page.

const SAFE = new Set(['GET', 'HEAD']);
let tenant = localStorage.getItem('cityhub.tenant') || '';
const unauthenticated = new Set();

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

export const getTenant = () => tenant;
export function setTenant(name) {
  tenant = name || '';
  localStorage.setItem('cityhub.tenant', tenant);
}

export function onUnauthenticated(fn) {
  unauthenticated.add(fn);
}

export function csrfToken() {
  for (const part of document.cookie.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === 'cityhub_csrf') return decodeURIComponent(rest.join('='));
  }
  return '';
}

export function headers(method = 'GET', extra = {}) {
  const out = { Accept: 'application/json', ...extra };
  if (tenant) out['NGSILD-Tenant'] = tenant;
  if (!SAFE.has(method)) out['X-CSRF-Token'] = csrfToken();
  return out;
}

export async function api(path, { method = 'GET', body, accept, raw = false, quiet401 = false } = {}) {
  const init = { method, credentials: 'same-origin', headers: headers(method, accept ? { Accept: accept } : {}) };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  const response = await fetch(path, init);
  if (response.status === 401 && !quiet401) for (const fn of unauthenticated) fn();
  if (!response.ok) {
    let problem = {};
    try {
      problem = await response.json();
    } catch {
      // not JSON: the status says enough
    }
    throw new ApiError(response.status, problem);
  }
  if (raw) return response;
  if (response.status === 204 || response.headers.get('content-length') === '0') return null;
  return response.json();
}

/** Short attribute names, whatever @context the entity was written with. */
export function shortKeys(entity) {
  const out = {};
  for (const [key, value] of Object.entries(entity)) out[key.split(/[/#]/).pop()] = value;
  return out;
}

/** Every entity of a type (keyValues, the given attributes, those matching q when given),
 * fetched in parallel pages. */
export async function allEntities(type, attrs, { q, pageSize = 1000 } = {}) {
  const base = `/ngsi-ld/v1/entities?type=${encodeURIComponent(type)}&options=keyValues&limit=${pageSize}` +
    (attrs?.length ? `&attrs=${attrs.map(encodeURIComponent).join(',')}` : '') +
    (q ? `&q=${encodeURIComponent(q)}` : '');
  const first = await api(`${base}&offset=0&count=true`, { raw: true });
  const total = Number(first.headers.get('NGSILD-Results-Count') || 0);
  const rows = await first.json();
  const pages = [];
  for (let offset = pageSize; offset < total; offset += pageSize) pages.push(api(`${base}&offset=${offset}`));
  for (const page of await Promise.all(pages)) rows.push(...page);
  return rows.map(shortKeys);
}
