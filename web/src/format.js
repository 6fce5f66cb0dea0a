// Times in Seoul time, ages and numbers in the page's language.
import { getLang, t } from './i18n.js';

const ZONE = 'Asia/Seoul';

export function fmtTime(iso, withDate = true) {
  if (!iso) return '–';
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return String(iso);
  const opts = withDate
    ? { timeZone: ZONE, month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false }
    : { timeZone: ZONE, hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false };
  return new Intl.DateTimeFormat(getLang() === 'ko' ? 'ko-KR' : 'en-GB', opts).format(at);
}

export function age(iso, now = Date.now()) {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return '';
  const seconds = Math.max(0, Math.round((now - at) / 1000));
  const fmt = new Intl.RelativeTimeFormat(getLang(), { numeric: 'auto', style: 'short' });
  if (seconds < 60) return fmt.format(-seconds, 'second');
  if (seconds < 3600) return fmt.format(-Math.floor(seconds / 60), 'minute');
  if (seconds < 86400) return fmt.format(-Math.floor(seconds / 3600), 'hour');
  return fmt.format(-Math.floor(seconds / 86400), 'day');
}

export function num(value, digits = 1) {
  if (value === null || value === undefined || value === '') return '–';
  if (typeof value !== 'number') return String(value);
  return new Intl.NumberFormat(getLang(), { maximumFractionDigits: digits }).format(value);
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  if (seconds < 90) return t('unit.seconds', { n: num(seconds, 0) });
  if (seconds < 5400) return t('unit.minutes', { n: num(seconds / 60, 1) });
  return t('unit.hours', { n: num(seconds / 3600, 1) });
}

export function percent(share) {
  if (share === null || share === undefined) return '–';
  return new Intl.NumberFormat(getLang(), { style: 'percent', maximumFractionDigits: 1 }).format(share);
}
