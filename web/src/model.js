// What the dashboard knows of situation events: severities and grades, the lifecycle (as in
// cityhub/ops/events.py), and the board's order. Pure: no DOM, tested with node --test.

export const SEVERITIES = ['informational', 'low', 'medium', 'high', 'critical'];
export const OPEN = ['occurred', 'acknowledged', 'assigned', 'inProgress'];
export const CLOSED = ['cleared', 'cancelled', 'completed'];
/** allowed transitions: from -> to (cityhub/ops/events.py NEXT) */
export const NEXT = {
  occurred: ['acknowledged', 'assigned', 'inProgress', ...CLOSED],
  acknowledged: ['assigned', 'inProgress', ...CLOSED],
  assigned: ['assigned', 'inProgress', ...CLOSED],
  inProgress: ['assigned', ...CLOSED],
};
export const CATEGORIES = ['crime', 'fire', 'emergencyMedical', 'disaster', 'traffic', 'environment',
  'facility', 'vulnerablePeople', 'parking', 'other'];

export const severityRank = (severity) => SEVERITIES.indexOf(severity);
/** The integrated platform's grade: 1 critical ... 5 informational. */
export const grade = (severity) => (SEVERITIES.includes(severity) ? 5 - SEVERITIES.indexOf(severity) : null);
export const isOpen = (event) => OPEN.includes(event.status);

/** Board order: the most severe first; within a grade, the longest open first ('grade'), or
 * the newest first ('newest'). */
export function sortEvents(events, order = 'grade') {
  const time = (e) => Date.parse(e.occurredAt) || 0;
  return [...events].sort((a, b) => {
    if (order === 'newest') return time(b) - time(a);
    const bySeverity = severityRank(b.severity) - severityRank(a.severity);
    return bySeverity || time(a) - time(b) || String(a.id).localeCompare(String(b.id));
  });
}

/** Events passing the board's filters {severities: Set, category, status, text}. */
export function filterEvents(events, { severities, category, status, text } = {}) {
  const needle = (text || '').trim().toLowerCase();
  return events.filter((e) =>
    (!severities || severities.size === 0 || severities.has(e.severity)) &&
    (!category || e.category === category) &&
    (!status || e.status === status) &&
    (!needle || [e.eventName, e.eventCode, e.placeName, e.description, e.id]
      .some((v) => typeof v === 'string' && v.toLowerCase().includes(needle))));
}

/** Whether a change of an event is a new critical one to alert on (a new critical event, or
 * an open one that just became critical). */
export function isNewCritical(before, after) {
  if (after.severity !== 'critical' || !isOpen(after)) return false;
  return !before || before.severity !== 'critical';
}
