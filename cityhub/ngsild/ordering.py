"""``orderBy``: the order of query results (ETSI GS CIM 009 V1.9.1 clause 4.23).

``orderBy=name;desc,id`` lists sort criteria, most significant first: an entity member (``id``,
``type``, ``scope``, ``createdAt``, ``modifiedAt``) or an attribute path as ``q`` writes it
(``name``, ``name.subProperty``, ``name.createdAt``, ``address[city]``), each ascending unless
followed by ``;desc``. Entities lacking a criterion's value come last in either direction; ties
keep creation order.

Storage confirms each candidate exactly and feeds the matches to :class:`Ranked`, which keeps only
the first ``offset + limit`` of them in order, so ordering a large result costs a page of memory.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from cityhub.errors import BadRequestData
from cityhub.ngsild import query as qlang
from cityhub.ngsild.entity import Entity

#: entity members that can be ordered by (everything else names an attribute)
ORDER_MEMBERS = frozenset({"id", "type", "scope", "createdAt", "modifiedAt"})
_MAX_KEYS = 16


@dataclass(frozen=True, slots=True)
class OrderKey:
    """One sort criterion: an entity member or an attribute path, and its direction."""

    member: str | None = None
    path: qlang.Path | None = None
    descending: bool = False


def parse_order_by(text: str, expand: Callable[[str], str]) -> tuple[OrderKey, ...]:
    """The ``orderBy`` parameter → sort criteria (BadRequestData when malformed)."""
    keys: list[OrderKey] = []
    items = text.split(",")
    if len(items) > _MAX_KEYS:
        raise BadRequestData(f"orderBy names more than {_MAX_KEYS} criteria")
    for item in items:
        target, *directions = (part.strip() for part in item.split(";"))
        if not target:
            raise BadRequestData(f"orderBy has an empty criterion in {text!r}")
        if len(directions) > 1 or (directions and directions[0] not in ("asc", "desc")):
            raise BadRequestData(
                f"orderBy criterion {item!r}: the direction after ';' is asc or desc"
            )
        descending = directions == ["desc"]
        if target in ORDER_MEMBERS:
            keys.append(OrderKey(member=target, descending=descending))
            continue
        try:
            path = qlang.parse_path(target, expand)
        except BadRequestData as err:
            raise BadRequestData(
                f"orderBy criterion {target!r} is not an entity member or attribute path"
            ) from err
        keys.append(OrderKey(path=path, descending=descending))
    return tuple(keys)


def _values(key: OrderKey, entity: Entity) -> list[Any]:
    if key.path is not None:
        return qlang.path_values(key.path, entity)
    value = entity.get(key.member or "")
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _ranked(value: Any) -> tuple[int, Any]:
    """Values of different JSON kinds order by kind: numbers, strings, booleans, the rest."""
    if isinstance(value, bool):
        return (2, value)
    if isinstance(value, int | float):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    return (3, orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode())


class SortKey:
    """Compares two entities by the criteria (multi-valued: the lowest, or highest if desc)."""

    __slots__ = ("parts", "keys")

    def __init__(self, keys: tuple[OrderKey, ...], entity: Entity) -> None:
        self.keys = keys
        parts: list[tuple[int, Any] | None] = []
        for key in keys:
            ranked = [_ranked(v) for v in _values(key, entity)]
            parts.append((max(ranked) if key.descending else min(ranked)) if ranked else None)
        self.parts = parts

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SortKey) and self.parts == other.parts

    __hash__ = None  # type: ignore[assignment]

    def __lt__(self, other: SortKey) -> bool:
        for mine, theirs, key in zip(self.parts, other.parts, self.keys, strict=True):
            if mine == theirs:
                continue
            if mine is None:  # a missing value comes last, ascending or descending
                return False
            if theirs is None:
                return True
            return bool(mine > theirs) if key.descending else bool(mine < theirs)
        return False


class Ranked:
    """The first ``n`` entities in ``orderBy`` order of those added (ties: first added first)."""

    def __init__(self, keys: tuple[OrderKey, ...], n: int) -> None:
        self._keys = keys
        self._n = n
        self._items: list[tuple[SortKey, int, Entity]] = []
        self._seq = 0

    def add(self, entity: Entity) -> None:
        """Offer one entity (in creation order)."""
        self._items.append((SortKey(self._keys, entity), self._seq, entity))
        self._seq += 1
        if len(self._items) >= 2 * self._n + 64:
            self._items = heapq.nsmallest(self._n, self._items)

    def first(self) -> list[Entity]:
        """The first ``n`` entities, in order."""
        return [entity for _, _, entity in heapq.nsmallest(self._n, self._items)]
