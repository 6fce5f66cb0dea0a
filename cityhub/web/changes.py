"""The live feed of entity changes for the dashboard's map: server-sent events.

Like the event feed (:mod:`cityhub.ops.live`), each worker tails the change log from where it
stood when it started (a live view needs no history), waking when a change is published in the
worker or every half second for other workers' writes, and hands each change to the open
streams that want its entity type. A stream that cannot keep up is told so and closed rather
than holding memory; the client reloads and reconnects.

A stream sees only its tenant and, for a principal limited to some entity types (a grant with
``types``), only those types: the same rule the NGSI-LD API applies to reads.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import orjson

from cityhub.bus import DELETE, Change
from cityhub.bus.streams import LiveTail
from cityhub.datamodels.model import short_name
from cityhub.ops.live import key_values

log = logging.getLogger(__name__)
#: always sent with a trimmed entity (``attrs=``): the map needs to place it
_ALWAYS = frozenset(("location",))


@dataclass(frozen=True, slots=True)
class ChangeFilter:
    """What a stream wants: a tenant, entity types, attributes; and what it may see."""

    tenant: str = ""
    types: frozenset[str] | None = None  # short type names; None: every type
    limit: frozenset[str] | None = None  # the principal's type limit; None: none
    attrs: frozenset[str] | None = None  # short attribute names; None: the whole entity

    def wants(self, tenant: str, types: frozenset[str]) -> bool:
        """True when a change of an entity of these (short) types is for this stream."""
        if tenant != self.tenant:
            return False
        if self.limit is not None and not types & self.limit:
            return False
        return self.types is None or bool(types & self.types)

    def touched(self, change: Change) -> bool:
        """Whether the change touched an attribute this stream shows (always for creates and
        deletes, and when it shows every attribute)."""
        if self.attrs is None or change.op != "update":
            return True
        wanted = self.attrs | _ALWAYS
        return any(short_name(name) in wanted for name in change.prev)


def frame(change: Change, attrs: frozenset[str] | None) -> bytes:
    """One server-sent event for a change: ``event: change``, ``id:`` its log position, and
    the entity (short names, values; only ``attrs`` and the location when given) with its
    short ``type`` and ``op``."""
    types = change.entity.get("type", [])
    body: dict[str, Any] = {
        "id": change.entity_id,
        "type": short_name(types[0]) if types else None,
        "op": "delete" if change.op == DELETE else change.op,
    }
    if change.op != DELETE:
        values = key_values(change.entity)
        values.pop("id", None)
        if attrs is not None:
            keep = attrs | _ALWAYS
            values = {k: v for k, v in values.items() if k in keep}
        body |= values
    return b"event: change\nid: %d\ndata: %s\n\n" % (change.seq, orjson.dumps(body))


class ChangeStreams(LiveTail[ChangeFilter]):
    """The tail of the change log, fanned out to the map's change streams."""

    hello = b": cityhub live changes\nretry: 2000\n\n"

    def fan_out(self, changes: list[Change]) -> None:
        """Hand each change to the streams that want it."""
        for change in changes:
            types = frozenset(short_name(t) for t in change.entity.get("type", []))
            frames: dict[frozenset[str] | None, bytes] = {}  # one encoding per attrs choice
            for queue, wanted in self._streams.items():
                if not wanted.wants(change.tenant, types) or not wanted.touched(change):
                    continue
                data = frames.get(wanted.attrs)
                if data is None:
                    data = frames[wanted.attrs] = frame(change, wanted.attrs)
                self._streams.offer(queue, data)
