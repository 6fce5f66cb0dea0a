// The admin pages' pure logic (no DOM, no strings of their own; tested by node --test): who may
// use which page, JSON typed by hand with where it breaks, paging, a device from the small
// form, grants from the role picker, a rule as it is sent back, a schema as rows.

/** The permissions a user (GET /cityhub/v1/auth/me) holds in a tenant ('' the default one):
 * grants for every tenant ('*') count everywhere. */
export function permissionsIn(user, tenant = '') {
  const access = user?.access || {};
  return new Set([...(access['*']?.permissions || []), ...(access[tenant || '(default)']?.permissions || [])]);
}

/** Permissions held for every tenant: the only ones that count for users and model changes. */
export function globalPermissions(user) {
  return new Set(user?.access?.['*']?.permissions || []);
}

/** Permissions held in some tenant (reading data models needs the permission in any). */
export function anyPermissions(user) {
  return new Set(Object.values(user?.access || {}).flatMap((a) => a?.permissions || []));
}

/** Which admin pages (and actions) a user may use in a tenant. The admin area is for holders of
 * an administrative permission (devices, data models or users); each page also needs what its
 * API needs, in the scope the hub looks for it (cityhub/auth/policy.py). */
export function adminAccess(user, tenant = '') {
  const here = permissionsIn(user, tenant);
  const all = globalPermissions(user);
  const any = anyPermissions(user);
  const admin = here.has('iot:admin') || all.has('models:admin') || all.has('users:admin');
  const out = {
    any: admin,
    devices: admin && here.has('iot:admin'),
    notifications: admin && here.has('subscriptions:read'),
    notificationsWrite: admin && here.has('subscriptions:write'),
    rules: admin && here.has('events:read'),
    rulesWrite: admin && here.has('events:write'),
    models: admin && any.has('models:read'),
    modelsAdmin: admin && all.has('models:admin'),
    users: admin && all.has('users:admin'),
  };
  out.deadLetters = out.devices || out.notifications;
  return out;
}

/** Parse JSON typed by a person: {value} or {error, line, column} (1-based) saying where. */
export function parseJson(text) {
  const source = String(text ?? '');
  if (!source.trim()) return { error: 'empty', line: 1, column: 1 };
  try {
    return { value: JSON.parse(source) };
  } catch (err) {
    // browsers do not all say where (V8: "Unexpected token 't', ..."), so look for it here
    const at = jsonErrorOffset(source) ?? source.length;
    return { error: String(err?.message || err), ...lineColumn(source, at) };
  }
}

/** The offset of the first JSON syntax error in a text, or null when it is valid JSON. */
export function jsonErrorOffset(src) {
  let i = 0;
  const fail = () => { throw new SyntaxAt(i); };
  const ws = () => { while (i < src.length && ' \t\n\r'.includes(src[i])) i += 1; };
  const word = (w) => { if (src.startsWith(w, i)) i += w.length; else fail(); };
  const string = () => {
    if (src[i] !== '"') fail();
    for (i += 1; i < src.length && src[i] !== '"'; i += 1) {
      if (src[i] < ' ') fail();
      if (src[i] === '\\') i += 1;
    }
    if (i >= src.length) fail();
    i += 1;
  };
  const number = () => {
    const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(src.slice(i));
    if (!m) fail();
    i += m[0].length;
  };
  const value = () => {
    ws();
    const c = src[i];
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i += 1;
      ws();
      if (src[i] === close) { i += 1; return; }
      for (;;) {
        if (c === '{') {
          ws();
          string();
          ws();
          if (src[i] !== ':') fail();
          i += 1;
        }
        value();
        ws();
        if (src[i] === ',') { i += 1; continue; }
        if (src[i] === close) { i += 1; return; }
        fail();
      }
    }
    if (c === '"') string();
    else if (c === 't') word('true');
    else if (c === 'f') word('false');
    else if (c === 'n') word('null');
    else number();
  };
  try {
    value();
    ws();
    if (i < src.length) fail();
    return null;
  } catch (err) {
    if (err instanceof SyntaxAt) return err.at;
    throw err;
  }
}

class SyntaxAt extends Error {
  constructor(at) {
    super(`JSON syntax error at ${at}`);
    this.at = at;
  }
}

/** The 1-based line and column of a character offset in a text. */
export function lineColumn(text, position) {
  const before = String(text).slice(0, Math.max(0, position));
  const lines = before.split('\n');
  return { line: lines.length, column: lines.at(-1).length + 1 };
}

/** Paging over a list the API counts: which rows show, and whether there is a page before or
 * after. */
export function pageInfo(offset, limit, count) {
  const total = Math.max(0, Number(count) || 0);
  const first = total ? Math.min(offset, Math.max(0, total - 1)) + 1 : 0;
  const last = Math.min(total, offset + limit);
  return {
    first, last, total,
    prev: offset > 0 ? Math.max(0, offset - limit) : null,
    next: offset + limit < total ? offset + limit : null,
  };
}

const DEVICE_ID = /^[A-Za-z0-9_.:-]+$/;

/** A device for POST /iot/devices from the small form's fields (blank fields left out); the
 * error names the field when it cannot be one. */
export function deviceFromForm({ deviceId, apikey, entityName, entityType, attributes } = {}) {
  const id = String(deviceId || '').trim();
  if (!id) return { error: 'deviceId.required' };
  if (!DEVICE_ID.test(id)) return { error: 'deviceId.invalid' };
  const device = { device_id: id };
  for (const [key, value] of [['apikey', apikey], ['entity_name', entityName], ['entity_type', entityType]]) {
    const v = String(value || '').trim();
    if (v) device[key] = v;
  }
  // "p10=pm10:Number, loc=location:geo:point": a measure's object_id, its attribute and type
  const mapped = [];
  for (const part of String(attributes || '').split(/[,\n]/).map((x) => x.trim()).filter(Boolean)) {
    const m = /^([^=\s]+)\s*=\s*([^:\s]+)\s*(?::\s*(\S+))?$/.exec(part);
    if (!m) return { error: 'attributes.invalid', part };
    mapped.push({ object_id: m[1], name: m[2], type: m[3] || 'Number' });
  }
  if (mapped.length) device.attributes = mapped;
  return { device };
}

/** Devices from pasted JSON: {"devices": [...]}, an array of devices or one device. */
export function devicesFromJson(value) {
  if (Array.isArray(value)) return value;
  if (value && typeof value === 'object' && Array.isArray(value.devices)) return value.devices;
  if (value && typeof value === 'object') return [value];
  return null;
}

/** Service groups from pasted JSON: {"services": [...]}, an array or one group. */
export function groupsFromJson(value) {
  if (Array.isArray(value)) return value;
  if (value && typeof value === 'object' && Array.isArray(value.services)) return value.services;
  if (value && typeof value === 'object') return [value];
  return null;
}

const STORED = new Set(['createdAt', 'modifiedAt', 'state']);

/** A rule as it is sent back (PUT): without what the hub adds to a stored one. */
export function ruleBody(rule) {
  return Object.fromEntries(Object.entries(rule || {}).filter(([key]) => !STORED.has(key)));
}

/** A rule's JSON for its editor: two-space indented, members in the order a person reads them. */
export function ruleText(rule) {
  const body = ruleBody(rule);
  const first = ['id', 'name', 'description', 'enabled', 'kind', 'entityType', 'q'];
  const ordered = {};
  for (const key of first) if (key in body) ordered[key] = body[key];
  for (const [key, value] of Object.entries(body)) if (!(key in ordered)) ordered[key] = value;
  return JSON.stringify(ordered, null, 2);
}

/** A rule's enabled flag (absent means enabled). */
export const isEnabled = (rule) => rule?.enabled !== false;

/** The dry run's answer as rows: what it would do, when, to which entity (a clear names it
 * only in its dedupe key, rule:<id>:<entity>), since when and why. */
export function dryRunRows(result) {
  const prefix = `rule:${result?.rule}:`;
  return (result?.events || []).map((e) => ({
    at: e.at,
    action: e.action,
    entity: e.entityId || (e.dedupeKey?.startsWith(prefix) ? e.dedupeKey.slice(prefix.length) : ''),
    code: e.eventCode || '',
    since: e.since || '',
    detail: e.reason || (e.change !== undefined ? String(e.change) : ''),
    key: e.dedupeKey || '',
  }));
}

/** An ISO time from a datetime-local field's value (the browser's zone), '' when empty. */
export function localToIso(value) {
  if (!value) return '';
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? '' : at.toISOString();
}

/** A data model's schema as rows: attribute, JSON type, NGSI-LD type, unit, range, values. */
export function schemaRows(schema) {
  const required = new Set(schema?.required || []);
  return Object.entries(schema?.properties || {}).map(([name, p]) => {
    const alts = [p, ...(p?.anyOf || []), ...(p?.oneOf || [])];
    const pick = (key) => alts.map((a) => a?.[key]).find((v) => v !== undefined);
    const type = [...new Set(alts.flatMap((a) => [].concat(a?.type ?? [])))].join(' | ') ||
      (pick('$ref') ? String(pick('$ref')).split('/').pop() : '');
    const min = pick('minimum') ?? pick('exclusiveMinimum');
    const max = pick('maximum') ?? pick('exclusiveMaximum');
    const range = min !== undefined || max !== undefined ? `${min ?? ''}–${max ?? ''}` : '';
    return {
      name, type, range,
      required: required.has(name),
      ngsi: p?.['x-ngsi']?.type || '',
      unit: p?.['x-ngsi']?.unitCode || '',
      format: pick('format') || '',
      values: (pick('enum') || []).join(', '),
      description: p?.description || '',
    };
  });
}

/** A grant as a short label: operator@(default), admin@*, provider@gwacheon[ParkingSpot]. */
export function grantLabel(grant) {
  const tenant = grant?.tenant === undefined || grant.tenant === '' ? '(default)' : grant.tenant;
  const types = grant?.types?.length ? `[${grant.types.join(',')}]` : '';
  return `${grant?.role}@${tenant}${types}`;
}

/** Grants from the picked roles, all in one tenant ('' the default, '*' every tenant). */
export function grantsFor(roles, tenant = '') {
  return [...new Set(roles)].filter(Boolean).map((role) => ({ role, tenant: String(tenant ?? '').trim() }));
}

/** The grants with one removed (by position) or one added (unless already there). */
export function withoutGrant(grants, index) {
  return (grants || []).filter((_, i) => i !== index);
}

export function withGrant(grants, grant) {
  const same = (g) => g.role === grant.role && (g.tenant || '') === (grant.tenant || '') && !g.types && !grant.types;
  return (grants || []).some(same) ? [...grants] : [...(grants || []), grant];
}

const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

/** Why a new user cannot be sent as typed (a message key), or null. */
export function userProblem({ name, password, roles }) {
  if (!USER_NAME.test(String(name || ''))) return 'user.badName';
  if (password && String(password).length < 10) return 'user.shortPassword';
  if (!roles?.length) return 'user.needRole';
  return null;
}
