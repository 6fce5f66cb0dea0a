"""Linked entity retrieval: ``join``, ``joinLevel``, ``containedBy`` (clause 4.5.23).

The relationships a read shows are followed to their target entities, ``joinLevel`` hops deep
(default 1), with one batched look-up per level through the EntityService, in the tenant of the
request; a target that does not exist is simply not joined, and ``containedBy`` lists ids that
are never followed. ``join=inline`` puts each target into its relationship (an ``entity`` member,
``entityList`` for a ListRelationship; keyValues: the entity instead of the object id), never
repeating an entity of its own chain; ``join=flat`` appends the targets to the result list, each
entity once. A target is rendered in the request's format with the projection its relationship
gives in braces (``pick=id,locatedAt{id,name}``), else whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cityhub.errors import BadRequestData
from cityhub.ngsild.entity import Entity
from cityhub.ngsild.filters import EntityQuery
from cityhub.ngsild.models import is_uri
from cityhub.ngsild.render import View, linked_ids, render_entity, shown_attributes
from cityhub.ngsild.service import EntityService

INLINE, FLAT = "inline", "flat"
_NONE = "@none"
_LOOKUP_CHUNK = 500  # ids per look-up: well under SQLite's and PostgreSQL's parameter limits
_MAX_LEVEL = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Join:
    """How to retrieve linked entities."""

    mode: str  # INLINE or FLAT
    level: int = 1
    contained_by: frozenset[str] = frozenset()


def join_of(params: Mapping[str, Any]) -> Join | None:
    """The join of a request's parameters (or of a Query body), None when none is asked.

    ``join`` is inline, flat or @none; ``joinLevel`` a positive integer; ``containedBy`` a
    comma-separated string (or array) of entity ids. BadRequestData when malformed.
    """
    mode = params.get("join")
    if mode is None or mode == "" or mode == _NONE:
        return None
    if mode not in (INLINE, FLAT):
        raise BadRequestData(f"join must be inline, flat or @none, got {mode!r}")
    return Join(mode, _level(params.get("joinLevel")), _contained_by(params.get("containedBy")))


def _level(raw: Any) -> int:
    if raw is None or raw == "":
        return 1
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise BadRequestData(f"joinLevel must be a positive integer, got {raw!r}")
    try:
        level = int(raw)
    except ValueError as err:
        raise BadRequestData(f"joinLevel must be a positive integer, got {raw!r}") from err
    if not 1 <= level <= _MAX_LEVEL:
        raise BadRequestData(f"joinLevel must be a positive integer, got {raw!r}")
    return level


def _contained_by(raw: Any) -> frozenset[str]:
    if raw is None or raw == "":
        return frozenset()
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(i, str) and is_uri(i) for i in items):
        raise BadRequestData("containedBy must list entity ids (URIs)")
    return frozenset(items)


@dataclass(slots=True)
class Linked:
    """The entities a read returns, with the linked entities fetched for them."""

    join: Join | None = None
    found: dict[str, Entity] = field(default_factory=dict)  # entity id -> entity
    order: list[tuple[str, View]] = field(default_factory=list)  # targets, first reached first
    _views: dict[tuple[int, str], View] = field(default_factory=dict)

    def render(self, entity: Entity, view: View) -> dict[str, Any]:
        """One entity as the response shows it (inline: with its linked entities)."""
        if self.join is None or self.join.mode != INLINE:
            return render_entity(entity, view)
        return self._inline(entity, view, (entity["id"],))

    def listing(self, entities: list[Entity], view: View) -> list[tuple[Entity, View]]:
        """The entities of a response with their views: flat appends the linked entities."""
        out = [(e, view) for e in entities]
        if self.join is None or self.join.mode != FLAT:
            return out
        listed = {e["id"] for e in entities}
        for target, sub in self.order:
            if target not in listed:
                listed.add(target)
                out.append((self.found[target], sub))
        return out

    def _inline(self, entity: Entity, view: View, chain: tuple[str, ...]) -> dict[str, Any]:
        join = self.join
        assert join is not None

        def link(name: str, target: str) -> dict[str, Any] | None:
            if len(chain) > join.level or target in chain or target in join.contained_by:
                return None
            linked = self.found.get(target)
            if linked is None:
                return None
            return self._inline(linked, self.view_of(view, name), (*chain, target))

        return render_entity(entity, view, link)

    def view_of(self, view: View, name: str) -> View:
        """The view of the entities relationship ``name`` links to (one object per pair, so
        that the same entity reached again with the same view is recognised)."""
        key = (id(view), name)
        sub = self._views.get(key)
        if sub is None:
            sub = self._views[key] = view.linked_view(name)
        return sub


async def fetch_linked(
    service: EntityService,
    tenant: str,
    entities: list[Entity],
    view: View,
    join: Join | None,
) -> Linked:
    """Fetch, level by level, the entities the shown relationships of ``entities`` link to."""
    linked = Linked(join)
    if join is None:
        return linked
    linked.found.update((e["id"], e) for e in entities)
    absent: set[str] = set()
    frontier: list[tuple[Entity, View]] = [(e, view) for e in entities]
    expanded: set[tuple[str, int]] = {(e["id"], id(view)) for e in entities}
    for _ in range(join.level):
        reached: list[tuple[str, View]] = []
        for entity, current in frontier:
            for name, instances in shown_attributes(entity, current):
                targets = [t for inst in instances for t in linked_ids(inst)]
                if not targets:
                    continue
                sub = linked.view_of(current, name)
                for target in targets:
                    if target in join.contained_by or (target, id(sub)) in expanded:
                        continue
                    expanded.add((target, id(sub)))
                    reached.append((target, sub))
        wanted = {t for t, _ in reached if t not in linked.found and t not in absent}
        found = await _lookup(service, tenant, sorted(wanted))
        linked.found.update(found)
        absent |= wanted - found.keys()
        frontier = [(linked.found[t], sub) for t, sub in reached if t in linked.found]
        linked.order.extend((t, sub) for t, sub in reached if t in linked.found)
        if not frontier:
            break
    return linked


async def _lookup(service: EntityService, tenant: str, ids: list[str]) -> dict[str, Entity]:
    found: dict[str, Entity] = {}
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        chunk = ids[start : start + _LOOKUP_CHUNK]
        query = EntityQuery(ids=frozenset(chunk), limit=len(chunk))
        result = await service.query(tenant, query)
        found.update((e["id"], e) for e in result.entities)
    return found
