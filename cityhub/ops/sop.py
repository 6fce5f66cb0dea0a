"""SOP checklists on situation events: started from a template, automatic steps run, the
rest ticked off by people, overdue steps listed.

The checklist is the event's ``sop`` attribute (a Property; written through the entity
service, so it has history, is in the NGSI-LD API and in the live feed)::

    {"template": "119-dispatch", "name": "...", "startedAt": "...", "startedBy": "system",
     "steps": [{"id", "title", "role", "dueAt"?, "auto"?,
                "status": "pending" | "done" | "skipped" | "failed",
                "by"?, "at"?, "comment"?, "result"?}, ...]}

Every change of it is a compare-and-set inside the storage's transaction (the mutation sees
the event as stored), so two workers cannot both start a checklist nor both tick a step.

New events get their checklist automatically: the durable change-log consumer ``sops`` looks
for ``CityEvent`` creations and starts the first matching template. Starting claims the
checklist first and runs the automatic steps after, so a replay of the log after a crash does
nothing twice: an event that has a checklist is left alone (automatic steps a crash cut off
stay ``pending`` for a person to do).
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from cityhub.bus import CREATE, Change
from cityhub.bus.feed import ChangeFeed
from cityhub.errors import BadRequestData, Conflict, NonexistentTenant, ResourceNotFound
from cityhub.ngsild import merge, models
from cityhub.ngsild.entity import Entity
from cityhub.ngsild.hub import Hub
from cityhub.ngsild.service import existing
from cityhub.ops.actions import Actions, sms_gateway
from cityhub.ops.cctv import CctvService
from cityhub.ops.events import CLOSED, OPEN, TYPE, EventService, _value, _when, status_term
from cityhub.ops.inbox import Inbox
from cityhub.ops.live import key_values
from cityhub.ops.sop_templates import TemplateStore, builtins
from cityhub.storage.base import Mutation

log = logging.getLogger(__name__)

CONSUMER = "sops"
PENDING, DONE, SKIPPED, FAILED = "pending", "done", "skipped", "failed"
TICKS = (DONE, SKIPPED)  # what a person may set
_AT_ONCE = 16  # events of one change-log page started concurrently
_MAX_COMMENT = 2000


def iso(moment: datetime) -> str:
    """An NGSI-LD DateTime (UTC, milliseconds)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def checklist(template: dict[str, Any], actor: str, now: datetime) -> dict[str, Any]:
    """A new checklist from a template, every step pending."""
    steps = []
    for step in template["steps"]:
        item: dict[str, Any] = {"id": step["id"], "title": step["title"], "role": step["role"]}
        if "dueMinutes" in step:
            item["dueAt"] = iso(now + timedelta(minutes=step["dueMinutes"]))
        if "auto" in step:
            item["auto"] = step["auto"]
        steps.append(item | {"status": PENDING})
    return {
        "template": template["id"],
        "name": template["name"],
        "startedAt": iso(now),
        "startedBy": actor,
        "steps": steps,
    }


def _is_event(entity: dict[str, Any]) -> bool:
    return any(t.endswith(f"/{TYPE}") for t in entity.get("type", []))


def _step(sop: dict[str, Any], step_id: str, event_id: str) -> dict[str, Any]:
    for step in sop.get("steps", []):
        if step.get("id") == step_id:
            found: dict[str, Any] = step
            return found
    raise ResourceNotFound(f"the SOP of event {event_id} has no step {step_id}")


class SopService:
    """Starting, ticking and watching SOP checklists (``hub.extras["sops"]``)."""

    def __init__(
        self, hub: Hub, events: EventService, templates: TemplateStore, actions: Actions
    ) -> None:
        self.hub = hub
        self.events = events
        self.templates = templates
        self.actions = actions
        self.feed: ChangeFeed | None = None
        self._at_once = asyncio.Semaphore(_AT_ONCE)

    # --- writing the checklist ------------------------------------------------------------

    async def _change(
        self,
        tenant: str,
        event_id: str,
        change: Callable[[Entity, dict[str, Any] | None], dict[str, Any] | None],
    ) -> None:
        """Write ``change(event, checklist)`` as the new checklist, atomically with reading
        the event as stored (nothing when it returns None; its errors are raised here)."""
        ctx = self.hub.contexts.core

        def run(current: Entity) -> Entity:
            sop = _value(current, "sop")  # copied: the stored entity must stay as it was
            new = change(current, copy.deepcopy(sop) if isinstance(sop, dict) else None)
            if new is None:
                return current
            attrs = models.parse_attributes({"sop": {"type": "Property", "value": new}}, ctx)
            return merge.upsert_attrs(current, attrs, models.now_iso())

        result = await self.hub.entities.batch(
            tenant, [Mutation(event_id, existing(event_id, run))]
        )
        if result.errors:
            raise result.errors[0][1]

    async def checklist(self, tenant: str, event_id: str) -> dict[str, Any]:
        """An event's checklist with its id (ResourceNotFound when it has none)."""
        sop = _value(await self.events.get(tenant, event_id), "sop")
        if not isinstance(sop, dict):
            raise ResourceNotFound(f"event {event_id} has no SOP checklist")
        return {"eventId": event_id, **sop}

    # --- start, tick, overdue -------------------------------------------------------------

    async def start(
        self, tenant: str, event_id: str, template_id: str | None = None, actor: str = "system"
    ) -> dict[str, Any]:
        """Give an open event its checklist (the named template, else the first matching
        one) and run the automatic steps in order; Conflict when it has one already."""
        event = await self.events.get(tenant, event_id)
        _check_startable(event, event_id)
        if template_id is not None:
            template = await self.templates.get(tenant, template_id)
        else:
            found = await self.templates.first_match(tenant, key_values(event))
            if found is None:
                raise BadRequestData(
                    f'no SOP template matches event {event_id}: name one with "template"'
                )
            template = found
        fresh = checklist(template, actor, datetime.now(UTC))

        def claim(current: Entity, sop: dict[str, Any] | None) -> dict[str, Any]:
            _check_startable(current, event_id)
            return fresh

        await self._change(tenant, event_id, claim)
        for step in fresh["steps"]:
            if "auto" in step:
                await self._run_step(tenant, event, step)
        return await self.checklist(tenant, event_id)

    async def _run_step(self, tenant: str, event: Entity, step: dict[str, Any]) -> None:
        result = await self.actions.run(tenant, event, step["auto"])
        status = DONE if result.get("ok") else FAILED
        at = iso(datetime.now(UTC))

        def settle(current: Entity, sop: dict[str, Any] | None) -> dict[str, Any] | None:
            if sop is None:
                return None  # removed meanwhile
            try:
                target = _step(sop, step["id"], event["id"])
            except ResourceNotFound:
                return None
            if target.get("status") != PENDING:
                return None  # someone ticked it meanwhile: theirs stands
            target.update(status=status, by="system", at=at, result=result)
            return sop

        await self._change(tenant, event["id"], settle)

    async def tick(
        self,
        tenant: str,
        event_id: str,
        step_id: str,
        status: str,
        actor: str,
        comment: str = "",
    ) -> dict[str, Any]:
        """Mark a step done or skipped (Conflict on a closed event or a step already done or
        skipped, ResourceNotFound for an unknown step); a failed automatic step may be."""
        if status not in TICKS:
            raise BadRequestData(f"status must be {' or '.join(TICKS)}, not {status!r}")
        if not isinstance(comment, str) or len(comment) > _MAX_COMMENT:
            raise BadRequestData(f"comment must be a text of at most {_MAX_COMMENT} characters")
        await self.events.get(tenant, event_id)
        at = iso(datetime.now(UTC))

        def mark(current: Entity, sop: dict[str, Any] | None) -> dict[str, Any]:
            state = _value(current, "status")
            if state in CLOSED:
                raise Conflict(f"event {event_id} is {state}: its SOP cannot change any more")
            if sop is None:
                raise ResourceNotFound(f"event {event_id} has no SOP checklist")
            step = _step(sop, step_id, event_id)
            if step.get("status") in TICKS:
                raise Conflict(
                    f"step {step_id} of event {event_id} is already {step['status']} "
                    f"(by {step.get('by', '?')} at {step.get('at', '?')})"
                )
            step.update(status=status, by=actor, at=at)
            if comment:
                step["comment"] = comment
            return sop

        await self._change(tenant, event_id, mark)
        return await self.checklist(tenant, event_id)

    async def overdue(self, tenant: str, now: datetime | None = None) -> list[dict[str, Any]]:
        """Open events with pending steps past their ``dueAt``, most overdue first."""
        moment = now or datetime.now(UTC)
        try:
            found = await self.events.select(tenant, [status_term(OPEN)], limit=10_000)
        except NonexistentTenant:  # a tenant without data yet
            return []
        late = []
        for event in found.entities:
            sop = _value(event, "sop")
            if not isinstance(sop, dict):
                continue
            steps = []
            for step in sop.get("steps", []):
                due = _when(step.get("dueAt"))
                if step.get("status") == PENDING and due is not None and due <= moment:
                    steps.append(
                        {k: step[k] for k in ("id", "title", "role", "dueAt")}
                        | {"minutesLate": round((moment - due).total_seconds() / 60, 1)}
                    )
            if steps:
                late.append(
                    {
                        "eventId": event["id"],
                        "eventName": _value(event, "eventName"),
                        "severity": _value(event, "severity"),
                        "status": _value(event, "status"),
                        "template": sop.get("template"),
                        "steps": steps,
                    }
                )
        late.sort(key=lambda e: min(s["dueAt"] for s in e["steps"]))
        return late

    # --- the change-log consumer ----------------------------------------------------------

    async def handle(self, changes: list[Change], old: int, new: int) -> bool:
        """Start the checklists of newly created events (the ``sops`` consumer). Its writes
        are not in the cursor's transaction, so it returns False: the feed stores the cursor,
        and a replay finds the checklists there already."""
        created = [c for c in changes if c.op == CREATE and _is_event(c.entity)]
        if created:
            await asyncio.gather(*(self._auto_start(c) for c in created))
        return False

    async def _auto_start(self, change: Change) -> None:
        fields = key_values(change.entity)
        if "sop" in fields or fields.get("status") in CLOSED:
            return
        async with self._at_once:
            template = None
            named = fields.get("sopTemplate")
            if isinstance(named, str):  # named by the rule or operator that raised the event
                try:
                    template = await self.templates.get(change.tenant, named)
                except ResourceNotFound:
                    log.warning("event %s names no SOP template %r", change.entity_id, named)
            if template is None:
                template = await self.templates.first_match(change.tenant, fields)
            if template is None:
                return
            try:
                sop = await self.start(change.tenant, change.entity_id, template["id"])
            except (Conflict, ResourceNotFound):
                return  # started already (a replay, another worker), closed, or gone
        audit = self.hub.extras.get("audit")
        if audit is not None:
            failed = [s["id"] for s in sop["steps"] if s.get("status") == FAILED]
            await audit.record(
                "system",
                "sop.start",
                target=change.entity_id,
                tenant=change.tenant,
                detail={"template": template["id"], "automatic": True, "failed": failed},
            )


def _check_startable(event: Entity, event_id: str) -> None:
    status = _value(event, "status")
    if status in CLOSED:
        raise Conflict(f"event {event_id} is {status}: no SOP is started for a closed event")
    sop = _value(event, "sop")
    if isinstance(sop, dict):
        raise Conflict(f"event {event_id} already has the SOP {sop.get('template')!r}")


def install_sops(hub: Hub) -> SopService:
    """Add SOPs to ``hub`` (after :func:`cityhub.ops.install`): actions, agency inboxes,
    templates and the ``sops`` change-log consumer (again: the service already installed)."""
    found = hub.extras.get("sops")
    if isinstance(found, SopService):
        return found
    builtins()  # a broken built-in template fails the start, not the first event
    events = hub.extras.get("events")
    if not isinstance(events, EventService):
        events = hub.extras["events"] = EventService(hub)
    cctv = hub.extras.get("cctv")
    if not isinstance(cctv, CctvService):
        cctv = hub.extras["cctv"] = CctvService(hub, events)
    inbox = hub.extras["inbox"] = Inbox(hub.storage)
    actions = hub.extras["actions"] = Actions(hub, cctv, inbox, sms_gateway(hub.settings))
    service = hub.extras["sops"] = SopService(hub, events, TemplateStore(hub.storage), actions)
    service.feed = hub.feed(CONSUMER, service.handle)
    return service
