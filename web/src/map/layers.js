// The map's layers, one per entity type: which attributes to fetch, how a feature is drawn,
// what its legend says, which attribute the details sparkline shows.
import {
  CAI_COLORS, GREY, PARKING_COLORS, SAFETY_COLORS, SEVERITY_COLORS, cai, parkingLevel,
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
