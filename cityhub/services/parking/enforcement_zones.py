"""Enforcement zones: where a sighting of a plate counts, how (at once or after the grace
period) and for what fine.

Zones are city data in the hub, so the map, history and subscriptions see them:

- ``EnforcementZone`` entities (cityhub model): ``location`` a Polygon or MultiPolygon (the
  area; its edge counts as inside) or a Point with ``radius`` (metres; for the categories the
  Road Traffic Act gives a distance, that distance when ``radius`` is left out); ``category``
  (:data:`CATEGORIES`), ``zoneType`` ``normal`` (two sightings after the grace period) or
  ``immediate`` (one sighting is a violation; the default for every category but ``general``
  and ``schoolZone``), ``graceMinutes`` and ``fineAmount`` (won) to override the settings;
- point features the city already keeps, e.g. ``FireHydrant`` entities: each is an immediate
  zone of its category's legal distance around it (setting ``parking_zone_features``).

A point in several zones is judged in the first of them: immediate before normal, then the
higher fine, then the nearer, then by id.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.errors import GEOSException
from shapely.geometry import shape

from cityhub.errors import ConfigError, NonexistentTenant
from cityhub.ngsild import geo
from cityhub.ngsild.entity import Entity
from cityhub.ngsild.filters import EntityQuery, parse_type_expr
from cityhub.ngsild.hub import Hub
from cityhub.ops.events import _value
from cityhub.settings import Settings

log = logging.getLogger(__name__)

ZONE_TYPE = "EnforcementZone"
NORMAL, IMMEDIATE = "normal", "immediate"
CATEGORIES = (
    "general",
    "hydrant",
    "fireFacility",
    "crosswalk",
    "safetyZone",
    "busStop",
    "corner",
    "intersection",
    "sidewalk",
    "schoolZone",
)
FIRE = frozenset(("hydrant", "fireFacility"))
#: categories enforced with one sighting unless the zone says otherwise
IMMEDIATE_BY_DEFAULT = frozenset(CATEGORIES) - {"general", "schoolZone"}
MAX_RADIUS_M = 100.0  # a Point zone's radius is capped: the near query looks this far
_PAGE = 1000


def legal_distance(category: str, settings: Settings) -> float | None:
    """Metres around a point feature of ``category`` where parking is banned (None: the
    law gives no distance, the zone must say its ``radius``)."""
    return {
        "hydrant": settings.parking_hydrant_m,
        "fireFacility": settings.parking_hydrant_m,
        "busStop": settings.parking_bus_stop_m,
        "crosswalk": settings.parking_crosswalk_m,
        "safetyZone": settings.parking_crosswalk_m,
        "corner": settings.parking_corner_m,
        "intersection": settings.parking_corner_m,
    }.get(category)


def fine_for(category: str, settings: Settings) -> int:
    """The fine of a violation in a zone of ``category`` (won): fire facilities their own,
    school zones the fine times the school factor."""
    if category in FIRE:
        return settings.parking_fine_fire_krw
    if category == "schoolZone":
        return round(settings.parking_fine_krw * settings.parking_school_factor)
    return settings.parking_fine_krw


def zone_features(settings: Settings) -> list[tuple[str, str]]:
    """(entity type, category) pairs of ``parking_zone_features`` (ConfigError when bad)."""
    found = []
    for item in filter(None, (p.strip() for p in settings.parking_zone_features.split(","))):
        kind, _, category = (s.strip() for s in item.partition("="))
        if not kind or legal_distance(category, settings) is None:
            raise ConfigError(
                f"parking_zone_features: {item!r} is not Type=category with a category of "
                "hydrant, fireFacility, busStop, crosswalk, safetyZone, corner or intersection"
            )
        found.append((kind, category))
    return found


@dataclass(frozen=True, slots=True)
class Zone:
    """A zone as enforcement judges a sighting in it."""

    id: str
    name: str
    category: str
    type: str  # normal | immediate
    grace_minutes: float
    fine: int
    source: str  # EnforcementZone, or the feature's entity type
    distance: float = 0.0  # metres from the sighting (0: inside an area)

    @property
    def immediate(self) -> bool:
        """One sighting is a violation."""
        return self.type == IMMEDIATE

    def json(self) -> dict[str, Any]:
        """The API form (also how a case keeps its zone)."""
        return {
            "id": self.id,
            "name": self.name,
            "category": self.category,
            "type": self.type,
            "graceMinutes": self.grace_minutes,
            "fine": self.fine,
            "source": self.source,
        }

    def rank(self) -> tuple[bool, int, float, str]:
        """Sort key: the zone a sighting is judged in comes first."""
        return (not self.immediate, -self.fine, self.distance, self.id)


def _number(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
    return float(value) if ok else None


class ZoneFinder:
    """The zones at a place, from the hub's entities."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.settings = hub.settings
        self.features = zone_features(hub.settings)

    async def _near(
        self, tenant: str, kind: str, lon: float, lat: float, metres: float
    ) -> list[Entity]:
        ctx = self.hub.contexts.core
        near = geo.parse_geoquery(
            f"near;maxDistance=={metres}", "Point", f"[{lon},{lat}]", ctx.expand("location")
        )
        found: list[Entity] = []
        while True:
            query = EntityQuery(
                types=parse_type_expr(kind, ctx), geo=near, limit=_PAGE, offset=len(found)
            )
            try:
                page = (await self.hub.entities.query(tenant, query)).entities
            except NonexistentTenant:
                return found
            found.extend(page)
            if len(page) < _PAGE:
                return found

    async def at(self, tenant: str, lon: float, lat: float) -> list[Zone]:
        """Every zone the point is in, the one it is judged in first."""
        zones = [
            z
            for e in await self._near(tenant, ZONE_TYPE, lon, lat, MAX_RADIUS_M)
            if (z := self._zone(e, lon, lat)) is not None
        ]
        for kind, category in self.features:
            metres = legal_distance(category, self.settings) or 0.0
            for e in await self._near(tenant, kind, lon, lat, metres):
                loc = _value(e, "location")
                if not isinstance(loc, dict) or loc.get("type") != "Point":
                    continue
                c = loc["coordinates"]
                name = _value(e, "name")
                zones.append(
                    Zone(
                        e["id"],
                        f"{name if isinstance(name, str) else e['id']} 주변",
                        category,
                        IMMEDIATE,
                        self.settings.parking_grace_minutes,
                        fine_for(category, self.settings),
                        kind,
                        round(geo.haversine_m(c[0], c[1], lon, lat), 1),
                    )
                )
        return sorted(zones, key=Zone.rank)

    def _zone(self, entity: Entity, lon: float, lat: float) -> Zone | None:
        """The zone of an EnforcementZone entity if the point is in it."""
        loc = _value(entity, "location")
        if not isinstance(loc, dict):
            return None
        category = _value(entity, "category")
        if category not in CATEGORIES:
            category = "general"  # unknown or missing: the plain two-sighting rule
        distance = 0.0
        if loc.get("type") == "Point":
            radius = _number(_value(entity, "radius")) or legal_distance(category, self.settings)
            if radius is None:
                log.warning("enforcement zone %s is a Point without radius", entity["id"])
                return None
            c = loc["coordinates"]
            distance = geo.haversine_m(c[0], c[1], lon, lat)
            if distance > min(radius, MAX_RADIUS_M):
                return None
        elif loc.get("type") in ("Polygon", "MultiPolygon"):
            try:
                if not shapely.intersects(shape(loc), shapely.Point(lon, lat)):
                    return None
            except (ValueError, TypeError, GEOSException):
                log.warning("enforcement zone %s has an unusable area", entity["id"])
                return None
        else:
            return None
        kind = _value(entity, "zoneType")
        if kind not in (NORMAL, IMMEDIATE):
            kind = IMMEDIATE if category in IMMEDIATE_BY_DEFAULT else NORMAL
        grace = _number(_value(entity, "graceMinutes"))
        fine = _number(_value(entity, "fineAmount"))
        name = _value(entity, "name")
        return Zone(
            entity["id"],
            name if isinstance(name, str) else entity["id"],
            category,
            kind,
            self.settings.parking_grace_minutes if grace is None else grace,
            fine_for(category, self.settings) if fine is None else round(fine),
            ZONE_TYPE,
            round(distance, 1),
        )
