"""Parking availability now: each lot's total, free and occupied spaces and occupancy, the
totals of each district and of the tenant, and the lots as a map layer (GeoJSON).

Sites are ``OffStreetParking`` and ``OnStreetParking`` entities: ``totalSpotNumber`` (the
capacity), ``availableSpotNumber`` and ``occupiedSpotNumber`` (kept by the sensors' recount,
occupancy.py, or sent by the lot's own system), ``name``, ``areaServed`` (the district) and
``location``. A lot missing a number gets it from the others (total = free + occupied,
occupied = total - free); one that cannot is listed with nulls and counted nowhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cityhub.datamodels.model import short_name
from cityhub.errors import NonexistentTenant
from cityhub.ngsild.entity import Entity
from cityhub.ngsild.filters import EntityQuery, parse_type_expr
from cityhub.ngsild.hub import Hub
from cityhub.ops.events import _value

SITES = ("OffStreetParking", "OnStreetParking")
BUSY = 0.8  # occupancy from which a lot is "busy" on the map
_PAGE = 1000
_MAX_LOTS = 20_000


@dataclass(frozen=True, slots=True)
class LotState:
    """One lot's numbers now (None where unknown)."""

    id: str
    type: str
    name: str | None
    district: str | None
    total: int | None
    available: int | None
    occupied: int | None
    observed_at: str | None
    location: dict[str, Any] | None

    @property
    def occupancy(self) -> float | None:
        """Occupied share of the total, 0-1 (None when unknown)."""
        if self.total is None or self.occupied is None or self.total <= 0:
            return None
        return round(min(1.0, max(0.0, self.occupied / self.total)), 3)

    @property
    def grade(self) -> str:
        """``free``, ``busy`` (≥ 80 % occupied), ``full`` (no free space) or ``unknown``."""
        if self.available is not None and self.available <= 0:
            return "full"
        occupancy = self.occupancy
        if occupancy is None:
            return "free" if self.available else "unknown"
        return "busy" if occupancy >= BUSY else "free"

    def json(self) -> dict[str, Any]:
        """The lot in the availability answer."""
        return {
            "id": self.id,
            "type": self.type,
            "name": self.name,
            "district": self.district,
            "total": self.total,
            "available": self.available,
            "occupied": self.occupied,
            "occupancy": self.occupancy,
            "grade": self.grade,
            "observedAt": self.observed_at,
        }


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return None
    return max(0, int(value))


def lot_state(lot: Entity) -> LotState:
    """A lot entity's numbers, completed from each other."""
    total = _count(_value(lot, "totalSpotNumber"))
    available = _count(_value(lot, "availableSpotNumber"))
    occupied = _count(_value(lot, "occupiedSpotNumber"))
    if occupied is None and total is not None and available is not None:
        occupied = max(0, total - available)
    if available is None and total is not None and occupied is not None:
        available = max(0, total - occupied)
    if total is None and available is not None and occupied is not None:
        total = available + occupied
    observed = None
    for iri, insts in lot["attrs"].items():
        if short_name(iri) in ("availableSpotNumber", "occupiedSpotNumber") and insts:
            when = insts[0].get("observedAt") or insts[0].get("modifiedAt")
            if isinstance(when, str) and (observed is None or when > observed):
                observed = when
    loc = _value(lot, "location")
    district = _value(lot, "areaServed")
    name = _value(lot, "name")
    return LotState(
        id=lot["id"],
        type=short_name(lot["type"][0]) if lot.get("type") else "",
        name=name if isinstance(name, str) else None,
        district=district if isinstance(district, str) else None,
        total=total,
        available=available,
        occupied=occupied,
        observed_at=observed,
        location=loc if isinstance(loc, dict) else None,
    )


async def lots_now(hub: Hub, tenant: str) -> list[LotState]:
    """Every lot of the tenant, by id."""
    ctx = hub.contexts.core
    found = EntityQuery(types=parse_type_expr(",".join(SITES), ctx), limit=_PAGE)
    lots: list[LotState] = []
    try:
        while len(lots) < _MAX_LOTS:
            page = (await hub.entities.query(tenant, found)).entities
            lots += [lot_state(e) for e in page]
            if len(page) < _PAGE:
                break
            found.offset += _PAGE
    except NonexistentTenant:
        return []
    lots.sort(key=lambda lot: lot.id)
    return lots


def totals(lots: list[LotState]) -> dict[str, Any]:
    """The sums over lots whose numbers are known."""
    known = [lot for lot in lots if lot.total is not None and lot.available is not None]
    total = sum(lot.total or 0 for lot in known)
    available = sum(lot.available or 0 for lot in known)
    occupied = sum(lot.occupied or 0 for lot in known)
    return {
        "lots": len(known),
        "total": total,
        "available": available,
        "occupied": occupied,
        "occupancy": round(occupied / total, 3) if total else None,
    }


async def availability(hub: Hub, tenant: str) -> dict[str, Any]:
    """``{"lots": [...], "districts": [{"district", ...totals}], "total": {...totals}}``."""
    lots = await lots_now(hub, tenant)
    by_district: dict[str, list[LotState]] = {}
    for lot in lots:
        if lot.district:
            by_district.setdefault(lot.district, []).append(lot)
    return {
        "lots": [lot.json() for lot in lots],
        "districts": [{"district": d, **totals(ls)} for d, ls in sorted(by_district.items())],
        "total": totals(lots),
    }


async def layer(hub: Hub, tenant: str) -> dict[str, Any]:
    """The lots as a GeoJSON FeatureCollection (lots without a location left out)."""
    features = []
    for lot in await lots_now(hub, tenant):
        if lot.location is None or "type" not in lot.location:
            continue
        props = lot.json()
        del props["id"]
        features.append(
            {"type": "Feature", "id": lot.id, "geometry": lot.location, "properties": props}
        )
    return {"type": "FeatureCollection", "features": features}
