"""The safety report of one facility over a window, from the recorded history (temporal store):
its grade history, each sensor's readings (count, min, max, latest) per graded measure, and
the readings that reached the alarm grade by value (exceedances)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cityhub.datamodels.model import short_name
from cityhub.errors import ResourceNotFound
from cityhub.ngsild.entity import Entity
from cityhub.ops.events import _value
from cityhub.services.facility.grading import (
    GRADES,
    TILT,
    TILT_AXES,
    level,
    measures_for,
    points,
)
from cityhub.services.facility.service import FacilityService, is_facility
from cityhub.services.shared import iso
from cityhub.temporal.model import BEFORE, BETWEEN, TimeFilter, to_micros
from cityhub.temporal.model import iso as iso_us

MAX_INSTANCES = 50_000  # readings of one attribute of one sensor a report reads
MAX_LISTED = 500  # exceedances listed (all are counted)
_GRADE_ATTRS = ("safetyGrade", "gradeReason")


async def report(
    service: FacilityService, tenant: str, facility_id: str, since: datetime, until: datetime
) -> dict[str, Any]:
    """The report of a facility between ``since`` and ``until`` (ResourceNotFound if there
    is no such facility)."""
    hub = service.hub
    facility = await hub.entities.get(tenant, facility_id)
    if not is_facility(facility):
        raise ResourceNotFound(f"{facility_id} is not a Facility")
    await service.temporal.settle()
    low, high = to_micros(since), to_micros(until)
    kind = _value(facility, "structureType")
    specs = measures_for(
        (await service.thresholds.get(tenant)).doc, kind if isinstance(kind, str) else None
    )
    history, at_start = await _grades(service, tenant, facility_id, low, high)
    sensors = await service.sensors(tenant, facility_id)
    body, exceedances, truncated = await _readings(service, tenant, sensors, specs, low, high)
    exceedances.sort(key=lambda e: (e["observedAt"], e["sensor"], e["measure"]))
    grades = [h["grade"] for h in history] + ([at_start] if at_start else [])
    return {
        "facility": {
            "id": facility_id,
            "name": _value(facility, "name"),
            "structureType": kind,
            "location": _value(facility, "location"),
            "safetyGrade": _value(facility, "safetyGrade"),
            "gradeReason": _value(facility, "gradeReason"),
            "gradedAt": _value(facility, "gradedAt"),
        },
        "from": iso(since),
        "to": iso(until),
        "alarmGrade": GRADES[service.alarm],
        "gradeAtStart": at_start,
        "gradeHistory": history,
        "worstGrade": max(grades, key=GRADES.index) if grades else None,
        "thresholds": specs,
        "sensors": body,
        "exceedanceCount": len(exceedances),
        "exceedances": exceedances[:MAX_LISTED],
        "truncated": truncated,
    }


async def _grades(
    service: FacilityService, tenant: str, facility_id: str, low: int, high: int
) -> tuple[list[dict[str, Any]], str | None]:
    """The grade changes within [low, high) with their reasons, and the grade before low."""
    store = service.temporal.store
    series = [
        s
        for s in await store.series(tenant, [facility_id], None)
        if short_name(s.attr) in _GRADE_ATTRS
    ]
    by_name = {short_name(s.attr): s.sid for s in series}
    grade_sid = by_name.get("safetyGrade")
    if grade_sid is None:
        return [], None
    tf = TimeFilter(timerel=BETWEEN, time_at=low, end_time_at=high)
    found = await store.instances(list(by_name.values()), tf, MAX_INSTANCES, False)
    reasons = {i.time: i.doc.get("value") for i in found.get(by_name.get("gradeReason", -1), [])}
    before = await store.instances([grade_sid], TimeFilter(timerel=BEFORE, time_at=low), 1, True)
    earlier = before.get(grade_sid, [])
    at_start = earlier[-1].doc.get("value") if earlier else None
    history: list[dict[str, Any]] = []
    last = at_start
    for inst in found.get(grade_sid, []):
        grade = inst.doc.get("value")
        if grade == last or not isinstance(grade, str):
            continue
        history.append({"grade": grade, "at": iso_us(inst.time), "reason": reasons.get(inst.time)})
        last = grade
    return history, at_start if isinstance(at_start, str) else None


async def _readings(
    service: FacilityService,
    tenant: str,
    sensors: list[Entity],
    specs: dict[str, Any],
    low: int,
    high: int,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], bool]:
    """Per sensor and measure: count, min, max, latest; the exceedances; whether cut."""
    store = service.temporal.store
    wanted = set(specs) | (set(TILT_AXES) if TILT in specs else set())
    ids = [s["id"] for s in sensors]
    series = [s for s in await store.series(tenant, ids, None) if short_name(s.attr) in wanted]
    tf = TimeFilter(timerel=BETWEEN, time_at=low, end_time_at=high)
    found = await store.instances([s.sid for s in series], tf, MAX_INSTANCES, False)
    truncated = any(len(v) >= MAX_INSTANCES for v in found.values())
    history: dict[str, dict[str, list[tuple[int, Any]]]] = {}
    for s in series:
        docs = [(i.time, i.doc.get("value")) for i in found.get(s.sid, [])]
        history.setdefault(s.entity_id, {})[short_name(s.attr)] = docs
    body: list[dict[str, Any]] = []
    exceedances: list[dict[str, Any]] = []
    for sensor in sensors:
        measures: dict[str, Any] = {}
        for measure, spec in specs.items():
            pts = points(history.get(sensor["id"], {}), measure)
            if not pts:
                continue
            values = [v for _, v in pts]
            last_t, last_v = pts[-1]
            over = [(t, v) for t, v in pts if level(v, spec["bounds"]) >= service.alarm]
            measures[measure] = {
                "unit": spec.get("unit", ""),
                "count": len(pts),
                "min": min(values),
                "max": max(values),
                "latest": {"value": last_v, "observedAt": iso_us(last_t)},
                "exceedances": len(over),
            }
            exceedances += [
                {
                    "sensor": sensor["id"],
                    "measure": measure,
                    "value": v,
                    "grade": GRADES[level(v, spec["bounds"])],
                    "observedAt": iso_us(t),
                }
                for t, v in over
            ]
        body.append(
            {"id": sensor["id"], "type": short_name(sensor["type"][0]), "measures": measures}
        )
    return body, exceedances, truncated
