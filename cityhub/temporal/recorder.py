"""The recorder: turns every logged entity change into attribute-instance rows.

It runs as the durable change-log consumer ``temporal`` (:class:`cityhub.bus.feed.ChangeFeed`),
so the history misses no committed change, even across restarts and workers: its rows and the
consumer's cursor move in one transaction. Only the attributes a change touched produce rows
(a PATCH of one attribute is one row); an instance that disappears gets a deletion row
(``"value": "urn:ngsi-ld:null"`` with ``deletedAt``, NGSI-LD 1.8).
"""

from __future__ import annotations

import hashlib
import itertools
import os
import uuid
from collections.abc import Sequence
from typing import Any

import orjson

from cityhub.bus import DELETE, Change
from cityhub.ngsild.entity import PROPERTY, VALUE_MEMBER, Instance, value_of
from cityhub.ngsild.models import NULL_URI
from cityhub.temporal.model import EntityRow, InstanceRow, WriteBatch, micros_of

INSTANCE_PREFIX = "urn:ngsi-ld:attribute:instance:"
_MAX_VAL = 256  # longer values are kept for distinctCount as a hash


class _InstanceIds:
    """Unique instanceIds without a random draw each: a random prefix per process (drawn
    again in a forked child) and a counter."""

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self.prefix = f"{INSTANCE_PREFIX}{uuid.uuid4()}-"
        self.counter = itertools.count(1)


_IDS = _InstanceIds()


def new_instance_id() -> str:
    """A fresh instanceId."""
    return f"{_IDS.prefix}{next(_IDS.counter):x}"


def numeric(value: Any) -> float | None:
    """The number aggregations use for a value: numbers as they are, booleans as 1/0."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    return None


def value_key(value: Any) -> str | None:
    """A non-numeric value as comparable text (for distinctCount), hashed when long."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return None
    text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    if len(text) > _MAX_VAL:
        return "#" + hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()
    return text


def instance_row(entity_id: str, attr: str, inst: Instance, at: int) -> InstanceRow:
    """The row of one stored attribute instance (``at``: µs of the write, for missing times)."""
    modified = micros_of(inst.get("modifiedAt"), at)
    value = value_of(inst)
    return InstanceRow(
        entity_id=entity_id,
        attr=attr,
        dataset=inst.get("datasetId", ""),
        kind=inst.get("type", PROPERTY),
        instance_id=inst.get("instanceId") or new_instance_id(),
        observed=micros_of(inst.get("observedAt"), modified),
        modified=modified,
        created=micros_of(inst.get("createdAt"), modified),
        deleted=False,
        num=numeric(value),
        val=value_key(value),
        doc={k: v for k, v in inst.items() if k not in ("instanceId", "datasetId")},
    )


def deletion_row(
    entity_id: str, attr: str, dataset: str, kind: str, at: int, at_iso: str
) -> InstanceRow:
    """The row recording that an attribute instance was deleted at ``at``."""
    member = VALUE_MEMBER.get(kind, "value")
    return InstanceRow(
        entity_id=entity_id,
        attr=attr,
        dataset=dataset,
        kind=kind,
        instance_id=new_instance_id(),
        observed=at,
        modified=at,
        created=at,
        deleted=True,
        num=None,
        val=None,
        doc={"type": kind, member: NULL_URI, "deletedAt": at_iso},
    )


def entity_row(change: Change) -> EntityRow:
    """The temporal entity record after a change."""
    entity = change.entity
    return EntityRow(
        entity_id=change.entity_id,
        types=list(entity.get("type", [])),
        scope=entity.get("scope"),
        created_at=entity.get("createdAt", change.at),
        modified_at=change.at if change.op == DELETE else entity.get("modifiedAt", change.at),
        deleted_at=change.at if change.op == DELETE else None,
    )


def rows_of(changes: Sequence[Change]) -> WriteBatch:
    """The rows recording ``changes``: one entity record each, one row per changed instance."""
    batch = WriteBatch()
    for change in changes:
        batch.entities.append((change.tenant, entity_row(change)))
        at = micros_of(change.at, 0)
        for name, before in change.prev.items():
            old = {i.get("datasetId", ""): i for i in before}
            kept: set[str] = set()
            for inst in change.current(name):
                dataset = inst.get("datasetId", "")
                kept.add(dataset)
                if old.get(dataset) != inst:
                    row = instance_row(change.entity_id, name, inst, at)
                    batch.instances.append((change.tenant, row))
            for dataset, inst in old.items():
                if dataset not in kept:
                    kind = inst.get("type", PROPERTY)
                    row = deletion_row(change.entity_id, name, dataset, kind, at, change.at)
                    batch.instances.append((change.tenant, row))
    return batch
