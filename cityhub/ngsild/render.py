"""Rendering stored entities for a response: normalized, concise, keyValues, GeoJSON.

Names are compacted with the requester's @context; ``attrs``/``pick``/``omit`` projections,
``options=sysAttrs`` and ``lang`` are applied here, so storage never needs to know them. Linked
entities (``join``, :mod:`cityhub.ngsild.join`) come in through the ``link`` callback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from cityhub.ngsild.context import ActiveContext
from cityhub.ngsild.entity import (
    GEO_PROPERTY,
    INSTANCE_MEMBERS,
    JSON_PROPERTY,
    LANGUAGE_PROPERTY,
    LIST_PROPERTY,
    LIST_RELATIONSHIP,
    PROPERTY,
    RELATIONSHIP,
    VALUE_MEMBER,
    VOCAB_PROPERTY,
    Entity,
    Instance,
)

NORMALIZED, CONCISE, KEY_VALUES = "normalized", "concise", "keyValues"
_META = ("datasetId", "observedAt", "unitCode", "objectType", "lang")
#: attribute types whose simplified (keyValues) form keeps the value member as the only member,
#: because the core @context gives it a meaning a bare value would lose (@language, @vocab,
#: @json, @list containers); ETSI GS CIM 009 V1.8.1 clause 4.5.4.
_KEEP_MEMBER_IN_KEY_VALUES = frozenset(
    {LANGUAGE_PROPERTY, VOCAB_PROPERTY, JSON_PROPERTY, LIST_PROPERTY, LIST_RELATIONSHIP}
)


@dataclass(slots=True, frozen=True)
class View:
    """How to render: format, projections (expanded names), sysAttrs, language."""

    ctx: ActiveContext
    fmt: str = NORMALIZED
    sys_attrs: bool = False
    attrs: frozenset[str] | None = None  # expanded attribute names to keep
    pick: frozenset[str] | None = None  # compacted member names (id, type, attributes)
    omit: frozenset[str] = frozenset()
    lang: str | None = None
    datasets: frozenset[str] | None = None  # datasetIds to keep ("@none": default instance)
    #: views of the entities linked by a relationship (``pick=rel{id,name}``), by its name
    linked: tuple[tuple[str, View], ...] = ()

    def linked_view(self, name: str) -> View:
        """How to render an entity that relationship ``name`` links to (``join``): its own
        projection when ``pick``/``omit`` give one in braces, else the whole entity."""
        for rel, view in self.linked:
            if rel == name:
                return view
        if self.attrs is None and self.pick is None and not self.omit and self.datasets is None:
            return self if not self.linked else replace(self, linked=())
        return replace(self, attrs=None, pick=None, omit=frozenset(), datasets=None, linked=())


#: the rendered linked entity for (relationship name, target id), or None: not joined
Link = Callable[[str, str], dict[str, Any] | None]


def shown_attributes(entity: Entity, view: View) -> Iterator[tuple[str, list[Instance]]]:
    """(compacted name, instances) of each attribute the view shows, in stored order."""
    for iri, instances in entity["attrs"].items():
        if view.attrs is not None and iri not in view.attrs:
            continue
        name = view.ctx.compact(iri)
        if not _shown(name, view):
            continue
        if view.datasets is not None:
            instances = [i for i in instances if i.get("datasetId", "@none") in view.datasets]
            if not instances:
                continue
        yield name, instances


def render_entity(entity: Entity, view: View, link: Link | None = None) -> dict[str, Any]:
    """One stored entity → response object (without @context); ``link`` joins relationships
    to their rendered target entities."""
    ctx = view.ctx
    out: dict[str, Any] = {}
    if _shown("id", view):
        out["id"] = entity["id"]
    if _shown("type", view):
        types = [ctx.compact(t) for t in entity["type"]]
        out["type"] = types[0] if len(types) == 1 else types
    if entity.get("scope") and _shown("scope", view):
        scope = entity["scope"]
        out["scope"] = scope[0] if len(scope) == 1 else scope
    if view.sys_attrs and view.fmt != KEY_VALUES:
        for member in ("createdAt", "modifiedAt"):
            if member in entity:
                out[member] = entity[member]
    for name, instances in shown_attributes(entity, view):
        if view.fmt == KEY_VALUES and len(instances) > 1:
            # a simplified multi-attribute keys its values by datasetId ("@none": the default
            # instance), as the core @context term "dataset" (@container @index) describes
            out[name] = {
                "dataset": {
                    i.get("datasetId", "@none"): _render_linked(i, name, view, link)
                    for i in instances
                }
            }
            continue
        rendered = [_render_linked(i, name, view, link) for i in instances]
        out[name] = rendered[0] if len(rendered) == 1 else rendered
    return out


def _render_linked(inst: Instance, name: str, view: View, link: Link | None) -> Any:
    rendered = render_instance(inst, view)
    return rendered if link is None else _joined(rendered, inst, name, view, link)


def linked_ids(inst: Instance) -> list[str]:
    """The entity ids a Relationship or ListRelationship instance links to."""
    if inst.get("type") == RELATIONSHIP:
        target = inst.get("object")
        return [target] if isinstance(target, str) else []
    if inst.get("type") == LIST_RELATIONSHIP:
        return [o for o in inst.get("objectList") or () if isinstance(o, str)]
    return []


def _joined(rendered: Any, inst: Instance, name: str, view: View, link: Link) -> Any:
    """A rendered relationship with its linked entity (clause 4.5.23, ``join=inline``): an
    ``entity`` member (keyValues: the entity instead of the id); a ListRelationship gets an
    ``entityList`` of the targets found, in objectList order."""
    targets = [t for t in (link(name, i) for i in linked_ids(inst)) if t is not None]
    if not targets:
        return rendered
    if inst["type"] == RELATIONSHIP and view.fmt == KEY_VALUES:
        return targets[0]
    if not isinstance(rendered, dict):
        return rendered
    member = "entity" if inst["type"] == RELATIONSHIP else "entityList"
    return {**rendered, member: targets[0] if member == "entity" else targets}


def _shown(member: str, view: View) -> bool:
    if member in view.omit:
        return False
    return view.pick is None or member in view.pick


def render_instance(inst: Instance, view: View) -> Any:
    """One stored attribute instance in the view's format."""
    ctx = view.ctx
    kind = inst["type"]
    value_member = VALUE_MEMBER[kind]
    value: Any = inst.get(value_member)
    if kind == VOCAB_PROPERTY:
        value = [ctx.compact(v) for v in value] if isinstance(value, list) else ctx.compact(value)
    elif kind == LIST_RELATIONSHIP and view.fmt != KEY_VALUES:
        # stored as bare URIs; the normalized and concise forms wrap each one in {"object": URI}
        # (core @context: "objectList" is an @list of "object" nodes), keyValues keeps them bare
        value = [{"object": o} for o in value]
    if kind == LANGUAGE_PROPERTY and view.lang is not None:
        picked, tag = _pick_language(value, view.lang)
        if view.fmt == KEY_VALUES:
            return picked
        out: dict[str, Any] = {"type": PROPERTY, "value": picked}
        if tag is not None:
            out["lang"] = tag
        if view.fmt == CONCISE:
            del out["type"]
        return out
    if view.fmt == KEY_VALUES:
        return {value_member: value} if kind in _KEEP_MEMBER_IN_KEY_VALUES else value
    out = {"type": kind, value_member: value}
    for member in _META:
        if member in inst:
            out[member] = ctx.compact(inst[member]) if member == "objectType" else inst[member]
    if view.sys_attrs:
        for member in ("createdAt", "modifiedAt"):
            if member in inst:
                out[member] = inst[member]
    for key, sub in inst.items():
        if key not in INSTANCE_MEMBERS and isinstance(sub, dict):
            out[ctx.compact(key)] = render_instance(sub, view)
    if view.fmt == CONCISE:
        # the value member tells the type; a bare value is a Property (or a GeoProperty)
        del out["type"]
        if (
            kind in (PROPERTY, GEO_PROPERTY)
            and len(out) == 1
            and (kind == GEO_PROPERTY or not isinstance(value, dict))
        ):
            return value
    return out


def _pick_language(lang_map: dict[str, Any], wanted: str) -> tuple[Any, str | None]:
    """Best string of a languageMap for a ``lang`` parameter (1.8 clause 4.15).

    ``lang`` is an Accept-Language style list (``fr-CH,fr;q=0.9,*;q=0.5``) tried by weight;
    ``*`` takes any language: the attribute still becomes a Property with one ``lang``, as the
    ETSI conformance suite expects (018_07_03). Without a match: ``@none``, else the first.
    """
    for tag in _language_ranges(wanted):
        if tag == "*":
            first = next((k for k in lang_map if k != "@none"), next(iter(lang_map)))
            return lang_map[first], first
        if tag in lang_map:
            return lang_map[tag], tag
        for key in lang_map:
            if key.split("-")[0] == tag.split("-")[0]:
                return lang_map[key], key
    if "@none" in lang_map:
        return lang_map["@none"], "@none"
    first = next(iter(lang_map))
    return lang_map[first], first


def _language_ranges(wanted: str) -> list[str]:
    """The tags of a ``lang`` value, highest weight first (equal weights keep their order)."""
    ranked: list[tuple[float, str]] = []
    for part in wanted.split(","):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        if tag.strip():
            ranked.append((weight, tag.strip()))
    return [tag for _, tag in sorted(ranked, key=lambda r: -r[0])]


def to_feature(
    entity: Entity, view: View, geometry_iri: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One entity (``body``: already rendered) as a GeoJSON Feature (``application/geo+json``)."""
    if body is None:
        body = render_entity(entity, view)
    instances = entity["attrs"].get(geometry_iri)
    # the geometry of a GeoProperty; any other attribute named has none (clause 6.3.15)
    geometry = (
        instances[0].get("value")
        if instances and instances[0].get("type") == GEO_PROPERTY
        else None
    )
    props = {k: v for k, v in body.items() if k != "id"}
    return {"id": entity["id"], "type": "Feature", "geometry": geometry, "properties": props}
