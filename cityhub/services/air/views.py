"""The air API's representations: a station, a district with its alerts, a map feature.

Stations are shown from what the ``air`` consumer wrote on them (service.py), districts from
their stations (the district CAI is its **worst station's**: the index the most exposed
residents live with, as a map of the district should warn) and from the open alert events.
"""

from __future__ import annotations

from typing import Any

from cityhub.ngsild.entity import Entity, Instance
from cityhub.ops.events import _value
from cityhub.services.air.alerting import DistrictHour, alert_key
from cityhub.services.air.alerts import LEVEL_NAMES, LEVELS, RULES
from cityhub.services.air.cai import COLORS, GRADES, POLLUTANTS, grade
from cityhub.services.air.places import District, readings

NO_DATA_COLOR = "#9e9e9e"


def _instance(entity: Entity, name: str) -> Instance | None:
    for iri, instances in entity["attrs"].items():
        if iri.rsplit("/", 1)[-1] == name:
            return next((i for i in instances if "datasetId" not in i), None)
    return None


def _measure(station: Entity, name: str) -> dict[str, Any]:
    inst = _instance(station, name) or {}
    return {k: inst.get(k) for k in ("value", "unitCode", "observedAt")}


def grading(index: Any) -> dict[str, Any]:
    """The grade members of a CAI (all None when there is none)."""
    if not isinstance(index, int):
        return {"airQualityIndex": None, "caiGrade": None, "gradeName": None, "color": None}
    g = grade(index)
    return {"airQualityIndex": index, "caiGrade": g, "gradeName": GRADES[g][0], "color": COLORS[g]}


def station_json(station: Entity, district: District | None) -> dict[str, Any]:
    """One station as ``GET /cityhub/v1/air/stations`` shows it."""
    subs = _value(station, "caiSubIndices")
    concentrations = _value(station, "caiConcentrations")
    subs = subs if isinstance(subs, dict) else {}
    concentrations = concentrations if isinstance(concentrations, dict) else {}
    pollutants = {}
    for name, p in POLLUTANTS.items():
        index = subs.get(name)
        if not isinstance(index, int):
            continue
        g = grade(index)
        pollutants[name] = {
            "concentration": concentrations.get(name),
            "unit": p.unit,
            "averaging": f"{p.hours}h",
            "subIndex": index,
            "grade": g,
            "gradeName": GRADES[g][0],
        }
    stamped = _instance(station, "airQualityIndex")
    return {
        "id": station["id"],
        "name": _value(station, "name"),
        "location": _value(station, "location"),
        "district": district.json() if district else None,
        "observedAt": stamped.get("observedAt") if stamped else None,
        **grading(_value(station, "airQualityIndex")),
        "airQualityLevel": _value(station, "airQualityLevel"),
        "dominantPollutant": _value(station, "dominantPollutant"),
        "pm10Avg24h": _value(station, "pm10Avg24h"),
        "pm25Avg24h": _value(station, "pm25Avg24h"),
        "pollutants": pollutants,
        "latest": {p: _measure(station, p) for p in POLLUTANTS if p in readings(station)},
    }


def alert_json(event: Entity, pollutant: str, level: str) -> dict[str, Any]:
    """An alert in force, from its event."""
    items = {i.get("key"): i.get("val") for i in _value(event, "eventItems") or []}
    return {
        "eventId": event["id"],
        "eventCode": _value(event, "eventCode"),
        "eventName": _value(event, "eventName"),
        "pollutant": pollutant,
        "level": level,
        "levelName": LEVEL_NAMES[level],
        "severity": _value(event, "severity"),
        "status": _value(event, "status"),
        "occurredAt": _value(event, "occurredAt"),
        "hour": items.get("hour"),
        "value": items.get("value"),
    }


def district_json(
    district: District,
    stations: list[Entity],
    hours: dict[str, DistrictHour],
    alerts: dict[str, Entity],
    basis: str,
) -> dict[str, Any]:
    """One district as ``GET /cityhub/v1/air/districts`` shows it; ``alerts``: the open
    alert events of the tenant by dedupe key."""
    graded = [s for s in stations if isinstance(_value(s, "airQualityIndex"), int)]
    worst = max(graded, key=lambda s: _value(s, "airQualityIndex"), default=None)
    in_force = [
        alert_json(alerts[key], p, level)
        for p in RULES
        for level in LEVELS
        if (key := alert_key(district.id, p, level)) in alerts
    ]
    return {
        **district.json(),
        "center": {"type": "Point", "coordinates": list(district.center)},
        "stations": [s["id"] for s in stations],
        **grading(_value(worst, "airQualityIndex") if worst else None),
        "airQualityLevel": _value(worst, "airQualityLevel") if worst else None,
        "dominantPollutant": _value(worst, "dominantPollutant") if worst else None,
        "worstStation": worst["id"] if worst else None,
        "alertBasis": basis,
        "hourly": {p: dh.json() for p, dh in sorted(hours.items())},
        "alerts": in_force,
    }


def feature(station: Entity, district: District | None) -> dict[str, Any] | None:
    """A station as a GeoJSON Feature coloured by its grade (None without a Point)."""
    loc = _value(station, "location")
    if not isinstance(loc, dict) or loc.get("type") != "Point":
        return None
    shown = grading(_value(station, "airQualityIndex"))
    return {
        "type": "Feature",
        "id": station["id"],
        "geometry": loc,
        "properties": {
            "name": _value(station, "name"),
            "district": district.id if district else None,
            "districtName": district.name if district else None,
            **shown,
            "color": shown["color"] or NO_DATA_COLOR,
            "airQualityLevel": _value(station, "airQualityLevel"),
            "dominantPollutant": _value(station, "dominantPollutant"),
            "pm10Avg24h": _value(station, "pm10Avg24h"),
            "pm25Avg24h": _value(station, "pm25Avg24h"),
        },
    }
