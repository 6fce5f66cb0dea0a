"""What the care service knows of a household, and how a sensor reading changes it.

A household is a ``CareHousehold`` entity (``householdCode``, ``location``, optionally
``address``, ``inactivityHours``, ``nightHours``); its sensors are entities (``Device`` as a
rule) naming it with ``refHousehold`` or ``controlledAsset``. Readings that count, each at its
``observedAt`` (the time of the write when it has none), and only when the write touched them:

- ``motionDetected`` true, ``doorOpen`` true, ``activityDetected`` true: someone is up;
- ``temperature`` (°C, indoor): below ``care_temp_min`` or above ``care_temp_max`` starts a
  cold or hot spell, a reading back in range ends it (a reading older than the latest is
  ignored for this);
- ``emergencyButton`` true: a press of the emergency button.

Everything here is a pure function of its input; :mod:`cityhub.services.care.households`
stores the state and acts on it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cityhub.bus import Change
from cityhub.datamodels.model import short_name
from cityhub.errors import BadRequestData
from cityhub.services.care.clock import parse_night, parse_time, stamp

log = logging.getLogger(__name__)

HOUSEHOLD = "CareHousehold"
ACTIVITY = ("motionDetected", "doorOpen", "activityDetected")
TEMPERATURE, BUTTON = "temperature", "emergencyButton"
LINKS = ("refHousehold", "controlledAsset")
_CODE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


@dataclass(slots=True)
class Household:
    """One enrolled household as stored (times are stored stamps)."""

    tenant: str
    id: str
    code: str
    lon: float | None
    lat: float | None
    place: str
    inactivity_hours: float | None
    night_hours: str | None
    enrolled_at: str
    watched_from: str | None = None  # the first reading of one of its sensors
    last_activity: str | None = None
    cold_since: str | None = None
    hot_since: str | None = None
    temperature: float | None = None
    temperature_at: str | None = None
    button_at: str | None = None
    devices: list[str] = field(default_factory=list)

    @property
    def located(self) -> bool:
        """Has a location (a household without one cannot be helped, so is not watched)."""
        return self.lon is not None and self.lat is not None


def is_type(entity: dict[str, Any], name: str) -> bool:
    """Whether a stored entity is of type ``name`` (short name)."""
    return any(short_name(str(t)) == name for t in entity.get("type", ()))


def _attrs(entity: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Default instances by short attribute name."""
    found: dict[str, dict[str, Any]] = {}
    for iri, insts in entity.get("attrs", {}).items():
        if insts:
            found[short_name(iri)] = insts[0]
    return found


def _value(inst: dict[str, Any] | None) -> Any:
    if inst is None:
        return None
    value = inst.get("value", inst.get("object"))
    return value.get("@value") if isinstance(value, dict) and "@value" in value else value


def household_of(entity: dict[str, Any], tenant: str, at: str) -> Household:
    """A household from its CareHousehold entity (values that do not fit are left out, with
    a warning: the hub stores what it is sent, the service uses what it understands)."""
    attrs = _attrs(entity)
    code = _value(attrs.get("householdCode"))
    if not isinstance(code, str) or not _CODE.match(code):
        code = entity["id"].rsplit(":", 1)[-1][:40]
    lon = lat = None
    loc = _value(attrs.get("location"))
    if isinstance(loc, dict) and loc.get("type") == "Point":
        coords = loc.get("coordinates")
        if isinstance(coords, list) and len(coords) >= 2:
            lon, lat = float(coords[0]), float(coords[1])
    hours = _value(attrs.get("inactivityHours"))
    if not isinstance(hours, int | float) or isinstance(hours, bool) or not 1 <= hours <= 168:
        if hours is not None:
            log.warning(
                "%s: inactivityHours %r is not 1-168; the setting is used", entity["id"], hours
            )
        hours = None
    night = _value(attrs.get("nightHours"))
    if night is not None:
        try:
            parse_night(str(night))
        except BadRequestData:
            log.warning("%s: nightHours %r is not HH-HH; the setting is used", entity["id"], night)
            night = None
    return Household(
        tenant,
        entity["id"],
        code,
        lon,
        lat,
        _place(_value(attrs.get("address"))),
        float(hours) if hours is not None else None,
        str(night) if night is not None else None,
        at,
    )


def _place(address: Any) -> str:
    """The address as one line (Korean order: region, locality, street)."""
    if isinstance(address, str):
        return address[:200]
    if not isinstance(address, dict):
        return ""
    keys = ("addressRegion", "addressLocality", "district", "streetAddress", "streetNr")
    return " ".join(str(address[k]) for k in keys if isinstance(address.get(k), str))[:200]


def households_named(entity: dict[str, Any]) -> list[str]:
    """The CareHousehold ids a sensor names (``refHousehold``, ``controlledAsset``)."""
    attrs = _attrs(entity)
    found: list[str] = []
    for name in LINKS:
        target = _value(attrs.get(name))
        for ref in target if isinstance(target, list) else [target]:
            if isinstance(ref, str) and f":{HOUSEHOLD}:" in ref and ref not in found:
                found.append(ref)
    return found


@dataclass(frozen=True, slots=True)
class Limits:
    """The temperature range of a comfortable home."""

    cold: float
    hot: float


def apply_reading(home: Household, change: Change, limits: Limits) -> datetime | None:
    """Move ``home`` on by a sensor's change; the latest observation time it carried (None
    when it carried nothing the service uses)."""
    touched = {short_name(iri) for iri in change.prev}
    attrs = _attrs(change.entity)
    latest: datetime | None = None

    def observed(name: str) -> datetime | None:
        moment = parse_time(attrs[name].get("observedAt")) or parse_time(change.at)
        nonlocal latest
        if moment is not None and (latest is None or moment > latest):
            latest = moment
        return moment

    if change.entity_id not in home.devices:
        home.devices.append(change.entity_id)
    for name in sorted(touched & attrs.keys()):
        value = _value(attrs[name])
        moment = observed(name)
        if moment is None:
            continue
        at = stamp(moment)
        if name in ACTIVITY and value is True:
            home.last_activity = max(home.last_activity or at, at)
        elif name == BUTTON and value is True:
            home.button_at = max(home.button_at or at, at)
        elif name == TEMPERATURE and isinstance(value, int | float) and not isinstance(value, bool):
            _temperature(home, float(value), at, limits)
    if home.watched_from is None:  # inactivity counts from the first sign of the sensors
        first = latest or parse_time(change.at)
        home.watched_from = stamp(first) if first is not None else None
    return latest


def _temperature(home: Household, value: float, at: str, limits: Limits) -> None:
    if home.temperature_at is not None and at < home.temperature_at:
        return  # a late reading: the spell is judged by the newer ones
    home.temperature, home.temperature_at = value, at
    if value < limits.cold:
        home.cold_since = home.cold_since or at
    else:
        home.cold_since = None
    if value > limits.hot:
        home.hot_since = home.hot_since or at
    else:
        home.hot_since = None
