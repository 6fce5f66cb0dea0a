"""The NGSI-LD temporal API: the history of every attribute, recorded from the change log.

    recorder.py   change-log consumer "temporal": Change → instance rows (rows_of)
    store.py      TemporalStore Protocol, shared SQL; sqlite_store.py, pg_store.py
    service.py    reads (lastN, time ranges, cuts, aggregation periods), writes, retention
    params.py     request parameters → TemporalQuery; render.py representations
    routes.py     /ngsi-ld/v1/temporal/entities...

:func:`install` wires it into an app: the recorder as a durable feed, the retention job, and
the service the routes reach through ``app.state.temporal``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from cityhub.ngsild.hub import Hub
from cityhub.temporal.service import FEED, TemporalService, retention_loop
from cityhub.temporal.store import store_for


def install(hub: Hub) -> TemporalService:
    """Create the temporal service of a hub and register its recorder and retention job."""
    service = TemporalService(
        store_for(hub.storage, hub.settings.sqlite_readers),
        hub.storage,
        hub.settings.temporal_max_instances,
    )
    service.watch(hub.bus)
    service.feed = hub.feed(FEED, service.record)
    days = hub.settings.temporal_retention_days
    if days > 0:
        hub.tasks.append(_retention(service, days))
    return service


def _retention(service: TemporalService, days: int) -> Callable[[], Coroutine[Any, Any, None]]:
    return lambda: retention_loop(service.store, days)
