"""Seeding the demo city into a hub: the entities of :mod:`cityhub.sim.city` and every city
service set up (its default rules and SOP templates), once.

:func:`install` adds a task to a hub when the ``demo_seed`` setting is not 0 (``cityhub
demo`` sets it): on start the hub checks for the demo city in the default tenant and, when it
is not there yet, writes it in batches and sets the services up. A second start finds it and
resumes with what the city holds by then. Several workers may start at once: the writes are
upserts and the set-up keeps what exists, so the city comes out the same.

The city's sensors are provisioned in the ingest gateway on every start (those missing only,
:mod:`cityhub.sim.devices`), so measures sent with the demo API keys update the demo entities.
Then the callbacks in :data:`on_ready` are told: ``cityhub demo`` starts its simulator (in the
same process) from there, with an API key of :func:`simulator_key` for the bus cameras.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from cityhub.auth.model import Grant
from cityhub.auth.store import APIKEY, AuthStore, new_password
from cityhub.errors import AlreadyExists, NonexistentTenant, ResourceNotFound
from cityhub.ngsild import models
from cityhub.ngsild.batch import upsert_mutation
from cityhub.ngsild.hub import Hub
from cityhub.services.catalog import SERVICES, install_defaults
from cityhub.sim.city import generate
from cityhub.sim.devices import provision

log = logging.getLogger(__name__)
TENANT = ""
MARK = "urn:ngsi-ld:District:demo-jungang"  # written first: the city is there when it is
_BATCH = 500
#: the account of the demo's bus enforcement cameras (their sightings need events:write)
CAMERAS_USER = "demo-bus-cameras"
CAMERAS_ROLE = "demo-camera"
_KEY_LABEL = "cityhub demo simulator"
#: told (in the hub's event loop) once the demo city is seeded and its devices provisioned
on_ready: list[Callable[[Hub], Any]] = []


async def seeded(hub: Hub) -> bool:
    """Whether the demo city is in the hub already."""
    try:
        await hub.entities.get(TENANT, MARK)
    except (ResourceNotFound, NonexistentTenant):
        return False
    return True


async def seed(hub: Hub, seed: int) -> int:
    """Write the demo city of ``seed`` and set every service up, and provision its sensors in
    the ingest gateway; how many entities were written (0 when it was there already)."""
    city = await asyncio.to_thread(generate, seed)  # a second of work: not on the event loop
    written = 0 if await seeded(hub) else await _write(hub, seed, city)
    groups, devices = await provision(hub, TENANT, city)
    if groups or devices:
        log.info("demo city: %d service groups and %d devices provisioned", groups, devices)
    return written


async def _write(hub: Hub, seed: int, city: list[dict[str, Any]]) -> int:
    started = time.monotonic()
    ctx = hub.contexts.core
    for start in range(0, len(city), _BATCH):
        chunk = [
            upsert_mutation(models.parse_entity(e, ctx), update=False)
            for e in city[start : start + _BATCH]
        ]
        result = await hub.entities.batch(TENANT, chunk)
        if result.errors:
            entity_id, err = result.errors[0]
            raise RuntimeError(f"the demo city could not be written: {entity_id}: {err.detail}")
    for service in SERVICES.values():
        await install_defaults(hub, TENANT, service, "demo")
    log.info(
        "demo city (seed %d): %d entities and %d services set up in %.1f s",
        seed,
        len(city),
        len(SERVICES),
        time.monotonic() - started,
    )
    return len(city)


def install(hub: Hub) -> None:
    """Seed the demo city once the hub serves, when ``demo_seed`` is set (a task, not a
    starter: the change-log consumers are running then, so history, rules and the services
    see the city arrive)."""
    value = hub.settings.demo_seed
    if value:
        hub.tasks.append(lambda: _seed_logged(hub, value))


async def _seed_logged(hub: Hub, value: int) -> None:
    try:
        await seed(hub, value)
    except Exception:  # noqa: BLE001 - the hub keeps serving; the log says why
        log.exception("seeding the demo city failed")
        return
    for tell in on_ready:
        tell(hub)


async def simulator_key(hub: Hub) -> str:
    """A fresh API key of the demo's bus cameras (``demo-bus-cameras``, role ``demo-camera``:
    ``events:write`` in the default tenant), its earlier keys revoked; "" with access control
    off."""
    if hub.settings.auth != "on":
        return ""
    auth: AuthStore = hub.extras["auth"]
    if CAMERAS_ROLE not in await auth.roles():
        await auth.put_role(CAMERAS_ROLE, ["events:write"], "cityhub demo: bus enforcement cameras")
    try:
        await auth.user(CAMERAS_USER)
    except ResourceNotFound:
        with contextlib.suppress(AlreadyExists):  # another start made it meanwhile
            await auth.create_user(CAMERAS_USER, new_password(), [Grant(CAMERAS_ROLE, TENANT)])
    for old in await auth.tokens(CAMERAS_USER):
        if old.label == _KEY_LABEL:
            await auth.revoke(old.id, user=CAMERAS_USER)
    secret, _ = await auth.issue(CAMERAS_USER, APIKEY, _KEY_LABEL, None)
    return secret
