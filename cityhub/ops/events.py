"""Situation events: raised, de-duplicated, moved through their lifecycle, auto-ended.

An event is an NGSI-LD entity of type ``CityEvent`` (the built-in data model), so it is
queryable, subscribable and has history like any city data. Its ``status`` attribute carries
who made the last transition and why as sub-properties (``changedBy``, ``reason``), so the
temporal API shows every transition with who/when/why.

Lifecycle (``status``, and the interworking ``statusCode`` of the integrated platform)::

    occurred (10) → acknowledged → assigned → inProgress      (40: information updated)
         ↓ any open state
    cleared (50) | cancelled (90) | completed (91, also when auto-ended after a quiet time)

A trigger that repeats while its event is open (same ``dedupeKey``) does not open another: the
open event's ``occurrenceCount`` and ``lastOccurredAt`` move on.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cityhub.datamodels.model import short_name
from cityhub.errors import BadRequestData, Conflict, NonexistentTenant, ResourceNotFound
from cityhub.ngsild import models, query
from cityhub.ngsild.batch import upsert_mutation
from cityhub.ngsild.entity import Entity
from cityhub.ngsild.filters import EntityQuery, parse_type_expr
from cityhub.ngsild.hub import Hub
from cityhub.ngsild.models import now_iso
from cityhub.storage.base import QueryResult

TYPE = "CityEvent"
SEOUL = ZoneInfo("Asia/Seoul")

OPEN = ("occurred", "acknowledged", "assigned", "inProgress")
CLOSED = ("cleared", "cancelled", "completed")
#: status -> the interworking status code
CODES = {
    "occurred": "10",
    "acknowledged": "40",
    "assigned": "40",
    "inProgress": "40",
    "cleared": "50",
    "cancelled": "90",
    "completed": "91",
}
#: allowed transitions: from -> to
NEXT: dict[str, frozenset[str]] = {
    "occurred": frozenset(("acknowledged", "assigned", "inProgress", *CLOSED)),
    "acknowledged": frozenset(("assigned", "inProgress", *CLOSED)),
    "assigned": frozenset(("assigned", "inProgress", *CLOSED)),
    "inProgress": frozenset(("assigned", *CLOSED)),
}
SEVERITIES = ("informational", "low", "medium", "high", "critical")


@dataclass(slots=True)
class EventSpec:
    """What raises an event (from an operator, a rule, a linked agency or a device)."""

    event_code: str  # evtId, e.g. MOJUC110
    event_name: str
    severity: str = "medium"
    category: str = "other"
    description: str = ""
    place: str = ""
    location: tuple[float, float] | None = None  # lon, lat
    dedupe_key: str = ""  # default: the event code and the place or location
    source: str = "operator"
    linked_service: str | None = None
    items: list[dict[str, str]] = field(default_factory=list)
    related: list[str] = field(default_factory=list)  # entity ids the event is about
    event_id: str | None = None  # given by the sender (interworking), else made here
    grade: str | None = None  # evtGrad as the sender gave it
    sender: str | None = None  # sendCd
    message_type: str | None = None  # EVENT or PREEVT
    requested_by: str | None = None  # the agency account of a linked-service request
    sop_template: str | None = None  # the SOP its checklist starts from (else the first match)

    @classmethod
    def from_json(cls, body: Any) -> EventSpec:
        """From the API form (BadRequestData naming what is wrong)."""
        if not isinstance(body, dict):
            raise BadRequestData("an event is a JSON object")
        code, name = body.get("eventCode"), body.get("eventName")
        if not isinstance(code, str) or not code or not isinstance(name, str) or not name:
            raise BadRequestData('an event needs "eventCode" and "eventName"')
        severity = body.get("severity", "medium")
        if severity not in SEVERITIES:
            raise BadRequestData(f"severity must be one of {', '.join(SEVERITIES)}")
        loc = body.get("location")
        point: tuple[float, float] | None = None
        if loc is not None:
            if (
                not isinstance(loc, dict)
                or loc.get("type") != "Point"
                or not isinstance(loc.get("coordinates"), list)
                or len(loc["coordinates"]) < 2
                or not all(isinstance(c, int | float) for c in loc["coordinates"][:2])
            ):
                raise BadRequestData("location must be a GeoJSON Point")
            lon, lat = loc["coordinates"][:2]
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise BadRequestData("location coordinates are out of range")
            point = (float(lon), float(lat))
        texts = {}
        for key in ("category", "description", "place", "dedupeKey", "source", "linkedService"):
            value = body.get(key)
            if value is not None and not isinstance(value, str):
                raise BadRequestData(f"{key} must be a string")
            texts[key] = value
        items = body.get("items", [])
        if not isinstance(items, list) or not all(
            isinstance(i, dict) and isinstance(i.get("key"), str) for i in items
        ):
            raise BadRequestData('items must be a list of {"key", "val"} objects')
        template = body.get("sopTemplate")
        if template is not None and (not isinstance(template, str) or not template):
            raise BadRequestData("sopTemplate must be the id of an SOP template")
        related = body.get("related", [])
        if not isinstance(related, list) or not all(isinstance(r, str) for r in related):
            raise BadRequestData("related must be a list of entity ids")
        return cls(
            code,
            name,
            severity,
            texts["category"] or "other",
            texts["description"] or "",
            texts["place"] or "",
            point,
            texts["dedupeKey"] or "",
            texts["source"] or "operator",
            texts["linkedService"],
            [{"key": i["key"], "val": str(i.get("val", ""))} for i in items],
            related,
            sop_template=template,
        )

    def key(self) -> str:
        """What makes two triggers the same event."""
        if self.dedupe_key:
            return self.dedupe_key
        where = self.place
        if not where and self.location is not None:
            where = f"{self.location[0]:.5f},{self.location[1]:.5f}"
        return f"{self.event_code}|{where}"


def _prop(value: Any, **subs: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "Property", "value": value}
    for name, sub in subs.items():
        if sub is not None:
            body[name] = {"type": "Property", "value": sub}
    return body


def occurrence_number(moment: datetime) -> str:
    """The integrated platform's occurrence number: yyyyMMddHHmmssSSS, Seoul time."""
    local = moment.astimezone(SEOUL)
    return local.strftime("%Y%m%d%H%M%S") + f"{local.microsecond // 1000:03d}"


class EventService:
    """Raising events and moving them through their lifecycle, for every feature."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def _parse(self, payload: dict[str, Any]) -> Entity:
        return models.parse_entity(payload, self.hub.contexts.core)

    async def get(self, tenant: str, event_id: str) -> Entity:
        """One event (ResourceNotFound if there is none of that id)."""
        entity = await self.hub.entities.get(tenant, event_id)
        if not any(t.endswith(f"/{TYPE}") for t in entity["type"]):
            raise ResourceNotFound(f"{event_id} is not a city event")
        return entity

    async def select(
        self, tenant: str, terms: list[str], *, limit: int, offset: int = 0, count: bool = False
    ) -> QueryResult:
        """City events whose attributes satisfy every q term (NGSI-LD q, core @context)."""
        ctx = self.hub.contexts.core
        found = EntityQuery(
            types=parse_type_expr(TYPE, ctx),
            q=query.parse_q(";".join(terms), ctx.expand) if terms else None,
            limit=limit,
            offset=offset,
            count=count,
        )
        return await self.hub.entities.query(tenant, found)

    async def open_event(self, tenant: str, key: str) -> Entity | None:
        """The open event of a dedupe key, if there is one."""
        escaped = key.replace("\\", "\\\\").replace('"', '\\"')
        try:
            result = await self.select(
                tenant, [f'dedupeKey=="{escaped}"', status_term(OPEN)], limit=1
            )
        except NonexistentTenant:  # a tenant without data yet
            return None
        return result.entities[0] if result.entities else None

    async def raise_event(self, tenant: str, spec: EventSpec, actor: str) -> tuple[str, bool]:
        """Open an event, or count another occurrence of the open one with the same key;
        (event id, True when a new event was opened)."""
        now = datetime.now(UTC)
        at = now_iso()
        key = spec.key()
        current = await self.open_event(tenant, key)
        if current is not None:
            count = _value(current, "occurrenceCount") or 1
            update = {
                "id": current["id"],
                "type": TYPE,
                "occurrenceCount": _prop(count + 1),
                "lastOccurredAt": _prop(at),
            }
            await self._write(tenant, update)
            return current["id"], False
        number = occurrence_number(now)
        event_id = spec.event_id or f"urn:ngsi-ld:{TYPE}:{number}-{secrets.token_hex(3)}"
        payload: dict[str, Any] = {
            "id": event_id,
            "type": TYPE,
            "eventCode": _prop(spec.event_code),
            "eventName": _prop(spec.event_name),
            "category": _prop(spec.category),
            "severity": _prop(spec.severity),
            "status": _prop("occurred", changedBy=actor, reason="raised"),
            "statusCode": _prop(CODES["occurred"]),
            "occurrenceNumber": _prop(number),
            "occurredAt": _prop(at),
            "lastOccurredAt": _prop(at),
            "statusChangedAt": _prop(at),
            "occurrenceCount": _prop(1),
            "dedupeKey": _prop(key),
            "source": _prop(spec.source),
        }
        payload |= _details(spec)
        if spec.linked_service:
            payload["linkedService"] = _prop(spec.linked_service)
        if spec.requested_by:
            payload["requestedBy"] = _prop(spec.requested_by)
        if spec.sop_template:
            payload["sopTemplate"] = _prop(spec.sop_template)
        if spec.related:
            payload["refRelatedEntity"] = {"type": "Relationship", "object": spec.related[0]}
        await self.hub.entities.create(tenant, self._parse(payload))
        return event_id, True

    async def update_info(self, tenant: str, event_id: str, spec: EventSpec) -> None:
        """New details of an event from its source (status code 40: information updated)."""
        await self.get(tenant, event_id)
        update = {"id": event_id, "type": TYPE, "lastOccurredAt": _prop(now_iso())}
        update |= _details(spec) | {"eventName": _prop(spec.event_name)}
        await self._write(tenant, update)

    async def transition(
        self,
        tenant: str,
        event_id: str,
        to: str,
        actor: str,
        reason: str = "",
        assignee: str | None = None,
    ) -> Entity:
        """Move an event on (Conflict when its status does not allow it)."""
        if to not in CODES:
            raise BadRequestData(f"status must be one of {', '.join(CODES)}")
        if to == "assigned" and not assignee:
            raise BadRequestData("assigning an event needs an assignee")
        current = await self.get(tenant, event_id)
        status = _value(current, "status")
        if status in CLOSED:
            raise Conflict(f"event {event_id} is {status}: it cannot change any more")
        if to not in NEXT.get(str(status), frozenset()):
            raise Conflict(f"event {event_id} is {status}: it cannot become {to}")
        at = now_iso()
        update: dict[str, Any] = {
            "id": event_id,
            "type": TYPE,
            "status": _prop(to, changedBy=actor, reason=reason or None),
            "statusCode": _prop(CODES[to]),
            "statusChangedAt": _prop(at),
        }
        if to == "acknowledged":
            update["acknowledgedAt"] = _prop(at)
        if assignee:
            update["handledBy"] = _prop({"userId": assignee, "assignedBy": actor})
        if to in CLOSED:
            update["endedAt"] = _prop(at)
        await self._write(tenant, update)
        return await self.get(tenant, event_id)

    async def _write(self, tenant: str, payload: dict[str, Any]) -> None:
        result = await self.hub.entities.batch(
            tenant, [upsert_mutation(self._parse(payload), update=True)]
        )
        if result.errors:
            raise result.errors[0][1]

    async def sweep(
        self, tenant: str, quiet: timedelta, escalate_after: timedelta
    ) -> tuple[list[str], list[str]]:
        """Auto-end open events quiet for ``quiet`` (completed, 91), and escalate events not
        acknowledged within ``escalate_after`` (once); (ended ids, escalated ids)."""
        try:
            open_events = (await self.select(tenant, [status_term(OPEN)], limit=1000)).entities
        except NonexistentTenant:
            return [], []
        now = datetime.now(UTC)
        ended, escalated = [], []
        for event in open_events:
            last = _when(_value(event, "lastOccurredAt")) or now
            by_rule = str(_value(event, "source") or "").startswith("rule:")
            if now - last >= quiet and not by_rule:  # a rule's event ends when the rule clears
                await self.transition(
                    tenant, event["id"], "completed", "system", "auto-ended: no new occurrence"
                )
                ended.append(event["id"])
                continue
            occurred = _when(_value(event, "occurredAt")) or now
            if (
                _value(event, "status") == "occurred"
                and not _value(event, "escalated")
                and now - occurred >= escalate_after
            ):
                await self._write(
                    tenant,
                    {
                        "id": event["id"],
                        "type": TYPE,
                        "escalated": _prop(True),
                        "escalatedAt": _prop(now_iso()),
                        "severity": _prop(_higher(str(_value(event, "severity")))),
                    },
                )
                escalated.append(event["id"])
        return ended, escalated


def _details(spec: EventSpec) -> dict[str, Any]:
    """The descriptive attributes an event spec gives (those it has)."""
    found: dict[str, Any] = {}
    for name, value in (
        ("description", spec.description),
        ("placeName", spec.place),
        ("eventGrade", spec.grade),
        ("senderCode", spec.sender),
        ("messageType", spec.message_type),
    ):
        if value:
            found[name] = _prop(value)
    if spec.location is not None:
        found["location"] = {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": list(spec.location)},
        }
    if spec.items:
        found["eventItems"] = _prop(spec.items)
    return found


def _higher(severity: str) -> str:
    index = SEVERITIES.index(severity) if severity in SEVERITIES else 2
    return SEVERITIES[min(index + 1, len(SEVERITIES) - 1)]


def status_term(statuses: Iterable[str]) -> str:
    """The q term selecting events in any of ``statuses``."""
    return "status==" + ",".join(f'"{s}"' for s in statuses)


def _value(entity: Entity, name: str) -> Any:
    """The value of an attribute by short name (default instance)."""
    for iri, insts in entity["attrs"].items():
        if short_name(iri) == name and insts:
            inst = insts[0]
            value = inst.get("value")
            return value.get("@value") if isinstance(value, dict) and "@value" in value else value
    return None


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
