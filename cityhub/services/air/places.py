"""Stations and districts as the air service reads them from the hub.

A station is an ``AirQualityObserved`` entity (FIWARE Smart Data Models) with a ``location``
Point and pollutant attributes (``pm10``, ``pm25``, ``o3``, ``no2``, ``co``, ``so2``: the
default instance, its ``observedAt`` and ``unitCode``). A district is a ``District`` entity
(cityhub's data model: ``name`` and a Polygon or MultiPolygon ``location``). A station belongs
to the district its ``refDistrict`` names, else to the first district (by id) whose area holds
its location; a station in no district has its CAI but takes part in no alert.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from shapely.geometry import shape

from cityhub.datamodels.model import short_name
from cityhub.errors import BadRequestData, NonexistentTenant
from cityhub.ngsild.entity import Entity
from cityhub.ngsild.filters import EntityQuery, parse_type_expr
from cityhub.ngsild.geo import GeoQuery
from cityhub.ngsild.hub import Hub
from cityhub.ops.events import _value
from cityhub.services.air.cai import POLLUTANTS
from cityhub.temporal.model import micros_of

STATION = "AirQualityObserved"
DISTRICT = "District"
_PAGE = 1000
HOUR = 3_600_000_000  # µs


def hour_of(micros: int) -> int:
    """The start of the clock hour (UTC, which is also the Korean hour) holding ``micros``."""
    return micros // HOUR * HOUR


@dataclass(frozen=True, slots=True)
class Reading:
    """The latest measure of one pollutant at a station."""

    iri: str  # the attribute's expanded name (whatever @context the station was written with)
    value: float
    unit: str | None  # unitCode
    observed: int  # µs: observedAt, else when it was written
    at: str  # the same as the instance gives it


def readings(station: Entity) -> dict[str, Reading]:
    """The station's CAI pollutants that have a numeric default instance, by name."""
    found: dict[str, Reading] = {}
    for iri, instances in station["attrs"].items():
        name = short_name(iri)
        if name not in POLLUTANTS:
            continue
        for inst in instances:
            value = inst.get("value")
            if "datasetId" in inst or isinstance(value, bool) or not isinstance(value, int | float):
                continue
            at = inst.get("observedAt")
            at = at if isinstance(at, str) else str(inst.get("modifiedAt", ""))
            observed = micros_of(at, 0)
            found[name] = Reading(iri, float(value), inst.get("unitCode"), observed, at)
    return found


def is_station(entity: Entity) -> bool:
    """Whether an entity (stored form) is an air-quality station."""
    return any(short_name(t) == STATION for t in entity.get("type", []))


def relationship(entity: Entity, name: str) -> str | None:
    """The object of a Relationship by short name (default instance)."""
    for iri, instances in entity["attrs"].items():
        if short_name(iri) == name:
            for inst in instances:
                obj = inst.get("object")
                if "datasetId" not in inst and isinstance(obj, str):
                    return obj
    return None


@dataclass(frozen=True, slots=True)
class District:
    """A district: its id, name, area and a point inside it for events and maps."""

    id: str
    name: str
    area: GeoQuery
    center: tuple[float, float]

    def json(self) -> dict[str, Any]:
        """How the API names it."""
        return {"id": self.id, "name": self.name}


async def every(
    hub: Hub, tenant: str, type_name: str, ids: Collection[str] | None = None
) -> list[Entity]:
    """Every entity of a type in the tenant (of those ``ids`` only, if given; none when the
    tenant does not exist)."""
    ctx = hub.contexts.core
    found: list[Entity] = []
    types = parse_type_expr(type_name, ctx)
    wanted = frozenset(ids) if ids is not None else None
    while True:
        query = EntityQuery(types=types, ids=wanted, limit=_PAGE, offset=len(found))
        try:
            page = (await hub.entities.query(tenant, query)).entities
        except NonexistentTenant:
            return found
        found.extend(page)
        if len(page) < _PAGE:
            return found


async def districts(hub: Hub, tenant: str) -> list[District]:
    """The tenant's districts that have an area, by id."""
    found = []
    for entity in await every(hub, tenant, DISTRICT):
        loc = _value(entity, "location")
        if not isinstance(loc, dict) or loc.get("type") not in ("Polygon", "MultiPolygon"):
            continue
        try:
            area = GeoQuery("intersects", loc)
        except BadRequestData:
            continue  # a broken polygon: no station is in it
        point = shape(loc).representative_point()  # inside it, unlike a concave one's centroid
        name = _value(entity, "name")
        found.append(
            District(
                entity["id"],
                name if isinstance(name, str) else entity["id"],
                area,
                (round(point.x, 6), round(point.y, 6)),
            )
        )
    return sorted(found, key=lambda d: d.id)


def district_of(station: Entity, known: list[District]) -> District | None:
    """The district a station belongs to (``refDistrict``, else where it stands)."""
    named = relationship(station, "refDistrict")
    if named is not None:
        for district in known:
            if district.id == named:
                return district
    loc = _value(station, "location")
    if loc is None:
        return None
    return next((d for d in known if d.area.matches(loc)), None)
