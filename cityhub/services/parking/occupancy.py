"""Lot occupancy from spot sensors: the ``parking`` change-log consumer's recount.

A ``ParkingSpot`` names its lot with ``refParkingSite`` (or ``refParkingGroup``) and reports
``status`` ``free``/``occupied`` (``closed``/``unknown`` count as neither). When a spot is
created, deleted, changes status or moves to another lot, :func:`recount` counts that lot's
spots *as they are now* and writes ``availableSpotNumber`` and ``occupiedSpotNumber`` on the lot
through the entity service (so the lot's history, rules and subscriptions see it like any
write). Counting the current state, not adding up the changes, makes it idempotent: a replay
after a crash counts the same and writes nothing; a lot already right is not written.

Names are those of the NGSI-LD core @context (as in lots.py and the rules); a lot's existing
attribute of the same short name is reused, whatever vocabulary it was written with.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cityhub.bus import DELETE, Change
from cityhub.datamodels.model import short_name
from cityhub.errors import NonexistentTenant, ResourceNotFound
from cityhub.ngsild import query
from cityhub.ngsild.entity import Entity
from cityhub.ngsild.filters import EntityQuery, parse_type_expr
from cityhub.ngsild.hub import Hub
from cityhub.ngsild.merge import upsert_attrs
from cityhub.ngsild.models import now_iso
from cityhub.ngsild.service import existing
from cityhub.ops.events import _value
from cityhub.storage.base import Mutation

SPOT = "ParkingSpot"
REFS = ("refParkingSite", "refParkingGroup")
COUNTED = ("status", *REFS)  # a change of one of these may change a lot's numbers
_PAGE = 1000


def is_spot(entity: Entity) -> bool:
    """True for a ParkingSpot (whatever @context named its type)."""
    return any(short_name(t) == SPOT for t in entity.get("type", []))


def lots_of(instances: Iterable[dict[str, Any]]) -> set[str]:
    """The lot ids a ``refParkingSite``/``refParkingGroup`` attribute's instances name."""
    return {i["object"] for i in instances if isinstance(i.get("object"), str)}


def refs(entity: Entity) -> set[str]:
    """The lots a spot belongs to, by its relationships."""
    found: set[str] = set()
    for iri, insts in entity.get("attrs", {}).items():
        if short_name(iri) in REFS:
            found |= lots_of(insts)
    return found


def touched_lots(change: Change) -> set[str]:
    """The lots whose numbers a spot change may alter (before and after a move)."""
    if not is_spot(change.entity):
        return set()
    touched = {short_name(iri) for iri in change.prev}
    if change.op != DELETE and not touched & set(COUNTED):
        return set()  # a name, a battery level...: no count changes
    lots = refs(change.entity)
    for iri, before in change.prev.items():
        if short_name(iri) in REFS:
            lots |= lots_of(before)
    return lots


async def spots_of(hub: Hub, tenant: str, lot_id: str) -> list[Entity]:
    """Every spot naming ``lot_id`` as its site or group."""
    ctx = hub.contexts.core
    quoted = lot_id.replace("\\", "\\\\").replace('"', '\\"')
    found = EntityQuery(
        types=parse_type_expr(SPOT, ctx),
        q=query.parse_q("|".join(f'{r}=="{quoted}"' for r in REFS), ctx.expand),
        limit=_PAGE,
    )
    spots: list[Entity] = []
    while True:
        page = (await hub.entities.query(tenant, found)).entities
        spots += page
        if len(page) < _PAGE:
            return spots
        found.offset += _PAGE


def count(spots: Iterable[Entity]) -> tuple[int, int, str | None]:
    """(free, occupied, the latest status time) of some spots."""
    free = occupied = 0
    latest: str | None = None
    for spot in spots:
        status = _value(spot, "status")
        free += status == "free"
        occupied += status == "occupied"
        for iri, insts in spot["attrs"].items():
            if short_name(iri) == "status" and insts:
                when = insts[0].get("observedAt") or insts[0].get("modifiedAt")
                if isinstance(when, str) and (latest is None or when > latest):
                    latest = when
    return free, occupied, latest


async def recount(hub: Hub, tenant: str, lot_id: str) -> bool:
    """Count a lot's spots and write its numbers when they differ; True if it wrote (False
    also when the lot does not exist: a spot may name a lot not registered yet)."""
    try:
        lot = await hub.entities.get(tenant, lot_id)
    except (NonexistentTenant, ResourceNotFound):
        return False
    free, occupied, latest = count(await spots_of(hub, tenant, lot_id))
    if (_value(lot, "availableSpotNumber"), _value(lot, "occupiedSpotNumber")) == (free, occupied):
        return False
    at = latest or now_iso()
    numbers = {"availableSpotNumber": free, "occupiedSpotNumber": occupied}

    def write(current: Entity) -> Entity:
        names = {short_name(iri): iri for iri in current["attrs"]}
        attrs = {
            names.get(name) or hub.contexts.core.expand(name): [
                {"type": "Property", "value": value, "observedAt": at}
            ]
            for name, value in numbers.items()
        }
        return upsert_attrs(current, attrs, now_iso())

    result = await hub.entities.batch(tenant, [Mutation(lot_id, existing(lot_id, write))])
    if result.errors:
        _, error = result.errors[0]
        if isinstance(error, ResourceNotFound):
            return False  # deleted meanwhile
        raise error
    return True
