// The city's state in a few figures, from the city services' own APIs: parking occupancy
// (GET /cityhub/v1/parking/availability), the worst air-quality district (/air/districts),
// sensors offline (/devices/silent) and facilities by safety grade (/facilities). A figure the
// user may not read, or a service without data, is null (its tile shows a dash).
import { api } from './api.js';

const quiet = (promise) => promise.catch(() => null);

/** The worst district by CAI (the highest index), or null when none has a grade. */
export function worstDistrict(districts) {
  let worst = null;
  for (const d of districts || []) {
    if (typeof d.airQualityIndex !== 'number') continue;
    if (!worst || d.airQualityIndex > worst.airQualityIndex) worst = d;
  }
  return worst;
}

export async function cityFigures() {
  const [parking, air, sensors, facilities] = await Promise.all([
    quiet(api('/cityhub/v1/parking/availability')),
    quiet(api('/cityhub/v1/air/districts')),
    quiet(api('/cityhub/v1/devices/silent?limit=0')),
    quiet(api('/cityhub/v1/facilities')),
  ]);
  return {
    parking: parking?.total?.total ? parking.total : null,
    parkingDistricts: parking?.districts || [],
    air: worstDistrict(air),
    airDistricts: air || [],
    sensors: sensors && sensors.devices ? sensors : null,
    facilities: facilities?.byGrade || null,
  };
}
