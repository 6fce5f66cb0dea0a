"""What an entity query selects, and the exact in-memory test of it.

Storage backends narrow candidates with indexes (types, attribute values, R-tree/GiST boxes) and
then call :func:`entity_matches` on each candidate, so both backends give the same answers and
an index only has to return a superset of the matches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from cityhub.errors import BadRequestData
from cityhub.ngsild import query as qlang
from cityhub.ngsild.context import ActiveContext
from cityhub.ngsild.entity import Entity
from cityhub.ngsild.geo import GeoQuery
from cityhub.ngsild.ordering import OrderKey

TypeExpr = tuple[frozenset[str], ...]  # OR of ANDs of expanded type IRIs


@dataclass(slots=True)
class EntityQuery:
    """Selection of entities; names are expanded IRIs."""

    ids: frozenset[str] | None = None
    id_pattern: re.Pattern[str] | None = None
    types: TypeExpr | None = None
    attrs: frozenset[str] | None = None  # entity must have at least one of them
    q: qlang.QExpr | None = None
    geo: GeoQuery | None = None
    scope_q: tuple[tuple[str, ...], ...] | None = None  # OR of ANDs of scope patterns
    limit: int = 20
    offset: int = 0
    count: bool = False
    order_by: tuple[OrderKey, ...] | None = None  # orderBy: storage sorts all matches
    extra: dict[str, Any] = field(default_factory=dict)

    def selects_anything(self, *, ids: bool = True) -> bool:
        """True when at least one selector restricts the result (``ids``: count the id list)."""
        return any(
            x is not None
            for x in (
                self.ids if ids else None,
                self.id_pattern,
                self.types,
                self.attrs,
                self.q,
                self.geo,
                self.scope_q,
            )
        )


def parse_type_expr(text: str, ctx: ActiveContext) -> TypeExpr:
    """``type`` parameter (``A,B``, ``A|B``, ``A;B``, parentheses) → OR of ANDs."""
    tokens = re.findall(r"[(),;|]|[^(),;|]+", text.replace(" ", ""))
    pos = 0

    def parse_or() -> list[frozenset[str]]:
        nonlocal pos
        terms = parse_and()
        while pos < len(tokens) and tokens[pos] in ("|", ","):
            pos += 1
            terms = terms + parse_and()
        return terms

    def parse_and() -> list[frozenset[str]]:
        nonlocal pos
        terms = parse_atom()
        while pos < len(tokens) and tokens[pos] == ";":
            pos += 1
            right = parse_atom()
            terms = [a | b for a in terms for b in right]
        return terms

    def parse_atom() -> list[frozenset[str]]:
        nonlocal pos
        if pos >= len(tokens):
            raise BadRequestData(f"type expression {text!r} ends too early")
        tok = tokens[pos]
        pos += 1
        if tok == "(":
            inner = parse_or()
            if pos >= len(tokens) or tokens[pos] != ")":
                raise BadRequestData(f"type expression {text!r} misses a ')'")
            pos += 1
            return inner
        if tok in "),;|":
            raise BadRequestData(f"type expression {text!r} has an unexpected {tok!r}")
        return [frozenset({ctx.expand(tok)})]

    result = parse_or()
    if pos != len(tokens):
        raise BadRequestData(f"type expression {text!r} has trailing text")
    return tuple(dict.fromkeys(result))


def parse_scope_q(text: str) -> tuple[tuple[str, ...], ...]:
    """``scopeQ`` (``/A/B;/C|/D/#``) → OR of ANDs of scope patterns."""
    out: list[tuple[str, ...]] = []
    for alt in text.replace("(", "").replace(")", "").split("|"):
        parts = tuple(p.strip() for p in alt.split(";") if p.strip())
        for p in parts:
            if not re.match(r"^/(#|\+|[^/#+\s]+)(/(#|\+|[^/#+\s]+))*$", p) and p != "/#":
                raise BadRequestData(f"invalid scopeQ term {p!r}")
        if parts:
            out.append(parts)
    if not out:
        raise BadRequestData("scopeQ is empty")
    return tuple(out)


def _scope_matches(pattern: str, scope: str) -> bool:
    pp = pattern.strip("/").split("/")
    sp = scope.strip("/").split("/")
    for i, part in enumerate(pp):
        if part == "#":
            return True
        if i >= len(sp):
            return False
        if part != "+" and part != sp[i]:
            return False
    return len(pp) == len(sp)


def types_match(types: TypeExpr, entity_types: list[str]) -> bool:
    """True when the entity's types satisfy the type expression."""
    have = set(entity_types)
    return any(conj <= have for conj in types)


def entity_matches(query: EntityQuery, entity: Entity) -> bool:
    """The exact test of every selector of ``query`` against one stored entity."""
    if query.ids is not None and entity["id"] not in query.ids:
        return False
    if query.id_pattern is not None and not query.id_pattern.search(entity["id"]):
        return False
    if query.types is not None and not types_match(query.types, entity["type"]):
        return False
    attrs = entity["attrs"]
    if query.attrs is not None and not any(a in attrs for a in query.attrs):
        return False
    if query.scope_q is not None:
        scopes = entity.get("scope") or []
        if not any(
            all(any(_scope_matches(p, s) for s in scopes) for p in conj) for conj in query.scope_q
        ):
            return False
    if query.geo is not None:
        instances = attrs.get(query.geo.geoproperty) or []
        if not any(
            isinstance(i.get("value"), dict) and query.geo.matches(i["value"]) for i in instances
        ):
            return False
    return query.q is None or qlang.matches(query.q, entity)


def near_distance(query: EntityQuery, entity: Entity) -> float:
    """Distance in metres used to order ``near`` results (nearest first)."""
    assert query.geo is not None
    best = float("inf")
    for inst in entity["attrs"].get(query.geo.geoproperty) or []:
        d = query.geo.distance_m(inst.get("value") or {})
        if d is not None and d < best:
            best = d
    return best
