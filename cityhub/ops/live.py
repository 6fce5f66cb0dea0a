"""The live feed of event changes for dashboards: server-sent events.

Each worker tails the change log from where it stood when the worker started (not a durable
consumer: a live view needs no history), waking when a change is published in the worker or
every half second for other workers' writes, and hands ``CityEvent`` changes to every open
stream whose filters they pass. A stream that cannot keep up is told so and closed rather than
holding memory.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import orjson

from cityhub.bus import DELETE, Change
from cityhub.bus.streams import LiveTail
from cityhub.ops.events import SEVERITIES, TYPE

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StreamFilter:
    """What a stream wants: a tenant, event codes, a least severity, an area."""

    tenant: str = ""
    codes: frozenset[str] | None = None
    category: frozenset[str] | None = None
    min_severity: int = 0
    bbox: tuple[float, float, float, float] | None = None  # min lon, min lat, max lon, max lat

    def passes(self, tenant: str, event: dict[str, Any]) -> bool:
        """True when the event (keyValues form) is for this stream."""
        if tenant != self.tenant:
            return False
        if self.codes is not None and event.get("eventCode") not in self.codes:
            return False
        if self.category is not None and event.get("category") not in self.category:
            return False
        severity = event.get("severity")
        if severity in SEVERITIES and SEVERITIES.index(severity) < self.min_severity:
            return False
        if self.bbox is not None:
            loc = event.get("location")
            coords = loc.get("coordinates") if isinstance(loc, dict) else None
            if not isinstance(coords, list) or len(coords) < 2:
                return False
            lon, lat = coords[0], coords[1]
            if not (self.bbox[0] <= lon <= self.bbox[2] and self.bbox[1] <= lat <= self.bbox[3]):
                return False
        return True


def key_values(entity: dict[str, Any]) -> dict[str, Any]:
    """An event as the feed sends it: short attribute names, values only."""
    out: dict[str, Any] = {"id": entity.get("id")}
    for iri, insts in entity.get("attrs", {}).items():
        if not insts:
            continue
        inst = insts[0]
        value = inst.get("value", inst.get("object"))
        if isinstance(value, dict) and "@value" in value:
            value = value["@value"]
        out[iri.rsplit("/", 1)[-1]] = value
    return out


class LiveFeed(LiveTail[StreamFilter]):
    """The tail of the change log, fanned out to the event streams."""

    hello = b": cityhub live events\n\n"

    def fan_out(self, changes: list[Change]) -> None:
        for change in changes:
            if not any(t.endswith(f"/{TYPE}") for t in change.entity.get("type", [])):
                continue
            event = key_values(change.entity) | {
                "op": "delete" if change.op == DELETE else change.op
            }
            frame = b"event: cityevent\nid: %d\ndata: %s\n\n" % (change.seq, orjson.dumps(event))
            for queue, wanted in self._streams.items():
                if wanted.passes(change.tenant, event):
                    self._streams.offer(queue, frame)
