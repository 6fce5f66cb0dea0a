"""Query parameters of NGSI-LD reads → :class:`EntityQuery` and :class:`View`."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from starlette.requests import Request

from cityhub.errors import BadRequestData, InvalidRequest, TooManyResults
from cityhub.ngsild import geo
from cityhub.ngsild import query as qlang
from cityhub.ngsild.context import ActiveContext
from cityhub.ngsild.entity import RESERVED_ATTRIBUTE_NAMES
from cityhub.ngsild.filters import EntityQuery, parse_scope_q, parse_type_expr
from cityhub.ngsild.http import options, parse_int, split_list
from cityhub.ngsild.models import check_entity_id, is_uri
from cityhub.ngsild.ordering import parse_order_by
from cityhub.ngsild.render import CONCISE, KEY_VALUES, NORMALIZED, View
from cityhub.settings import Settings

_FORMATS = {
    "normalized": NORMALIZED,
    "keyValues": KEY_VALUES,
    "simplified": KEY_VALUES,
    "concise": CONCISE,
}


#: a pick/omit name: an entity member or attribute name
_PROJECTION_NAME = re.compile(r"[^\s<>\"'=;()\\{},]+")
_MAX_PROJECTION_DEPTH = 16

#: pick/omit items: a name, and for a relationship the items of its linked entity (braces)
Projection = list[tuple[str, "Projection | None"]]


def _projection(request: Request, name: str) -> Projection | None:
    """``pick`` / ``omit`` (clause 4.21): comma-separated names, no empty item (400); a
    relationship may give its linked entity's own items in braces: ``id,locatedAt{id,name}``."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    pos = 0

    def items(depth: int) -> Projection:
        nonlocal pos
        if depth > _MAX_PROJECTION_DEPTH:
            raise BadRequestData(f"{name} nests braces more than {_MAX_PROJECTION_DEPTH} deep")
        out: Projection = []
        while True:
            match = _PROJECTION_NAME.match(raw, pos)
            if match is None:
                raise BadRequestData(
                    f"{name} has an invalid item at character {pos + 1} of {raw!r}"
                )
            pos = match.end()
            nested = None
            if raw.startswith("{", pos):
                pos += 1
                nested = items(depth + 1)
                if not raw.startswith("}", pos):
                    raise BadRequestData(f"{name} misses a '}}' at character {pos + 1} of {raw!r}")
                pos += 1
            out.append((match.group(), nested))
            if not raw.startswith(",", pos):
                return out
            pos += 1

    tree = items(0)
    if pos != len(raw):
        raise BadRequestData(f"{name} has an invalid item at character {pos + 1} of {raw!r}")
    return tree


def _projected(view: View, plain: View, tree: Projection, *, pick: bool) -> View:
    """``view`` with a pick (or omit) projection, and for each braced relationship the view of
    its linked entities (``plain`` with the items in braces)."""
    linked = tuple(
        (name, _projected(plain, plain, sub, pick=pick)) for name, sub in tree if sub is not None
    )
    if pick:
        return replace(view, pick=frozenset(name for name, _ in tree), linked=linked)
    # an omitted name with braces omits members of the linked entity, not the relationship
    return replace(view, omit=frozenset(n for n, sub in tree if sub is None), linked=linked)


def attr_list(raw: str | None, ctx: ActiveContext) -> frozenset[str] | None:
    """The ``attrs`` parameter as expanded names; id, type, scope... are not attributes."""
    attrs = split_list(raw)
    if not attrs:
        return None
    reserved = [a for a in attrs if a in RESERVED_ATTRIBUTE_NAMES]
    if reserved:
        raise BadRequestData(f"attrs names entity members, not attributes: {', '.join(reserved)}")
    return frozenset(ctx.expand(a) for a in attrs)


def _dataset_ids(raw: str | None) -> frozenset[str] | None:
    """The ``datasetId`` parameter (clause 4.5.5): datasetIds, ``@none`` the default instance."""
    datasets = split_list(raw)
    if not datasets:
        return None
    bad = [d for d in datasets if d != "@none" and not is_uri(d)]
    if bad:
        raise BadRequestData(f"datasetId must list URIs or @none, got {', '.join(bad)}")
    return frozenset(datasets)


def make_view(request: Request, ctx: ActiveContext) -> View:
    """Rendering options from ``options``, ``format``, ``attrs``, ``pick``, ``omit``, ``lang``,
    ``datasetId``."""
    if not request.scope.get("query_string"):
        return View(ctx=ctx)  # the common case: nothing to parse
    opts = options(request)
    fmt = request.query_params.get("format")
    if fmt is not None and fmt not in _FORMATS:
        # an unknown value of a known parameter is a malformed request (InvalidRequest), as
        # the conformance suite expects for format and options (clause 6.3.20)
        raise InvalidRequest(f"unknown format {fmt!r}; use normalized, concise or keyValues")
    chosen = [f for f in ("keyValues", "simplified", "concise", "normalized") if f in opts]
    unknown = opts - {
        "keyValues",
        "simplified",
        "concise",
        "normalized",
        "sysAttrs",
        "noOverwrite",
        "replace",
        "update",
    }
    if unknown:
        raise InvalidRequest(f"unknown options: {', '.join(sorted(unknown))}")
    if len({_FORMATS[f] for f in chosen}) > 1:
        raise BadRequestData("options name more than one format")
    resolved = _FORMATS[fmt] if fmt else (_FORMATS[chosen[0]] if chosen else NORMALIZED)
    attrs = attr_list(request.query_params.get("attrs"), ctx)
    pick = _projection(request, "pick")
    omit = _projection(request, "omit")
    if pick and omit:
        raise BadRequestData("pick and omit cannot be used together")
    if (pick or omit) and attrs:
        raise BadRequestData("pick and omit cannot be used together with attrs")
    lang = request.query_params.get("lang")
    # linked entities (join) share the format, sysAttrs and lang, not the projections
    plain = View(ctx=ctx, fmt=resolved, sys_attrs="sysAttrs" in opts, lang=lang or None)
    view = replace(plain, attrs=attrs, datasets=_dataset_ids(request.query_params.get("datasetId")))
    if pick:
        return _projected(view, plain, pick, pick=True)
    if omit:
        return _projected(view, plain, omit, pick=False)
    return view


def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as err:
        raise BadRequestData(f"idPattern is not a valid regular expression: {err}") from err


def entity_query(
    request: Request, ctx: ActiveContext, settings: Settings, *, paged: bool = True
) -> EntityQuery:
    """An EntityQuery from GET /entities parameters."""
    p = request.query_params
    ids = split_list(p.get("id"))
    query = EntityQuery(
        ids=frozenset(check_entity_id(i) for i in ids) if ids else None,
        id_pattern=_regex(p["idPattern"]) if p.get("idPattern") else None,
        types=parse_type_expr(p["type"], ctx) if p.get("type") else None,
        q=qlang.parse_q(p["q"], ctx.expand) if p.get("q") is not None else None,
        scope_q=parse_scope_q(p["scopeQ"]) if p.get("scopeQ") else None,
        order_by=parse_order_by(p["orderBy"], ctx.expand) if p.get("orderBy") else None,
    )
    query.attrs = attr_list(p.get("attrs"), ctx)
    if any(p.get(k) is not None for k in ("georel", "geometry", "coordinates")):
        query.geo = geo.parse_geoquery(
            p.get("georel"),
            p.get("geometry"),
            p.get("coordinates"),
            ctx.expand(p.get("geoproperty") or "location"),
        )
    if paged:
        page(request, query, settings)
    return query


def page(request: Request, query: EntityQuery, settings: Settings) -> None:
    """Apply limit/offset/count (TooManyResults above the configured maximum)."""
    query.limit = parse_int(request, "limit", settings.default_limit)
    query.offset = parse_int(request, "offset", 0)
    count = request.query_params.get("count", "false")
    if count not in ("true", "false"):
        raise BadRequestData("count must be true or false")
    query.count = count == "true"
    if query.limit > settings.max_limit:
        raise TooManyResults(f"limit {query.limit} is above the maximum {settings.max_limit}")
    if query.limit == 0 and not query.count:
        raise BadRequestData("limit=0 is only allowed with count=true")


def query_from_body(body: Any, ctx: ActiveContext) -> EntityQuery:
    """An EntityQuery from a POST /entityOperations/query Query object."""
    if not isinstance(body, dict) or body.get("type") != "Query":
        raise BadRequestData('the body must be a Query object ({"type": "Query", ...})')
    query = EntityQuery()
    selectors = body.get("entities")
    if selectors is not None:
        if not isinstance(selectors, list) or not all(isinstance(s, dict) for s in selectors):
            raise BadRequestData("entities must be an array of EntitySelector objects")
        ids: set[str] = set()
        types: list[frozenset[str]] = []
        patterns: list[str] = []
        for sel in selectors:
            for member in ("idPattern", "type"):
                if member in sel and not isinstance(sel[member], str):
                    raise BadRequestData(f"EntitySelector {member} must be a string")
            if "id" in sel:
                ids.add(check_entity_id(sel["id"]))
            if "idPattern" in sel:
                patterns.append(sel["idPattern"])
            if "type" in sel:
                types.extend(parse_type_expr(sel["type"], ctx))
        if ids:
            query.ids = frozenset(ids)
        if patterns:
            query.id_pattern = _regex("|".join(f"(?:{x})" for x in patterns))
        if types:
            query.types = tuple(types)
    attrs = body.get("attrs")
    if attrs is not None:
        if not isinstance(attrs, list) or not all(isinstance(a, str) for a in attrs):
            raise BadRequestData("attrs must be an array of attribute names")
        query.attrs = frozenset(ctx.expand(a) for a in attrs)
    if body.get("q") is not None:
        query.q = qlang.parse_q(str(body["q"]), ctx.expand)
    geo_q = body.get("geoQ")
    if geo_q is not None:
        if not isinstance(geo_q, dict):
            raise BadRequestData("geoQ must be an object")
        geoproperty = geo_q.get("geoproperty") or "location"
        if not isinstance(geoproperty, str):
            raise BadRequestData("geoQ geoproperty must be an attribute name")
        query.geo = geo.parse_geoquery(
            geo_q.get("georel"),
            geo_q.get("geometry"),
            geo_q.get("coordinates"),
            ctx.expand(geoproperty),
        )
    if body.get("scopeQ"):
        query.scope_q = parse_scope_q(str(body["scopeQ"]))
    return query
