// The map's layers, one per entity type: which attributes to fetch (and, for a layer that
// shows only some entities of its type, the NGSI-LD q that picks them and the same test for
// live changes), how a feature is drawn, what its legend says (a key, or [key, values] for a
// legend with a figure in it), which fields the details list (and which i18n group names the
// values of a field), which attribute the details sparkline shows.
//
// Not here on purpose: the care service's elderly-alone households (CareHousehold). Where
// they live is for the care staff on the service's own layer, not for every map user.
import {
  CAI_COLORS, CROSSWALK_COLORS, CROSSWALK_MANY, GREY, PANEL_COLORS, PARKING_COLORS, SAFETY_COLORS,
  SEVERITY_COLORS, VIOLATION_COLORS, cai, crosswalkLevel, panelLevel, parkingLevel, violationLevel,
  STANDING_Q, violationStanding,
} from './styles.js';

const base = { weight: 1.5, color: '#0b1620', fillOpacity: 0.9, opacity: 1 };

export const LAYERS = [
  {
    id: 'events',
    type: 'CityEvent',
    cluster: false,
    style: (e) => ({
      ...base, radius: e.severity === 'critical' ? 12 : 9, weight: 3, color: '#ffffff',
      fillColor: SEVERITY_COLORS[e.severity] || GREY,
    }),
    legend: ['critical', 'high', 'medium', 'low', 'informational'].map((s) => [SEVERITY_COLORS[s], `severity.${s}`]),
    fields: ['eventCode', 'severity', 'status', 'placeName', 'occurredAt'],
  },
  {
    id: 'parking',
    type: 'OffStreetParking',
    attrs: ['name', 'availableSpotNumber', 'totalSpotNumber', 'status', 'location'],
    cluster: true,
    level: (e) => parkingLevel(e.availableSpotNumber, e.totalSpotNumber),
    style(e) {
      return { ...base, radius: 8, fillColor: PARKING_COLORS[this.level(e)] };
    },
    legend: ['plenty', 'few', 'full', 'unknown'].map((l) => [PARKING_COLORS[l], `parking.${l}`]),
    fields: ['availableSpotNumber', 'totalSpotNumber', 'status'],
    spark: 'availableSpotNumber',
  },
  {
    id: 'air',
    type: 'AirQualityObserved',
    attrs: ['name', 'pm10', 'pm25', 'o3', 'no2', 'co', 'so2', 'airQualityIndex', 'dateObserved', 'location'],
    cluster: true,
    level: (e) => cai(e).grade,
    style(e) {
      return { ...base, radius: 9, fillColor: CAI_COLORS[this.level(e)] };
    },
    legend: [1, 2, 3, 4].map((g) => [CAI_COLORS[g], `cai.${g}`]),
    fields: ['cai', 'pm10', 'pm25', 'o3', 'dateObserved'],
    spark: 'pm10',
  },
  {
    id: 'cctv',
    type: 'CCTVCamera',
    attrs: ['name', 'heading', 'fieldOfView', 'viewDistance', 'deviceState', 'status', 'purpose', 'location'],
    cluster: true,
    cones: true,
    level: (e) => (e.deviceState === 'offline' || e.deviceState === 'fault' || e.status === 'outOfService' ? 'off' : 'on'),
    style(e) {
      return { ...base, radius: 6, color: '#e3f2fd', fillColor: this.level(e) === 'on' ? '#4fc3f7' : GREY };
    },
    legend: [['#4fc3f7', 'cctv.on'], [GREY, 'cctv.off']],
    fields: ['purpose', 'heading', 'fieldOfView', 'deviceState'],
  },
  {
    id: 'hydrant',
    type: 'FireHydrant',
    attrs: ['name', 'status', 'pressure', 'illegalParkingDetected', 'location'],
    cluster: true,
    level: (e) => (e.illegalParkingDetected ? 'blocked' : e.status === 'outOfService' ? 'off' : 'ok'),
    style(e) {
      const level = this.level(e);
      return {
        ...base, radius: 6, fillColor: level === 'off' ? GREY : '#e53935',
        color: level === 'blocked' ? '#ff40ff' : '#0b1620', weight: level === 'blocked' ? 4 : 1.5,
      };
    },
    legend: [['#e53935', 'hydrant.ok'], ['#ff40ff', 'hydrant.blocked'], [GREY, 'hydrant.off']],
    fields: ['status', 'pressure', 'illegalParkingDetected'],
    spark: 'pressure',
  },
  {
    id: 'facility',
    type: 'Facility',
    attrs: ['name', 'safetyGrade', 'structureType', 'facilityClass', 'gradeReason', 'gradedAt', 'location'],
    cluster: true,
    level: (e) => e.safetyGrade || null,
    style(e) {
      const grade = e.safetyGrade;
      return { ...base, radius: grade === 'D' || grade === 'E' ? 10 : 8, fillColor: SAFETY_COLORS[grade] || GREY };
    },
    legend: ['A', 'B', 'C', 'D', 'E'].map((g) => [SAFETY_COLORS[g], `safety.${g}`]),
    fields: ['safetyGrade', 'structureType', 'gradeReason', 'gradedAt'],
    spark: 'safetyGrade',
    sparkValue: (grade) => ('ABCDE'.includes(grade) && grade ? 'ABCDE'.indexOf(grade) + 1 : null), // E (5) on top
  },
  {
    id: 'electrical',
    type: 'ElectricalPanel',
    attrs: ['name', 'anomalyGrade', 'anomalyReason', 'leakageCurrent', 'temperature', 'arcEvents', 'location'],
    cluster: true,
    level: (e) => panelLevel(e.anomalyGrade),
    style(e) {
      const level = this.level(e);
      const danger = level === 'danger';
      return {
        ...base, radius: danger ? 11 : level === 'caution' ? 9 : 7, weight: danger ? 3 : 1.5,
        color: danger ? '#ffffff' : base.color, fillColor: PANEL_COLORS[level],
      };
    },
    legend: ['normal', 'caution', 'danger', 'recovering', 'unknown'].map((l) => [PANEL_COLORS[l], `panel.${l}`]),
    fields: ['anomalyGrade', 'leakageCurrent', 'temperature', 'arcEvents', 'anomalyReason'],
    enums: { anomalyGrade: 'panel' },
    spark: 'leakageCurrent',
  },
  {
    id: 'crosswalk',
    type: 'CrosswalkObserved',
    attrs: ['name', 'stopLineViolations', 'vehicleCount', 'pedestrianCount', 'schoolZone', 'location'],
    cluster: true,
    level: (e) => crosswalkLevel(e.stopLineViolations),
    style(e) {
      const level = this.level(e);
      return { ...base, radius: level === 'many' ? 9 : 7, fillColor: CROSSWALK_COLORS[level] };
    },
    legend: [
      [CROSSWALK_COLORS.none, 'crosswalk.none'],
      [CROSSWALK_COLORS.some, ['crosswalk.some', { max: CROSSWALK_MANY - 1 }]],
      [CROSSWALK_COLORS.many, ['crosswalk.many', { min: CROSSWALK_MANY }]],
      [CROSSWALK_COLORS.unknown, 'crosswalk.unknown'],
    ],
    fields: ['stopLineViolations', 'vehicleCount', 'pedestrianCount', 'schoolZone'],
    spark: 'stopLineViolations',
  },
  {
    // the cars standing in an enforcement zone now: a cleared (or towed, paid...) violation
    // leaves the map; the plate is left out, though masked
    id: 'violation',
    type: 'ParkingViolation',
    attrs: ['zoneName', 'zoneCategory', 'status', 'confirmedAt', 'fineAmount', 'location'],
    q: STANDING_Q,
    shows: (e) => violationStanding(e.status),
    cluster: true,
    level: (e) => violationLevel(e.zoneCategory),
    style(e) {
      const level = this.level(e);
      const fire = level === 'fire';
      return {
        ...base, radius: fire ? 8 : 6, weight: fire ? 3 : 1.5, color: fire ? '#ffffff' : base.color,
        fillColor: VIOLATION_COLORS[level],
      };
    },
    legend: ['fire', 'other'].map((l) => [VIOLATION_COLORS[l], `violation.${l}`]),
    fields: ['zoneName', 'status', 'confirmedAt', 'fineAmount'],
    enums: { status: 'violationStatus' },
  },
];

export const LAYER_BY_TYPE = Object.fromEntries(LAYERS.map((l) => [l.type, l]));

/** [lat, lon] of an entity's location (a GeoJSON Point, or the first point of another
 * geometry), or null. */
export function latLngOf(entity) {
  let coords = entity.location?.coordinates;
  while (Array.isArray(coords) && Array.isArray(coords[0])) coords = coords[0];
  if (!Array.isArray(coords) || typeof coords[0] !== 'number' || typeof coords[1] !== 'number') return null;
  return [coords[1], coords[0]];
}
