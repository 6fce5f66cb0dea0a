"""The integrated operations center: situation events, their lifecycle and live feed."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from cityhub.ngsild.hub import Hub
from cityhub.ops import forward
from cityhub.ops.cctv import CctvService
from cityhub.ops.events import EventService
from cityhub.ops.linked import LinkedService
from cityhub.ops.live import LiveFeed
from cityhub.storage.plain import PlainSql

log = logging.getLogger(__name__)
_SWEEP_S = 30.0


def install(hub: Hub) -> EventService:
    """Put the event service and the live feed in ``hub`` and start the event sweeper."""
    events = hub.extras["events"] = EventService(hub)
    cctv = hub.extras["cctv"] = CctvService(hub, events)
    hub.extras["linked"] = LinkedService(hub, events, cctv)
    live = hub.extras["live_events"] = LiveFeed(hub.storage, hub.bus)
    hub.tasks.append(live.run)
    hub.tasks.append(lambda: sweep_loop(hub, events))
    forward.install(hub)

    async def close() -> None:
        live.close()

    hub.closers.append(close)
    return events


async def sweep_loop(hub: Hub, events: EventService, every_s: float = _SWEEP_S) -> None:
    """Auto-end quiet events and escalate unacknowledged ones, in every tenant, periodically.
    Several workers may sweep at once: a transition another worker made first fails with a
    Conflict, which is skipped."""
    quiet = timedelta(minutes=hub.settings.event_auto_end_minutes)
    escalate = timedelta(minutes=hub.settings.event_escalate_minutes)
    db = PlainSql(hub.storage)
    while True:
        await asyncio.sleep(every_s)
        try:
            tenants = [row[0] for row in await db.rows("SELECT name FROM tenants")]
            for tenant in tenants or [""]:
                await events.sweep(tenant, quiet, escalate)
        except Exception:  # noqa: BLE001 - the next sweep tries again
            log.exception("sweeping events failed")
