"""Query parameters of temporal reads → :class:`TemporalQuery` (clause 6.18/6.19 of GS CIM 009).

Every malformed value is a 400 ``BadRequestData`` naming the parameter: an unknown ``timerel``,
a missing ``timeAt``/``endTimeAt``, a bad DateTime, an unknown ``timeproperty`` or
``aggrMethods`` entry, a malformed ``aggrPeriodDuration``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from cityhub.errors import BadRequestData, InvalidRequest, TooManyResults
from cityhub.ngsild import query as qlang
from cityhub.ngsild.context import ActiveContext
from cityhub.ngsild.filters import parse_scope_q, parse_type_expr
from cityhub.ngsild.http import options, parse_int, split_list
from cityhub.ngsild.models import check_entity_id
from cityhub.ngsild.params import attr_list
from cityhub.ngsild.render import CONCISE
from cityhub.settings import Settings
from cityhub.temporal.model import (
    AFTER,
    AGGR_METHODS,
    BEFORE,
    BETWEEN,
    OBSERVED_AT,
    TIME_PROPERTIES,
    Duration,
    TimeFilter,
    parse_duration,
    parse_time,
)

NORMALIZED, TEMPORAL_VALUES, AGGREGATED = "normalized", "temporalValues", "aggregatedValues"
_FORMATS = {
    "normalized": NORMALIZED,
    "concise": CONCISE,
    "temporalValues": TEMPORAL_VALUES,
    "simplified": TEMPORAL_VALUES,
    "keyValues": TEMPORAL_VALUES,
    "aggregatedValues": AGGREGATED,
}
_OTHER_OPTIONS = {"sysAttrs", "count"}
_UNSUPPORTED = ("georel", "geometry", "coordinates", "csf", "lang")
_ENTITY_QUERY_ONLY = ("q", "scopeQ")  # they select entities: no meaning for one entity


@dataclass(slots=True)
class TemporalQuery:
    """A parsed temporal read: which entities and attributes, which instances, which form."""

    tf: TimeFilter
    ids: frozenset[str] | None = None
    id_pattern: re.Pattern[str] | None = None
    types: tuple[frozenset[str], ...] | None = None
    attrs: frozenset[str] | None = None
    last_n: int | None = None
    fmt: str = NORMALIZED
    sys_attrs: bool = False
    methods: tuple[str, ...] = ()
    period: Duration = Duration(0, 0)
    limit: int = 20
    offset: int = 0
    count: bool = False
    q: qlang.QExpr | None = None  # over the instances within the time filter
    scope_q: tuple[tuple[str, ...], ...] | None = None


_TEMPORAL_Q = ("timerel", "timeAt", "endTimeAt", "timeproperty", "lastN")
_AGGREGATION = ("aggrMethods", "aggrPeriodDuration")


def params_of_query(body: Any) -> dict[str, str]:
    """The query parameters a POST /temporal/entityOperations/query ``Query`` body stands for
    (GS CIM 009 clause 5.2.23: ``entities``, ``attrs``, ``q``, ``geoQ``, ``scopeQ``, ``lang``,
    ``temporalQ``; aggregation parameters may come in the body or the URL)."""
    if not isinstance(body, dict) or body.get("type") != "Query":
        raise BadRequestData('the body must be a Query object ({"type": "Query", ...})')
    out: dict[str, str] = {}
    selectors = body.get("entities")
    if selectors is not None:
        if not isinstance(selectors, list) or not all(isinstance(s, dict) for s in selectors):
            raise BadRequestData("entities must be an array of EntitySelector objects")
        parts: dict[str, list[str]] = {"id": [], "idPattern": [], "type": []}
        for sel in selectors:
            for member, found in parts.items():
                if member in sel:
                    if not isinstance(sel[member], str):
                        raise BadRequestData(f"EntitySelector {member} must be a string")
                    found.append(sel[member])
        if parts["id"]:
            out["id"] = ",".join(parts["id"])
        if parts["idPattern"]:
            out["idPattern"] = "|".join(f"(?:{x})" for x in parts["idPattern"])
        if parts["type"]:
            out["type"] = ",".join(f"({t})" if "," in t or ";" in t else t for t in parts["type"])
    attrs = body.get("attrs")
    if attrs is not None:
        if not isinstance(attrs, list) or not all(isinstance(a, str) for a in attrs):
            raise BadRequestData("attrs must be an array of attribute names")
        out["attrs"] = ",".join(attrs)
    for member in ("q", "scopeQ", "lang"):
        if member in body:
            out[member] = str(body[member])
    if "geoQ" in body:
        raise BadRequestData("geoQ is not supported on temporal requests")
    temporal = body.get("temporalQ", {})
    if not isinstance(temporal, dict):
        raise BadRequestData("temporalQ must be an object")
    for name in _TEMPORAL_Q:
        if name in temporal:
            out[name] = _param(temporal[name])
    for name in _AGGREGATION:
        for source in (temporal, body):
            if name in source:
                out[name] = _param(source[name])
    return out


def _param(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def time_filter(request: Request, *, required: bool) -> TimeFilter:
    """``timerel``, ``timeAt``, ``endTimeAt``, ``timeproperty`` (timerel ``required`` for
    queries)."""
    p = request.query_params
    timeproperty = p.get("timeproperty") or OBSERVED_AT
    if timeproperty not in TIME_PROPERTIES:
        raise BadRequestData(
            f"timeproperty must be one of {', '.join(TIME_PROPERTIES)}, got {timeproperty!r}"
        )
    timerel = p.get("timerel")
    if timerel is None:
        if required:
            raise BadRequestData("a temporal query needs timerel (before, after or between)")
        if p.get("timeAt") or p.get("endTimeAt"):
            raise BadRequestData("timeAt and endTimeAt need timerel")
        return TimeFilter(timeproperty)
    if timerel not in (BEFORE, AFTER, BETWEEN):
        raise BadRequestData(f"timerel must be before, after or between, got {timerel!r}")
    raw_at = p.get("timeAt")
    if not raw_at:
        raise BadRequestData(f"timerel={timerel} needs timeAt")
    time_at = parse_time(raw_at, "timeAt")
    end_time_at = None
    if timerel == BETWEEN:
        raw_end = p.get("endTimeAt")
        if not raw_end:
            raise BadRequestData("timerel=between needs endTimeAt")
        end_time_at = parse_time(raw_end, "endTimeAt")
        if end_time_at <= time_at:
            raise BadRequestData("endTimeAt must be later than timeAt")
    return TimeFilter(timeproperty, timerel, time_at, end_time_at)


def _representation(request: Request) -> tuple[str, set[str]]:
    opts = options(request)
    fmt = request.query_params.get("format")
    if fmt is not None and fmt not in _FORMATS:
        raise InvalidRequest(
            f"unknown format {fmt!r}; use normalized, concise, temporalValues or aggregatedValues"
        )
    unknown = opts - set(_FORMATS) - _OTHER_OPTIONS
    if unknown:
        raise InvalidRequest(f"unknown options: {', '.join(sorted(unknown))}")
    chosen = {_FORMATS[o] for o in opts if o in _FORMATS}
    if fmt is not None:
        return _FORMATS[fmt], opts
    if len(chosen) > 1:
        raise BadRequestData("options name more than one representation")
    if chosen:
        return chosen.pop(), opts
    # aggrMethods alone asks for the aggregated representation
    return (AGGREGATED if request.query_params.get("aggrMethods") else NORMALIZED), opts


def _aggregation(request: Request, fmt: str) -> tuple[tuple[str, ...], Duration]:
    raw = request.query_params.get("aggrMethods")
    if fmt != AGGREGATED:
        return (), Duration(0, 0)
    methods = split_list(raw) if raw is not None else None
    if not methods:
        raise BadRequestData("the aggregated representation needs aggrMethods")
    unknown = [m for m in methods if m not in AGGR_METHODS]
    if unknown:
        raise BadRequestData(
            f"unknown aggrMethods {', '.join(unknown)}; use {', '.join(AGGR_METHODS)}"
        )
    duration = request.query_params.get("aggrPeriodDuration")
    period = parse_duration(duration) if duration else Duration(0, 0)
    return tuple(dict.fromkeys(methods)), period


def temporal_query(
    request: Request, ctx: ActiveContext, settings: Settings, *, one_entity: bool
) -> TemporalQuery:
    """A TemporalQuery from the parameters of GET /temporal/entities[/{id}]."""
    p = request.query_params
    for name in _UNSUPPORTED + (_ENTITY_QUERY_ONLY if one_entity else ()):
        if p.get(name) is not None:
            raise BadRequestData(f"{name} is not supported on this temporal request")
    fmt, opts = _representation(request)
    methods, period = _aggregation(request, fmt)
    last_n = None
    if p.get("lastN") is not None:
        last_n = parse_int(request, "lastN", 0, minimum=1)
    query = TemporalQuery(
        tf=time_filter(request, required=not one_entity and last_n is None),
        attrs=attr_list(p.get("attrs"), ctx),
        last_n=last_n,
        fmt=fmt,
        sys_attrs="sysAttrs" in opts,
        methods=methods,
        period=period,
    )
    if one_entity:
        return query
    ids = split_list(p.get("id"))
    query.ids = frozenset(check_entity_id(i) for i in ids) if ids else None
    if p.get("idPattern"):
        try:
            query.id_pattern = re.compile(p["idPattern"])
        except re.error as err:
            raise BadRequestData(f"idPattern is not a valid regular expression: {err}") from err
    query.types = parse_type_expr(p["type"], ctx) if p.get("type") else None
    query.q = qlang.parse_q(p["q"], ctx.expand) if p.get("q") is not None else None
    query.scope_q = parse_scope_q(p["scopeQ"]) if p.get("scopeQ") else None
    if (
        query.ids is None
        and query.id_pattern is None
        and query.types is None
        and not query.attrs
        and query.q is None
    ):
        raise BadRequestData("give at least one of type, id, idPattern, attrs or q")
    query.limit = parse_int(request, "limit", settings.default_limit)
    query.offset = parse_int(request, "offset", 0)
    count = p.get("count", "true" if "count" in opts else "false")
    if count not in ("true", "false"):
        raise BadRequestData("count must be true or false")
    query.count = count == "true"
    if query.limit > settings.max_limit:
        raise TooManyResults(f"limit {query.limit} is above the maximum {settings.max_limit}")
    if query.limit == 0 and not query.count:
        raise BadRequestData("limit=0 is only allowed with count=true")
    return query
