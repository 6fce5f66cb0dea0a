"""Temporal representations of entities (GS CIM 009 clauses 4.5.7, 4.5.9, 4.5.19).

* normalized: every attribute is an array of its instances (each with ``instanceId``), oldest
  first; a deleted instance shows ``"value": "urn:ngsi-ld:null"`` and ``deletedAt``;
* concise (clause 4.5.21): the same instances without the ``type`` their value member tells;
* temporalValues (simplified): per datasetId ``{"type", "values": [[value, time], ...]}``
  (``objects`` for relationships, ``languageMaps``, ``jsons``, ``valueLists``,
  ``objectLists``, ``vocabs`` for the other types);
* aggregatedValues: per datasetId ``{"type", "<method>": [[value, start, end], ...]}``.

Names are compacted with the requester's @context, attribute instances rendered by
:func:`cityhub.ngsild.render.render_instance`, as for current entities.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cityhub.ngsild.entity import (
    GEO_PROPERTY,
    JSON_PROPERTY,
    LANGUAGE_PROPERTY,
    LIST_PROPERTY,
    LIST_RELATIONSHIP,
    PROPERTY,
    RELATIONSHIP,
    VALUE_MEMBER,
    VOCAB_PROPERTY,
    value_of,
)
from cityhub.ngsild.render import CONCISE, View, render_instance
from cityhub.temporal.model import DELETED_AT, OBSERVED_AT, Bucket, EntityRow, Series, iso
from cityhub.temporal.params import AGGREGATED, TEMPORAL_VALUES, TemporalQuery
from cityhub.temporal.store import Stored

VALUES_MEMBER = {
    PROPERTY: "values",
    GEO_PROPERTY: "values",
    RELATIONSHIP: "objects",
    LANGUAGE_PROPERTY: "languageMaps",
    JSON_PROPERTY: "jsons",
    LIST_PROPERTY: "valueLists",
    LIST_RELATIONSHIP: "objectLists",
    VOCAB_PROPERTY: "vocabs",
}

PeriodOf = Callable[[int], tuple[str, str]]  # period index -> (start, end) DateTimes


@dataclass(slots=True)
class TemporalEntity:
    """One entity's record with the history of each of its series read for a response."""

    row: EntityRow
    series: list[tuple[Series, list[Stored]]]
    buckets: dict[int, list[Bucket]]  # sid -> periods (aggregated representation)


def render_temporal(
    entity: TemporalEntity, query: TemporalQuery, view: View, period_of: PeriodOf | None
) -> dict[str, Any]:
    """One entity's temporal representation (without @context)."""
    ctx = view.ctx
    row = entity.row
    out: dict[str, Any] = {"id": row.entity_id}
    types = [ctx.compact(t) for t in row.types]
    out["type"] = types[0] if len(types) == 1 else types
    if row.scope:
        out["scope"] = row.scope[0] if len(row.scope) == 1 else row.scope
    if query.sys_attrs:
        out["createdAt"] = row.created_at
        out["modifiedAt"] = row.modified_at
        if row.deleted_at:
            out["deletedAt"] = row.deleted_at
    by_attr: dict[str, list[tuple[Series, list[Stored]]]] = {}
    for series, stored in entity.series:
        by_attr.setdefault(series.attr, []).append((series, stored))
    for attr, slots in by_attr.items():
        name = ctx.compact(attr)
        if query.fmt == AGGREGATED:
            assert period_of is not None
            parts = [
                _aggregated(s, entity.buckets.get(s.sid, []), query.methods, period_of)
                for s, _ in slots
            ]
            out[name] = parts[0] if len(parts) == 1 else parts
        elif query.fmt == TEMPORAL_VALUES:
            parts = [_simplified(s, stored, query, view) for s, stored in slots if stored]
            if parts:
                out[name] = parts[0] if len(parts) == 1 else parts
        else:
            merged = heapq.merge(
                *([(s, i) for i in stored] for s, stored in slots), key=lambda p: p[1].time
            )
            instances = [_normalized(s, inst, view) for s, inst in merged]
            if instances:
                out[name] = instances
    return out


def _normalized(series: Series, stored: Stored, view: View) -> dict[str, Any]:
    doc = stored.doc
    if DELETED_AT in doc:
        out = dict(doc)
        if view.fmt == CONCISE:
            out.pop("type", None)
    else:
        inst = {**doc, "datasetId": series.dataset} if series.dataset else doc
        rendered = render_instance(inst, view)
        # concise renders a bare value as itself; an instance always has more to say
        out = rendered if isinstance(rendered, dict) else {"value": rendered}
    if series.dataset:
        out["datasetId"] = series.dataset
    out["instanceId"] = stored.instance_id
    return out


def _time_of(stored: Stored, query: TemporalQuery) -> str:
    """The DateTime a simplified value is paired with (as given, when the instance has it)."""
    prop = query.tf.timeproperty
    given = stored.doc.get(prop)
    if given is None and prop == OBSERVED_AT:
        given = stored.doc.get(DELETED_AT)
    return given if isinstance(given, str) else iso(stored.time)


def _simplified(
    series: Series, stored: list[Stored], query: TemporalQuery, view: View
) -> dict[str, Any]:
    pairs = []
    for inst in stored:
        value = value_of(inst.doc) if DELETED_AT not in inst.doc else _null_of(inst.doc)
        if inst.doc.get("type") == VOCAB_PROPERTY and DELETED_AT not in inst.doc:
            value = (
                [view.ctx.compact(v) for v in value]
                if isinstance(value, list)
                else view.ctx.compact(value)
            )
        pairs.append([value, _time_of(inst, query)])
    out: dict[str, Any] = {"type": series.kind, VALUES_MEMBER.get(series.kind, "values"): pairs}
    if series.dataset:
        out["datasetId"] = series.dataset
    return out


def _null_of(doc: dict[str, Any]) -> Any:
    return doc.get(VALUE_MEMBER.get(doc.get("type", PROPERTY), "value"))


def _aggregated(
    series: Series, buckets: list[Bucket], methods: tuple[str, ...], period_of: PeriodOf
) -> dict[str, Any]:
    out: dict[str, Any] = {"type": series.kind}
    periods = [period_of(b[1]) for b in buckets]
    for column, method in enumerate(methods, 2):
        triples = [
            [b[column], start, end]
            for b, (start, end) in zip(buckets, periods, strict=True)
            if b[column] is not None  # sum, avg...: no numeric value in the period
        ]
        if method == "stddev":  # SQL gives the sample variance
            for triple in triples:
                triple[0] = math.sqrt(max(triple[0], 0.0))
        out[method] = triples
    if series.dataset:
        out["datasetId"] = series.dataset
    return out
