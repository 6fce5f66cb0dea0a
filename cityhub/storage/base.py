"""The storage Protocol every backend implements, and what backends share.

Writes go through :meth:`Storage.apply`: the caller passes, per entity, a pure function from the
current stored entity (or None) to the new one (or None to delete), and the backend runs it
atomically (SQLite: on its one write connection, PostgreSQL: under a row lock or a version
check), so read-modify-write
NGSI-LD operations never race. Each mutation succeeds or fails on its own (batch operations
report per entity), and the outcomes carry the before/after states the change stream publishes.

Queries: a backend narrows candidates with its indexes and confirms each one with
:func:`cityhub.ngsild.filters.entity_matches`, so both backends give identical answers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from cityhub.bus import CREATE, DELETE, UPDATE, Change
from cityhub.errors import AlreadyExists, NgsiError
from cityhub.ngsild import geo
from cityhub.ngsild import query as qlang
from cityhub.ngsild.entity import GEO_PROPERTY, RELATIONSHIP, Entity
from cityhub.ngsild.filters import EntityQuery, entity_matches, near_distance
from cityhub.ngsild.ordering import Ranked

MAX_INDEXED_TEXT = 128
"""Longer strings are indexed as present, not by value: equality on them is checked exactly
on the candidates (names and codes are short; free text would only bloat the index)."""

Mutator = Callable[[Entity | None], Entity | None]
"""Current stored entity (None if absent) → new entity (None deletes). May raise NgsiError."""


@dataclass(slots=True)
class Mutation:
    """One entity's change inside :meth:`Storage.apply`."""

    entity_id: str
    fn: Mutator
    create_only: bool = False  # fail with AlreadyExists when the entity exists


@dataclass(slots=True)
class Outcome:
    """What happened to one mutation."""

    entity_id: str
    before: Entity | None = None
    after: Entity | None = None
    error: NgsiError | None = None
    change: Change | None = None  # set by the backend when the mutation changed the entity

    @property
    def changed(self) -> bool:
        return self.error is None and self.before != self.after


@dataclass(slots=True)
class QueryResult:
    """A page of entities and, when asked, the total count."""

    entities: list[Entity] = field(default_factory=list)
    count: int | None = None


@dataclass(slots=True)
class TypeInfo:
    """One entity type with its count and attribute names (for /types)."""

    type: str
    count: int
    attrs: dict[str, set[str]]  # attribute IRI -> attribute types seen


@dataclass(slots=True)
class ChangePage:
    """Changes read from the log after a cursor, in order, with no gap still open."""

    changes: list[Change] = field(default_factory=list)
    upto: int = 0  # the cursor to move to once ``changes`` are handled (≥ their last seq)


class Storage(Protocol):
    """What the NGSI-LD service needs from a database."""

    url: str

    async def open(self) -> None:
        """Connect and migrate the schema to the current version."""

    async def close(self) -> None:
        """Finish pending writes and release connections."""

    async def tenant_exists(self, tenant: str) -> bool:
        """True once a tenant received its first write (the default tenant always exists)."""

    async def get(self, tenant: str, entity_id: str) -> Entity | None:
        """One entity by id, or None."""

    async def apply(self, tenant: str, mutations: Sequence[Mutation]) -> list[Outcome]:
        """Run mutations atomically each, committing them durably before returning."""

    async def query(self, tenant: str, query: EntityQuery) -> QueryResult:
        """Entities matching ``query``, in creation order (or by distance for ``near``)."""

    async def types(self, tenant: str) -> list[TypeInfo]:
        """All entity types with counts and attribute names."""

    async def changes(self, after: int, limit: int) -> ChangePage:
        """Logged changes with ``seq > after`` (every tenant), oldest first: only a prefix no
        transaction still running can add to, so a consumer never skips one."""

    async def cursor(self, name: str) -> int:
        """A consumer's cursor; a new consumer starts at the end of the log."""

    async def log_end(self) -> int:
        """The position of the last committed change (0: none yet)."""

    async def cursors(self) -> dict[str, int]:
        """Every consumer's cursor, by name."""

    async def move_cursor(self, name: str, old: int, new: int) -> None:
        """Move a consumer's cursor on its own (CursorMoved if it is no longer at ``old``)."""

    async def prune_changes(self) -> int:
        """Drop logged changes every consumer has passed; returns how many."""

    async def context_put(self, tenant: str, ident: str, url: str, kind: str, body: Any) -> None:
        """Store a JSON-LD context (``/jsonldContexts``)."""

    async def context_get(self, ident: str) -> dict[str, Any] | None:
        """A stored context by id."""

    async def context_list(self) -> list[dict[str, Any]]:
        """Every stored context (without bodies)."""

    async def context_delete(self, ident: str) -> bool:
        """Delete a stored context; False if it did not exist."""


# --- shared helpers for index maintenance -------------------------------------------------


def index_rows(
    entity: Entity,
) -> tuple[
    list[tuple[str, str, float | None, str | None]],
    list[tuple[str, tuple[float, float, float, float]]],
]:
    """Rows for the attribute-value index and the geo index of one entity.

    Value rows: (attribute IRI, attribute type, number or None, string or None), one per
    instance plus one per scalar element of an array value, so an index lookup is always a
    superset of q matches.
    Geo rows: (attribute IRI, bbox) for every GeoProperty instance.
    """
    values: list[tuple[str, str, float | None, str | None]] = []
    boxes: list[tuple[str, tuple[float, float, float, float]]] = []
    for name, instances in entity["attrs"].items():
        for inst in instances:
            kind = inst.get("type", "Property")
            v = inst.get("object") if kind == RELATIONSHIP else inst.get("value")
            if kind == GEO_PROPERTY and isinstance(v, dict):
                # validated on input; an unindexable shape must never block a write
                with contextlib.suppress(Exception):
                    boxes.append((name, geo.bbox_of(v)))
                values.append((name, kind, None, None))
                continue
            items = v if isinstance(v, list) else [v]
            added = False
            for item in items:
                if isinstance(item, bool):
                    continue
                if isinstance(item, int | float):
                    values.append((name, kind, float(item), None))
                    added = True
                elif isinstance(item, str) and len(item) <= MAX_INDEXED_TEXT:
                    values.append((name, kind, None, item))
                    added = True
            if not added:
                values.append((name, kind, None, None))
    return values, boxes


ADVANCE_CURSOR = "UPDATE cursors SET seq = ? WHERE name = ? AND seq = ?"
"""Moves a consumer's cursor from where it read (compare and set), in the consumer's own
transaction; 0 rows updated means another worker moved it: raise CursorMoved, roll back."""

PRUNE_CHANGES = (
    "DELETE FROM changes WHERE seq IN (SELECT seq FROM changes "
    "WHERE seq <= (SELECT min(seq) FROM cursors) ORDER BY seq LIMIT 5000)"
)


def change_delta(before: Entity | None, after: Entity | None) -> dict[str, list[Any]]:
    """The attributes a write touched, each with its instances before it ([] if new)."""
    old = before["attrs"] if before is not None else {}
    new = after["attrs"] if after is not None else {}
    delta = {n: old.get(n, []) for n, inst in new.items() if old.get(n) != inst}
    delta.update((n, inst) for n, inst in old.items() if n not in new)
    return delta


def make_change(seq: int, tenant: str, outcome: Outcome, at: str) -> Change:
    """The change-log entry of a mutation that changed its entity (stored on ``outcome``)."""
    before, after = outcome.before, outcome.after
    op = CREATE if before is None else DELETE if after is None else UPDATE
    entity = after if after is not None else before
    assert entity is not None
    change = Change(seq, tenant, outcome.entity_id, op, at, entity, change_delta(before, after))
    outcome.change = change
    return change


def distinct_runs(mutations: Sequence[Mutation]) -> list[Sequence[Mutation]]:
    """``mutations`` cut, in order, into runs naming each entity once (so each run can read
    its entities in bulk and write them in bulk)."""
    runs: list[Sequence[Mutation]] = []
    start, seen = 0, set[str]()
    for i, m in enumerate(mutations):
        if m.entity_id in seen:
            runs.append(mutations[start:i])
            start, seen = i, set[str]()
        seen.add(m.entity_id)
    if start < len(mutations):
        runs.append(mutations[start:])
    return runs


def decide(m: Mutation, before: Entity | None) -> Outcome:
    """Run a mutation's function on the current state (no I/O): the outcome to write."""
    if m.create_only and before is not None:
        return Outcome(
            m.entity_id, before, before, AlreadyExists(f"entity {m.entity_id} already exists")
        )
    try:
        return Outcome(m.entity_id, before, m.fn(before))
    except NgsiError as err:
        return Outcome(m.entity_id, before, before, err)


def changed_attributes(before: Entity | None, after: Entity | None) -> list[str] | None:
    """Names of the attributes an update changed, or None when the entity's types or any
    GeoProperty changed too (then every index row of the entity is rewritten)."""
    if before is None or after is None or before["type"] != after["type"]:
        return None
    old, new = before["attrs"], after["attrs"]
    changed = [n for n in old.keys() | new.keys() if old.get(n) != new.get(n)]
    for name in changed:
        for inst in (*old.get(name, ()), *new.get(name, ())):
            if inst.get("type") == GEO_PROPERTY:
                return None
    return changed


def changed_value_rows(
    after: Entity | None, changed: list[str]
) -> list[tuple[str, str, float | None, str | None]]:
    """Attribute-value index rows of the ``changed`` attributes that ``after`` still has."""
    attrs = after["attrs"] if after is not None else {}
    values, _ = index_rows({"attrs": {n: attrs[n] for n in changed if n in attrs}})
    return values


@dataclass(slots=True)
class Narrowing:
    """SQL fragments (placeholders as ``?``) selecting a superset of matching entity rows."""

    clauses: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)


def _num(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v)
    return None


def name_is(interned: bool) -> str:
    """SQL matching ``attr_idx.name`` to one attribute IRI parameter: the IRI itself, or,
    where the backend interns names (SQLite, ``attr_names``), its number."""
    return "(SELECT nid FROM attr_names WHERE name = ?)" if interned else "?"


def q_narrowing(expr: qlang.QExpr, *, interned: bool = False) -> tuple[str, list[Any]] | None:
    """SQL (over alias ``e``) whose rows include every entity ``expr`` can match, or None.

    Uses the ``attr_idx(eid, name, num, str)`` table; exactness is left to entity_matches.
    """
    if isinstance(expr, qlang.And):
        parts = [
            p for p in (q_narrowing(i, interned=interned) for i in expr.items) if p is not None
        ]
        if not parts:
            return None
        return " AND ".join(f"({s})" for s, _ in parts), [x for _, ps in parts for x in ps]
    if isinstance(expr, qlang.Or):
        parts_or = [q_narrowing(i, interned=interned) for i in expr.items]
        if any(p is None for p in parts_or):
            return None
        ok = [p for p in parts_or if p is not None]
        return " OR ".join(f"({s})" for s, _ in ok), [x for _, ps in ok for x in ps]
    exists = f"e.pk IN (SELECT eid FROM attr_idx WHERE name = {name_is(interned)}{{cond}})"
    if isinstance(expr, qlang.Exists):
        return exists.format(cond=""), [expr.path.attr]
    if isinstance(expr, qlang.Compare):
        path = expr.path
        if path.sub or path.keys:
            return exists.format(cond=""), [path.attr]
        value = expr.value
        if expr.op in ("<", "<=", ">", ">=") and _num(value) is not None:
            return exists.format(cond=f" AND num {expr.op} ?"), [path.attr, _num(value)]
        if expr.op == "==":
            if _num(value) is not None:
                return exists.format(cond=" AND num = ?"), [path.attr, _num(value)]
            if isinstance(value, str) and len(value) <= MAX_INDEXED_TEXT:
                return exists.format(cond=" AND str = ?"), [path.attr, value]
            if (
                isinstance(value, qlang.Range)
                and _num(value.low) is not None
                and _num(value.high) is not None
            ):
                return exists.format(cond=" AND num BETWEEN ? AND ?"), [
                    path.attr,
                    _num(value.low),
                    _num(value.high),
                ]
            if isinstance(value, qlang.ValueList):
                nums = [_num(v) for v in value.items]
                if all(n is not None for n in nums):
                    marks = ",".join("?" * len(nums))
                    return exists.format(cond=f" AND num IN ({marks})"), [path.attr, *nums]
                if all(isinstance(v, str) and len(v) <= MAX_INDEXED_TEXT for v in value.items):
                    marks = ",".join("?" * len(value.items))
                    return exists.format(cond=f" AND str IN ({marks})"), [path.attr, *value.items]
        return exists.format(cond=""), [path.attr]
    return None


def query_narrowing(
    query: EntityQuery, *, driven: bool = False, interned: bool = False
) -> Narrowing:
    """Backend-neutral narrowing clauses for ids, types, attrs and q (geo is per backend).

    The most selective index drives: ids, then q's value index, then types; the later
    selectors become correlated look-ups so the planner cannot pick them as the driver.
    ``driven``: the caller adds a selector that drives (a geo index), so types never do.
    ``interned``: ``attr_idx.name`` holds ``attr_names.nid`` (SQLite), not the IRI.
    """
    n = Narrowing()
    if query.ids is not None:
        n.clauses.append(f"e.id IN ({','.join('?' * len(query.ids))})")
        n.params.extend(sorted(query.ids))
    narrowed = q_narrowing(query.q, interned=interned) if query.q is not None else None
    if narrowed is not None:
        n.clauses.append(narrowed[0])
        n.params.extend(narrowed[1])
    if query.types is not None:
        lookup = (
            "EXISTS (SELECT 1 FROM type_idx t WHERE t.eid = e.pk AND t.type = ?)"
            if driven or narrowed is not None or query.ids is not None
            else "e.pk IN (SELECT eid FROM type_idx WHERE type = ?)"
        )
        alts = []
        for conj in query.types:
            alts.append(" AND ".join(lookup for _ in conj))
            n.params.extend(sorted(conj))
        n.clauses.append(" OR ".join(f"({a})" for a in alts))
    if query.attrs is not None:
        marks = ",".join("?" * len(query.attrs))
        if interned:
            marks = f"SELECT nid FROM attr_names WHERE name IN ({marks})"
        n.clauses.append(
            f"EXISTS (SELECT 1 FROM attr_idx a WHERE a.eid = e.pk AND a.name IN ({marks}))"
        )
        n.params.extend(sorted(query.attrs))
    return n


def exact_in_sql(query: EntityQuery) -> bool:
    """True when the SQL narrowing alone is the exact answer (no post-filter needed)."""
    return (
        query.q is None
        and query.geo is None
        and query.id_pattern is None
        and query.scope_q is None
        and query.order_by is None  # orderBy: paginate() sorts the matches
    )


class Pager:
    """Confirms candidates exactly, keeps what the page needs and cuts it; every backend's
    candidate loop feeds one, so all answer alike."""

    def __init__(self, query: EntityQuery) -> None:
        self.query = query
        self.need = query.offset + query.limit
        self.by_distance = query.geo is not None and query.geo.georel == "near"
        self.ranked = Ranked(query.order_by, self.need) if query.order_by else None
        self.matched: list[Entity] = []
        self.total = 0

    def add(self, entity: Entity) -> bool:
        """Offer one candidate; False once no further candidate can change the answer."""
        if not entity_matches(self.query, entity):
            return True
        self.total += 1
        if self.ranked is not None:
            self.ranked.add(entity)
        elif self.by_distance or len(self.matched) < self.need:
            self.matched.append(entity)
        elif not self.query.count:
            return False
        return True

    def result(self) -> QueryResult:
        """The page (ordered by orderBy, else nearest first for near) and the count if asked."""
        matched = self.matched
        if self.ranked is not None:
            matched = self.ranked.first()
        elif self.by_distance:
            matched.sort(key=lambda e: near_distance(self.query, e))
        page = matched[self.query.offset : self.need]
        return QueryResult(page, self.total if self.query.count else None)


def paginate(query: EntityQuery, candidates: Iterator[Entity]) -> QueryResult:
    """Confirm candidates exactly, then order (orderBy, else near: by distance) and cut the page."""
    pager = Pager(query)
    for entity in candidates:
        if not pager.add(entity):
            break
    return pager.result()
