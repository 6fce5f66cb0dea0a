"""What several city services need alike: every entity of a type, the values of an entity by
short name, a ``from``/``to`` report window, a point for a geometry and a GeoJSON feature."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request

from cityhub.datamodels.model import short_name
from cityhub.errors import BadRequestData, NonexistentTenant
from cityhub.ngsild import geo, query
from cityhub.ngsild.entity import VALUE_MEMBER, Entity
from cityhub.ngsild.filters import EntityQuery, parse_type_expr
from cityhub.ngsild.hub import Hub

SEOUL = ZoneInfo("Asia/Seoul")  # the city's day: a plain date is its midnight
MAX_WINDOW = timedelta(days=366)
_PAGE = 1000
_MAX_ENTITIES = 100_000


SETTLE_S = 2.0  # longest a service's read waits for its change-log consumer


async def settle(hub: Hub, feed_name: str) -> None:
    """Wait (briefly, ``SETTLE_S``) until the consumer ``feed_name`` has handled every change
    logged so far, so a read right after a reading sees what the consumer derives from it."""
    feed = hub.feeds.get(feed_name)
    if feed is not None:
        await feed.caught_up(await hub.storage.log_end(), within_s=SETTLE_S)


async def entities_of(hub: Hub, tenant: str, kind: str, q: str | None = None) -> list[Entity]:
    """Every entity of type ``kind`` (matching ``q``) in a tenant; [] for an unknown tenant."""
    ctx = hub.contexts.core
    types = parse_type_expr(kind, ctx)
    expr = query.parse_q(q, ctx.expand) if q else None
    found: list[Entity] = []
    while len(found) < _MAX_ENTITIES:
        select = EntityQuery(types=types, q=expr, limit=_PAGE, offset=len(found))
        try:
            page = (await hub.entities.query(tenant, select)).entities
        except NonexistentTenant:
            return []
        found.extend(page)
        if len(page) < _PAGE:
            break
    return found


def attributes(entity: Entity) -> dict[str, tuple[Any, str | None, str]]:
    """short name → (value of the default instance, its observedAt, the expanded name)."""
    found: dict[str, tuple[Any, str | None, str]] = {}
    for iri, insts in entity.get("attrs", {}).items():
        inst = next((i for i in insts if not i.get("datasetId")), insts[0] if insts else None)
        if inst is None:
            continue
        value = inst.get(VALUE_MEMBER.get(inst.get("type", ""), "value"))
        if isinstance(value, dict) and "@value" in value:
            value = value["@value"]
        at = inst.get("observedAt")
        found[short_name(iri)] = (value, at if isinstance(at, str) else None, iri)
    return found


def values(entity: Entity) -> dict[str, Any]:
    """short name → value (a Relationship's object, a ListRelationship's objectList...)."""
    return {name: found[0] for name, found in attributes(entity).items()}


def anchor(geometry: Any) -> tuple[float, float] | None:
    """Where to put a geometry on a map or an event: a Point itself, else its box's centre."""
    if not isinstance(geometry, dict):
        return None
    if geometry.get("type") == "Point":
        c = geometry.get("coordinates") or []
        return (float(c[0]), float(c[1])) if len(c) >= 2 else None
    try:
        x0, y0, x1, y1 = geo.bbox_of(geometry)
    except (BadRequestData, TypeError, ValueError, IndexError):
        return None
    return ((x0 + x1) / 2, (y0 + y1) / 2)


def feature(entity_id: str, geometry: Any, properties: dict[str, Any]) -> dict[str, Any] | None:
    """A GeoJSON Feature (None without a geometry: it stays off the map)."""
    if not isinstance(geometry, dict) or "type" not in geometry:
        return None
    return {"type": "Feature", "id": entity_id, "geometry": geometry, "properties": properties}


def graded_layer(
    rows: list[dict[str, Any]], grade: str, colors: dict[str, str], ungraded: str
) -> dict[str, Any]:
    """A map layer: a GeoJSON FeatureCollection of rows (each with ``id`` and ``location``,
    taken out of the properties), coloured by the row's ``grade`` and anchored at a point."""
    features = []
    for row in rows:
        geometry = row.pop("location")
        row["color"] = colors.get(row[grade], ungraded)
        point = anchor(geometry)
        row["anchor"] = list(point) if point else None
        found = feature(row.pop("id"), geometry, row)
        if found is not None:
            features.append(found)
    return {"type": "FeatureCollection", "features": features}


def parse_moment(name: str, text: str) -> datetime:
    """A date-time with ``Z`` or an offset, or a plain date (midnight in Seoul), in UTC."""
    text = text.strip()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        return datetime.combine(day, time(), tzinfo=SEOUL).astimezone(UTC)
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError as err:
        raise BadRequestData(
            f"{name} must be a date (2026-06-01) or a date-time (2026-06-01T09:00:00Z), "
            f"not {text!r}"
        ) from err
    if moment.tzinfo is None:
        raise BadRequestData(f"{name} needs Z or an offset (2026-06-01T09:00:00+09:00)")
    return moment.astimezone(UTC)


def window(
    request: Request, default: timedelta, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """``[from, to)`` from the query (default: ``default`` up to now), at most 366 days."""
    raw_from = request.query_params.get("from") or None
    raw_to = request.query_params.get("to") or None
    until = parse_moment("to", raw_to) if raw_to else (now or datetime.now(UTC))
    since = parse_moment("from", raw_from) if raw_from else until - default
    if since >= until:
        raise BadRequestData(f"from ({iso(since)}) must be before to ({iso(until)})")
    if until - since > MAX_WINDOW:
        raise BadRequestData("from and to are more than 366 days apart")
    return since, until


def iso(moment: datetime) -> str:
    """An NGSI-LD DateTime (UTC, milliseconds)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def when(value: Any) -> datetime | None:
    """A stored DateTime string as an aware datetime (None if absent or unreadable)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
