"""Test helpers: wait for the matcher, read what it queued in the outbox."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.applications import Starlette


async def settled(app: Starlette) -> None:
    """Wait until the subscription matcher has handled every change made so far."""
    hub = app.state.hub
    feed = hub.feeds["subscriptions"]
    assert await feed.caught_up(await hub.storage.log_end())


async def queued(app: Starlette, tenant: str = "") -> list[dict[str, Any]]:
    """The notifications queued for a tenant, oldest first (endpoint merged in)."""
    await settled(app)
    storage = app.state.hub.storage
    sql = "SELECT endpoint, body FROM outbox WHERE tenant = ? ORDER BY nid"
    if hasattr(storage, "transaction"):
        async with storage.transaction() as conn:
            rows = await conn.fetch(sql.replace("?", "$1"), tenant)
        pairs = [(r["endpoint"], bytes(r["body"])) for r in rows]
    else:
        rows = await storage.read(lambda conn: conn.execute(sql, (tenant,)).fetchall())
        pairs = [(orjson.loads(e), b) for e, b in rows]
    return [{**orjson.loads(body), "_endpoint": endpoint} for endpoint, body in pairs]
