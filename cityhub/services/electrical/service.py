"""Panel anomalies kept current: the change-log consumer ``electrical-panels`` grades every
reading of an ``ElectricalPanel``, keeps the panel's state on it and raises or clears its event.

The panel's ``anomalyGrade`` is its state, observed at the reading that set it: ``normal``,
``caution``, ``danger``, or ``recovering`` (readings normal again, the event still open). A
reading graded caution or danger opens the panel's event (dedupe key ``electrical:<id>``,
category fire; caution: severity medium, the ``electrical-caution`` SOP when the tenant set
the service up, else ``facility-alarm``; danger: severity high, the ``fire`` SOP) or counts
another occurrence of the open one; a danger reading while a caution event is open clears it
("escalated") and opens a danger event, so the fire SOP starts. Readings normal for the
table's ``clearAfter`` (measured between the readings' ``observedAt``, and by the clock for a
panel that stopped sending) clear the event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

from cityhub.bus import DELETE, Change
from cityhub.datamodels.model import short_name
from cityhub.errors import Conflict, NonexistentTenant, ResourceNotFound
from cityhub.ngsild import merge, models
from cityhub.ngsild.entity import Entity
from cityhub.ngsild.hub import Hub
from cityhub.ngsild.service import existing
from cityhub.ops.events import EventService, EventSpec, _value
from cityhub.ops.rules.model import duration_us
from cityhub.services.electrical.grading import (
    CAUTION,
    DANGER,
    NORMAL,
    RECOVERING,
    grade,
    measured,
)
from cityhub.services.shared import anchor, attributes, entities_of, iso, settle, when
from cityhub.services.thresholds import ThresholdStore
from cityhub.storage.base import Mutation
from cityhub.storage.plain import PlainSql

log = logging.getLogger(__name__)

FEED = "electrical-panels"
PANEL = "ElectricalPanel"
ACTOR = "service:electrical"
CAUTION_SOP, FALLBACK_SOP, DANGER_SOP = "electrical-caution", "facility-alarm", "fire"
CODES = {CAUTION: "ELC0001", DANGER: "ELC0002"}
NAMES = {CAUTION: "분전반 이상 징후 (주의)", DANGER: "분전반 전기화재 위험"}
SEVERITY = {CAUTION: "medium", DANGER: "high"}
_SWEEP_S = 60.0
_AT_ONCE = 8

State = tuple[str | None, datetime | None]  # anomalyGrade, since


def _is_panel(entity: Entity) -> bool:
    return any(short_name(t) == PANEL for t in entity.get("type", []))


def _prop(value: Any, observed: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "Property", "value": value}
    if observed:
        body["observedAt"] = observed
    return body


def state_of(panel: Entity) -> State:
    """A panel's stored state and since when."""
    found = attributes(panel).get("anomalyGrade")
    if found is None or not isinstance(found[0], str):
        return None, None
    return found[0], when(found[1])


class ElectricalService:
    """Grading panel readings (``hub.extras["electrical"]``)."""

    def __init__(self, hub: Hub, thresholds: ThresholdStore) -> None:
        self.hub = hub
        self.thresholds = thresholds
        self._at_once = asyncio.Semaphore(_AT_ONCE)

    async def settle(self) -> None:
        """Wait (briefly) until the consumer has handled every change logged so far, so a
        read right after a reading sees its grade."""
        await settle(self.hub, FEED)

    @property
    def events(self) -> EventService:
        found: EventService = self.hub.extras["events"]
        return found

    # --- the change-log consumer ----------------------------------------------------------

    async def handle(self, changes: list[Change], old: int, new: int) -> bool:
        """Grade the readings of panels in log order (each panel's in turn). Its writes are not
        in the cursor's transaction: a replay sees the state it left and repeats nothing but
        occurrences of open events."""
        by_panel: dict[tuple[str, str], list[Change]] = {}
        for change in changes:
            if change.op != DELETE and _is_panel(change.entity):
                table = (await self.thresholds.get(change.tenant)).doc
                touched = {short_name(iri) for iri in change.prev}
                if touched & measured(table):
                    by_panel.setdefault((change.tenant, change.entity_id), []).append(change)
        if by_panel:
            await asyncio.gather(*(self._panel(t, p, cs) for (t, p), cs in by_panel.items()))
        return False

    async def _panel(self, tenant: str, panel_id: str, changes: list[Change]) -> None:
        async with self._at_once:
            try:
                panel = await self.hub.entities.get(tenant, panel_id)
            except (ResourceNotFound, NonexistentTenant):
                return  # deleted meanwhile
            state = state_of(panel)
            for change in changes:
                state = await self.reading(tenant, change.entity, state, change.at)

    async def reading(self, tenant: str, panel: Entity, state: State, written: str) -> State:
        """Grade one reading of ``panel`` (as it stood then) from ``state``; the new state."""
        table = (await self.thresholds.get(tenant)).doc
        found = attributes(panel)
        names = measured(table)
        level, reasons = grade({n: v[0] for n, v in found.items()}, table)
        stamps = [found[n][1] for n in names if n in found and found[n][1]]
        times = [t for t in map(when, stamps) if t is not None]
        at = max(times) if times else when(written) or datetime.now(UTC)
        current, since = state
        if since is not None and at < since:
            return state  # older than the state (replayed after a crash, or late): moot
        if level != NORMAL:
            await self._alarm(tenant, panel, level, reasons, current)
            if current != level:
                await self._store(tenant, panel["id"], level, "; ".join(reasons), at)
                return level, at
            return state
        if current in (CAUTION, DANGER):
            await self._store(tenant, panel["id"], RECOVERING, "readings normal again", at)
            return RECOVERING, at
        clear = duration_us(table["clearAfter"], "clearAfter") / 1e6
        if current == RECOVERING and since is not None and (at - since).total_seconds() >= clear:
            await self._clear(tenant, panel["id"], f"normal since {iso(since)}")
            await self._store(tenant, panel["id"], NORMAL, "", at)
            return NORMAL, at
        if current is None:
            await self._store(tenant, panel["id"], NORMAL, "", at)
            return NORMAL, at
        return state

    async def _store(
        self, tenant: str, panel_id: str, level: str, reason: str, at: datetime
    ) -> None:
        observed = iso(at)
        body = {
            "anomalyGrade": _prop(level, observed),
            "anomalyReason": _prop(reason, observed),
            "gradedAt": _prop(models.now_iso()),
        }
        attrs = models.parse_attributes(body, self.hub.contexts.core)

        def run(current: Entity) -> Entity:
            return merge.upsert_attrs(current, attrs, models.now_iso())

        result = await self.hub.entities.batch(
            tenant, [Mutation(panel_id, existing(panel_id, run))]
        )
        if result.errors and not isinstance(result.errors[0][1], ResourceNotFound):
            raise result.errors[0][1]

    # --- events ---------------------------------------------------------------------------

    async def _spec(self, tenant: str, panel: Entity, level: str, reasons: list[str]) -> EventSpec:
        found = attributes(panel)
        name = found.get("name", (None,))[0]
        place = name if isinstance(name, str) else panel["id"]
        template = DANGER_SOP
        if level == CAUTION:
            try:
                await self.hub.extras["sops"].templates.get(tenant, CAUTION_SOP)
                template = CAUTION_SOP
            except ResourceNotFound:
                template = FALLBACK_SOP  # not set up: inspection, not 119
        return EventSpec(
            CODES[level],
            NAMES[level],
            severity=SEVERITY[level],
            category="fire",
            description=f"{place}: {'; '.join(reasons)}",
            place=place,
            location=anchor(found.get("location", (None,))[0]),
            dedupe_key=f"electrical:{panel['id']}",
            source=ACTOR,
            items=[{"key": "panel", "val": panel["id"]}, {"key": "grade", "val": level}]
            + [{"key": "reason", "val": r} for r in reasons],
            related=[panel["id"]],
            grade=level,
            sop_template=template,
        )

    async def _alarm(
        self, tenant: str, panel: Entity, level: str, reasons: list[str], current: str | None
    ) -> None:
        spec = await self._spec(tenant, panel, level, reasons)
        event = await self.events.open_event(tenant, spec.key())
        if event is None:
            # a new anomaly, or a caution turning dangerous; not a panel whose event an
            # operator closed while it stayed anomalous
            if current in (None, NORMAL, RECOVERING) or (level == DANGER and current == CAUTION):
                await self.events.raise_event(tenant, spec, ACTOR)
            return
        if level == DANGER and _value(event, "eventGrade") == CAUTION:
            await self._transition(tenant, event["id"], "escalated to danger")
        await self.events.raise_event(tenant, spec, ACTOR)  # new, or one more occurrence

    async def _clear(self, tenant: str, panel_id: str, reason: str) -> None:
        event = await self.events.open_event(tenant, f"electrical:{panel_id}")
        if event is not None:
            await self._transition(tenant, event["id"], reason)

    async def _transition(self, tenant: str, event_id: str, reason: str) -> None:
        with contextlib.suppress(Conflict):  # closed meanwhile
            await self.events.transition(tenant, event_id, "cleared", ACTOR, reason)

    # --- panels that stopped sending while recovering -------------------------------------

    async def sweep(self, now: datetime | None = None) -> list[str]:
        """Clear the events of recovering panels normal for ``clearAfter`` by the clock, in
        every tenant; the panels cleared."""
        moment = now or datetime.now(UTC)
        rows = await PlainSql(self.hub.storage).rows("SELECT name FROM tenants")
        tenants = {row[0] for row in rows}
        done: list[str] = []
        for tenant in sorted(tenants | {""}):
            table = (await self.thresholds.get(tenant)).doc
            clear = duration_us(table["clearAfter"], "clearAfter") / 1e6
            waiting = await entities_of(self.hub, tenant, PANEL, f'anomalyGrade=="{RECOVERING}"')
            for panel in waiting:
                level, since = state_of(panel)
                if level == RECOVERING and since and (moment - since).total_seconds() >= clear:
                    await self._clear(tenant, panel["id"], f"normal since {iso(since)}")
                    await self._store(tenant, panel["id"], NORMAL, "", moment)
                    done.append(panel["id"])
        return done

    async def sweep_loop(self, every_s: float = _SWEEP_S) -> None:
        """:meth:`sweep` periodically while the app serves."""
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.sweep()
            except Exception:  # noqa: BLE001 - the next sweep tries again
                log.exception("sweeping electrical panels failed")
