"""Seeding the demo city into a hub: the entities of :mod:`cityhub.sim.city` and every city
service set up (its default rules and SOP templates), once.

:func:`install` adds a task to a hub when the ``demo_seed`` setting is not 0 (``cityhub
demo`` sets it): on start the hub checks for the demo city in the default tenant and, when it
is not there yet, writes it in batches and sets the services up. A second start finds it and
resumes with what the city holds by then. Several workers may start at once: the writes are
upserts and the set-up keeps what exists, so the city comes out the same.
"""

from __future__ import annotations

import logging
import time

from cityhub.errors import NonexistentTenant, ResourceNotFound
from cityhub.ngsild import models
from cityhub.ngsild.batch import upsert_mutation
from cityhub.ngsild.hub import Hub
from cityhub.services.catalog import SERVICES, install_defaults
from cityhub.sim.city import generate

log = logging.getLogger(__name__)
TENANT = ""
MARK = "urn:ngsi-ld:District:demo-jungang"  # written first: the city is there when it is
_BATCH = 500


async def seeded(hub: Hub) -> bool:
    """Whether the demo city is in the hub already."""
    try:
        await hub.entities.get(TENANT, MARK)
    except (ResourceNotFound, NonexistentTenant):
        return False
    return True


async def seed(hub: Hub, seed: int) -> int:
    """Write the demo city of ``seed`` and set every service up; how many entities were
    written (0 when it was there already)."""
    if await seeded(hub):
        return 0
    started = time.monotonic()
    city = generate(seed)
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
