"""Situation rules as documents: parsing and validating them, and their compiled form.

A rule is a JSON document (docs/rules.md) stored per tenant. :func:`compile_rule` checks it
(``BadRequestData`` naming the member that is wrong) and compiles it: ``q`` and ``clear`` parsed
with the NGSI-LD q language, durations in microseconds, the entity type and attribute names
expanded with the core @context, the area prepared for geometry tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from cityhub.errors import BadRequestData
from cityhub.ngsild import geo
from cityhub.ngsild import query as qlang
from cityhub.ngsild.context import ActiveContext
from cityhub.ops.actions import check_action
from cityhub.ops.events import TYPE as EVENT_TYPE
from cityhub.ops.events import EventSpec
from cityhub.temporal.model import parse_duration

THRESHOLD, ABSENCE, COUNT, GEOFENCE, COMPOSITE, RATE = (
    "threshold",
    "absence",
    "count",
    "geofence",
    "composite",
    "rate",
)
KINDS = (THRESHOLD, ABSENCE, COUNT, GEOFENCE, COMPOSITE, RATE)
#: comparisons of one attribute with another (``compare``)
COMPARE_OPS = ("<", "<=", ">", ">=", "==", "!=")
ON_GEOFENCE = ("enter", "leave", "dwell")
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
_COMMON = {"id", "name", "description", "enabled", "kind", "event", "actions"}
_MEMBERS: dict[str, set[str]] = {
    THRESHOLD: {"entityType", "q", "compare", "for", "clear"},
    ABSENCE: {"entityType", "q", "for"},
    COUNT: {"entityType", "q", "count", "window", "groupBy"},
    GEOFENCE: {"entityType", "q", "area", "near", "on", "dwell"},
    COMPOSITE: {"all", "any", "not", "window"},
    RATE: {"entityType", "q", "attribute", "rise", "fall", "within"},
}
_TEMPLATE_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
#: event members a rule sets itself
_RULE_SET = ("dedupeKey", "related", "source")


@dataclass(frozen=True, slots=True)
class Near:
    """Within ``distance`` metres of any entity of ``entity_type`` (expanded)."""

    entity_type: str
    distance: float


@dataclass(frozen=True, slots=True)
class Compare:
    """``attribute op factor × than`` (both numbers, expanded names)."""

    attribute: str
    op: str
    than: str
    factor: float = 1.0


@dataclass(slots=True)
class Rule:
    """A compiled rule of one tenant; ``doc`` is the document as stored."""

    tenant: str
    id: str
    kind: str
    doc: dict[str, Any]
    enabled: bool = True
    entity_type: str = ""  # expanded
    q: qlang.QExpr | None = None
    clear: qlang.QExpr | None = None
    for_us: int = 0
    count: int = 0
    window_us: int = 0
    group_by: str = "type"
    area: geo.GeoQuery | None = None
    near: Near | None = None
    on: str = "enter"
    dwell_us: int = 0
    all: tuple[str, ...] = ()
    any: tuple[str, ...] = ()
    not_: tuple[str, ...] = ()
    event: dict[str, Any] = field(default_factory=dict)  # the event in the events API form
    q_attrs: frozenset[str] = frozenset()  # attributes q and clear name (expanded)
    actions: tuple[dict[str, Any], ...] = ()  # run when the rule opens a new event
    compare: tuple[Compare, ...] = ()  # threshold: attributes compared with each other
    attribute: str = ""  # rate: the attribute whose change is measured (expanded)
    rise: float | None = None  # rate: by at least this much up within the window
    fall: float | None = None  # rate: or down

    @property
    def refs(self) -> tuple[str, ...]:
        """The rules a composite rule looks at."""
        return (*self.all, *self.any, *self.not_)


def duration_us(value: Any, what: str) -> int:
    """An exact ISO 8601 duration (``PT2H``, ``P1D``) in microseconds."""
    if not isinstance(value, str):
        raise BadRequestData(f'"{what}" must be an ISO 8601 duration string like PT2H')
    try:
        parsed = parse_duration(value)
    except BadRequestData as err:
        raise BadRequestData(
            f'"{what}" {value!r} is not an ISO 8601 duration like PT10M, PT2H or P1D'
        ) from err
    if parsed.months:
        raise BadRequestData(f'"{what}" {value!r}: years and months are not exact; use days')
    return parsed.micros


def _q(body: dict[str, Any], name: str, ctx: ActiveContext, *, required: bool) -> Any:
    text = body.get(name)
    if text is None:
        if required:
            raise BadRequestData(f'a {body.get("kind")} rule needs "{name}" (an NGSI-LD q)')
        return None
    if not isinstance(text, str) or not text.strip():
        raise BadRequestData(f'"{name}" must be an NGSI-LD q expression string')
    try:
        return qlang.parse_q(text, ctx.expand)
    except BadRequestData as err:
        raise BadRequestData(f'"{name}": {err.detail}') from err


def _entity_type(body: dict[str, Any], ctx: ActiveContext) -> str:
    name = body.get("entityType")
    if not isinstance(name, str) or not name:
        raise BadRequestData(f'a {body["kind"]} rule needs "entityType" (an entity type name)')
    if name == EVENT_TYPE or name.endswith("/" + EVENT_TYPE):
        raise BadRequestData(
            "a rule cannot watch CityEvent entities (its own events would trigger it); "
            "combine rules with a composite rule instead"
        )
    return ctx.expand(name)


def _refs(body: dict[str, Any], name: str, own: str) -> tuple[str, ...]:
    value = body.get(name, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise BadRequestData(f'"{name}" must be a list of rule ids')
    if own in value:
        raise BadRequestData(f'a composite rule cannot refer to itself ("{name}")')
    return tuple(value)


def check_event(raw: Any) -> dict[str, Any]:
    """The ``event`` member: the events API form without what the rule sets itself."""
    if not isinstance(raw, dict):
        raise BadRequestData('a rule needs "event": {"eventCode", "eventName", ...}')
    taken = [k for k in _RULE_SET if k in raw]
    if taken:
        raise BadRequestData(f"event: the rule sets {', '.join(taken)} itself")
    try:
        EventSpec.from_json(raw)
    except BadRequestData as err:
        raise BadRequestData(f"event: {err.detail}") from err
    return dict(raw)


def check_actions(raw: Any) -> tuple[tuple[dict[str, Any], ...], str | None]:
    """The ``actions`` member: (the actions run when the rule opens an event, the SOP template
    its events start with — ``{"kind": "sop", "template": id}``, at most one)."""
    if not isinstance(raw, list) or len(raw) > 20:
        raise BadRequestData('"actions" must be a list of at most 20 actions')
    found, template = [], None
    for i, action in enumerate(raw):
        where = f"actions[{i}]"
        if isinstance(action, dict) and action.get("kind") == "sop":
            name = action.get("template")
            if set(action) != {"kind", "template"} or not isinstance(name, str):
                raise BadRequestData(f'{where} (sop) is {{"kind": "sop", "template": <id>}}')
            if not _TEMPLATE_ID.fullmatch(name):
                raise BadRequestData(f"{where}.template must be a template id ([a-z0-9-])")
            if template is not None:
                raise BadRequestData(f"{where}: a rule starts one SOP")
            template = name
            continue
        found.append(check_action(action, where))
    return tuple(found), template


def compile_rule(tenant: str, body: Any, ctx: ActiveContext, rule_id: str | None = None) -> Rule:
    """Check a rule document and compile it (BadRequestData naming what is wrong)."""
    if not isinstance(body, dict):
        raise BadRequestData("a rule is a JSON object")
    ident = body.get("id", rule_id)
    if rule_id is not None and ident != rule_id:
        raise BadRequestData(f"the rule's id {ident!r} is not the id in the URL {rule_id!r}")
    if not isinstance(ident, str) or not ident or len(ident) > 128 or set(ident) - _ID_CHARS:
        raise BadRequestData('a rule needs an "id" of letters, digits, "-", "_" and "." (≤ 128)')
    kind = body.get("kind")
    if kind not in KINDS:
        raise BadRequestData(f"unknown rule kind {kind!r}; expected one of {', '.join(KINDS)}")
    unknown = set(body) - _COMMON - _MEMBERS[kind]
    if unknown:
        raise BadRequestData(f"unknown members in a {kind} rule: {', '.join(sorted(unknown))}")
    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        raise BadRequestData('"enabled" must be true or false')
    for text in ("name", "description"):
        if text in body and not isinstance(body[text], str):
            raise BadRequestData(f'"{text}" must be a string')
    rule = Rule(tenant, ident, kind, dict(body), enabled, event=check_event(body.get("event")))
    rule.actions, template = check_actions(body.get("actions", []))
    if template is not None:
        rule.event["sopTemplate"] = template
    if kind == COMPOSITE:
        _composite(rule, body)
    else:
        rule.entity_type = _entity_type(body, ctx)
        rule.q = _q(body, "q", ctx, required=kind == THRESHOLD and "compare" not in body)
    if kind == THRESHOLD:
        rule.compare = _compare(body.get("compare"), ctx)
        rule.clear = _q(body, "clear", ctx, required=False)
        rule.for_us = duration_us(body["for"], "for") if "for" in body else 0
    elif kind == ABSENCE:
        if "for" not in body:
            raise BadRequestData('an absence rule needs "for" (how long without an update)')
        rule.for_us = duration_us(body["for"], "for")
        if rule.for_us <= 0:
            raise BadRequestData('"for" of an absence rule must be longer than zero')
    elif kind == COUNT:
        _count(rule, body)
    elif kind == GEOFENCE:
        _geofence(rule, body, ctx)
    elif kind == RATE:
        _rate(rule, body, ctx)
    names: set[str] = set()
    for expr in (rule.q, rule.clear):
        if expr is not None:
            names |= qlang.attribute_names(expr)
    names |= {c.attribute for c in rule.compare} | {c.than for c in rule.compare}
    if rule.attribute:
        names.add(rule.attribute)
    rule.q_attrs = frozenset(names)
    return rule


def _compare(raw: Any, ctx: ActiveContext) -> tuple[Compare, ...]:
    """``compare``: conditions between two attributes of the entity, all of which hold."""
    if raw is None:
        return ()
    items = [raw] if isinstance(raw, dict) else raw
    if not isinstance(items, list) or not items or len(items) > 10:
        raise BadRequestData('"compare" must be one or a list of up to 10 comparisons')
    found = []
    for i, item in enumerate(items):
        where = f"compare[{i}]"
        if not isinstance(item, dict) or set(item) - {"attribute", "op", "than", "factor"}:
            raise BadRequestData(
                f'{where} is {{"attribute", "op", "than", "factor"?}}: attribute op factor × than'
            )
        attr, op, than = item.get("attribute"), item.get("op"), item.get("than")
        if not isinstance(attr, str) or not attr or not isinstance(than, str) or not than:
            raise BadRequestData(f'{where} needs "attribute" and "than" (attribute names)')
        if op not in COMPARE_OPS:
            raise BadRequestData(f"{where}.op must be one of {', '.join(COMPARE_OPS)}")
        factor = item.get("factor", 1.0)
        if not isinstance(factor, int | float) or isinstance(factor, bool) or factor != factor:
            raise BadRequestData(f"{where}.factor must be a number")
        found.append(Compare(ctx.expand(attr), op, ctx.expand(than), float(factor)))
    return tuple(found)


def _rate(rule: Rule, body: dict[str, Any], ctx: ActiveContext) -> None:
    attr = body.get("attribute")
    if not isinstance(attr, str) or not attr:
        raise BadRequestData('a rate rule needs "attribute" (the attribute whose change counts)')
    rule.attribute = ctx.expand(attr)
    for name in ("rise", "fall"):
        value = body.get(name)
        if value is not None and (
            not isinstance(value, int | float) or isinstance(value, bool) or not value > 0
        ):
            raise BadRequestData(f'"{name}" must be a number above 0')
        setattr(rule, name, None if value is None else float(value))
    if rule.rise is None and rule.fall is None:
        raise BadRequestData('a rate rule needs "rise" or "fall" (or both)')
    if "within" not in body:
        raise BadRequestData('a rate rule needs "within" (a duration like PT10M)')
    rule.window_us = duration_us(body["within"], "within")
    if rule.window_us <= 0:
        raise BadRequestData('"within" must be longer than zero')


def _composite(rule: Rule, body: dict[str, Any]) -> None:
    rule.all = _refs(body, "all", rule.id)
    rule.any = _refs(body, "any", rule.id)
    rule.not_ = _refs(body, "not", rule.id)
    if not rule.all and not rule.any:
        raise BadRequestData('a composite rule needs "all" or "any" (lists of rule ids)')
    rule.window_us = duration_us(body["window"], "window") if "window" in body else 0


def _count(rule: Rule, body: dict[str, Any]) -> None:
    count = body.get("count")
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 10_000:
        raise BadRequestData('"count" must be a whole number from 1 to 10000')
    rule.count = count
    if "window" not in body:
        raise BadRequestData('a count rule needs "window" (a duration like PT10M)')
    rule.window_us = duration_us(body["window"], "window")
    if rule.window_us <= 0:
        raise BadRequestData('"window" must be longer than zero')
    group = body.get("groupBy", "type")
    if group not in ("entity", "type"):
        raise BadRequestData('"groupBy" must be "entity" or "type"')
    rule.group_by = group


def _geofence(rule: Rule, body: dict[str, Any], ctx: ActiveContext) -> None:
    area, near = body.get("area"), body.get("near")
    if (area is None) == (near is None):
        raise BadRequestData('a geofence rule needs either "area" or "near"')
    if area is not None:
        if not isinstance(area, dict) or area.get("type") not in ("Polygon", "MultiPolygon"):
            raise BadRequestData('"area" must be a GeoJSON Polygon or MultiPolygon')
        try:
            rule.area = geo.GeoQuery("intersects", area)
        except BadRequestData as err:
            raise BadRequestData(f'"area": {err.detail}') from err
    else:
        if not isinstance(near, dict) or not isinstance(near.get("entityType"), str):
            raise BadRequestData('"near" must be {"entityType": type, "distance": metres}')
        distance = near.get("distance")
        if (
            not isinstance(distance, int | float)
            or isinstance(distance, bool)
            or not 0 < distance <= 100_000
        ):
            raise BadRequestData('"near": "distance" must be metres, above 0 and at most 100000')
        rule.near = Near(ctx.expand(near["entityType"]), float(distance))
    on = body.get("on", "dwell" if "dwell" in body else "enter")
    if on not in ON_GEOFENCE:
        raise BadRequestData(f'"on" must be one of {", ".join(ON_GEOFENCE)}')
    rule.on = on
    if on == "dwell":
        if "dwell" not in body:
            raise BadRequestData('a geofence rule on "dwell" needs "dwell" (a duration)')
        rule.dwell_us = duration_us(body["dwell"], "dwell")
    elif "dwell" in body:
        raise BadRequestData('"dwell" only applies when "on" is "dwell"')
