// How the map draws each kind of entity: colours by free spaces, CAI grade, safety grade,
// severity, a distribution panel's anomaly grade, a crosswalk's stop-line violations and a
// parking violation's zone, and the view cone of a camera. Pure: no DOM or Leaflet, tested with node --test.

export const GREY = '#8a96a3';

/** Free share of a lot -> colour: plenty (≥ 30 %), few (≥ 10 %), full. */
export function parkingLevel(available, total) {
  if (typeof available !== 'number' || typeof total !== 'number' || total <= 0) return 'unknown';
  const share = available / total;
  if (share >= 0.3) return 'plenty';
  if (share >= 0.1) return 'few';
  return 'full';
}
export const PARKING_COLORS = { plenty: '#2fbf71', few: '#f5b700', full: '#ff4d4f', unknown: GREY };

// Korean CAI (REFERENCE.md §3): breakpoints per pollutant for the sub-index bands
// 0-50, 51-100, 101-250, 251-500.
const BANDS = [[0, 50], [51, 100], [101, 250], [251, 500]];
const BREAKPOINTS = {
  pm10: [[0, 30], [31, 80], [81, 150], [151, 600]],
  pm25: [[0, 15], [16, 35], [36, 75], [76, 500]],
  o3: [[0, 0.03], [0.031, 0.09], [0.091, 0.15], [0.151, 0.6]],
  no2: [[0, 0.03], [0.031, 0.06], [0.061, 0.2], [0.201, 2]],
  co: [[0, 2], [2.01, 9], [9.01, 15], [15.01, 50]],
  so2: [[0, 0.02], [0.021, 0.05], [0.051, 0.15], [0.151, 1]],
};

/** The CAI sub-index of one pollutant concentration (null when unknown). */
export function subIndex(pollutant, value) {
  const bps = BREAKPOINTS[pollutant];
  if (!bps || typeof value !== 'number' || !(value >= 0)) return null;
  for (let i = 0; i < bps.length; i++) {
    const [lo, hi] = bps[i];
    const next = bps[i + 1];
    // a value between one band's top and the next band's bottom (80.5) belongs to the lower band
    if (value <= hi || (next && value < next[0])) {
      const [ilo, ihi] = BANDS[i];
      return Math.round(((ihi - ilo) / (hi - lo)) * (Math.min(value, hi) - lo) + ilo);
    }
  }
  return 500;
}

/** {cai, grade 1-4} of an AirQualityObserved: its airQualityIndex when given, else the
 * largest sub-index of the pollutants it reports; grade null when nothing is known. */
export function cai(entity) {
  let index = typeof entity.airQualityIndex === 'number' ? entity.airQualityIndex : null;
  if (index === null) {
    for (const pollutant of Object.keys(BREAKPOINTS)) {
      const sub = subIndex(pollutant, entity[pollutant]);
      if (sub !== null && (index === null || sub > index)) index = sub;
    }
  }
  if (index === null) return { cai: null, grade: null };
  const grade = index <= 50 ? 1 : index <= 100 ? 2 : index <= 250 ? 3 : 4;
  return { cai: index, grade };
}
// AirKorea's colours: good blue, moderate green, unhealthy yellow, very unhealthy red
export const CAI_COLORS = { 1: '#3b8beb', 2: '#2fbf71', 3: '#f5b700', 4: '#ff4d4f', null: GREY };

/** A distribution panel's state (the electrical service's anomalyGrade) -> level: normal,
 * caution, danger, recovering (normal again, its event still open), else unknown. */
export function panelLevel(grade) {
  return Object.hasOwn(PANEL_COLORS, grade) ? grade : 'unknown';
}
export const PANEL_COLORS = {
  normal: '#2fbf71', recovering: '#3b8beb', caution: '#f5b700', danger: '#ff4d4f', unknown: GREY,
};

// A crosswalk's latest interval: 'many' from the count at which the crosswalk service's
// default rule raises an event (crosswalk-violations: stopLineViolations>=10 in one interval,
// cityhub/services/crosswalk/catalog.py), 'some' from one.
export const CROSSWALK_MANY = 10;

/** Stop-line violations of a crosswalk's latest interval -> none, some, many (unknown when
 * not a count). */
export function crosswalkLevel(violations) {
  if (typeof violations !== 'number' || !(violations >= 0)) return 'unknown';
  if (violations >= CROSSWALK_MANY) return 'many';
  return violations >= 1 ? 'some' : 'none';
}
export const CROSSWALK_COLORS = { none: '#2fbf71', some: '#f5b700', many: '#ff4d4f', unknown: GREY };

// A ParkingViolation still standing (cityhub/ops/linked.py, _STANDING: no status yet, or one
// of these): a car is there now.
export const STANDING = ['open', 'detected', 'confirmed', 'notified'];
/** Whether a parking violation's car is still standing there. */
export function violationStanding(status) {
  return status === undefined || status === null || STANDING.includes(status);
}
/** The NGSI-LD q selecting the standing violations (the same rule, for the server). */
export const STANDING_Q = `!status|status==${STANDING.map((s) => `"${s}"`).join(',')}`;
/** A violation's zone category -> fire (a hydrant or fire facility: in the way of 119) or other. */
export function violationLevel(zoneCategory) {
  return zoneCategory === 'hydrant' || zoneCategory === 'fireFacility' ? 'fire' : 'other';
}
export const VIOLATION_COLORS = { fire: '#ff40ff', other: '#b388ff' };

export const SAFETY_COLORS = { A: '#2fbf71', B: '#8bd346', C: '#f5b700', D: '#ff8c1a', E: '#ff4d4f' };
export const SEVERITY_COLORS = {
  critical: '#ff1f3d', high: '#ff8c1a', medium: '#f5b700', low: '#4fc3f7', informational: '#b0bec5',
};

/** The view cone of a camera as a ring of [lat, lon] (apex at the camera), or null when its
 * heading or field of view is unknown or it sees all around (a circle is drawn instead). */
export function viewCone(lon, lat, heading, fieldOfView, distance = 60, steps = 12) {
  if (typeof heading !== 'number' || typeof fieldOfView !== 'number' || fieldOfView <= 0) return null;
  if (fieldOfView >= 360) return null;
  const metresPerDegLat = 111320;
  const metresPerDegLon = 111320 * Math.cos((lat * Math.PI) / 180);
  const ring = [[lat, lon]];
  for (let i = 0; i <= steps; i++) {
    const bearing = ((heading - fieldOfView / 2 + (fieldOfView * i) / steps) * Math.PI) / 180;
    ring.push([lat + (Math.cos(bearing) * distance) / metresPerDegLat, lon + (Math.sin(bearing) * distance) / metresPerDegLon]);
  }
  return ring;
}
