"""Test helpers for notification delivery: queue outbox rows directly, run a deliverer."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson

from cityhub.settings import Settings
from cityhub.storage.base import Storage
from cityhub.storage.postgres import numbered
from cityhub.subscriptions.delivery import Deliverer
from cityhub.subscriptions.outbox import outbox_store

_INSERT = (
    "INSERT INTO outbox (tenant, sub_id, notification_id, endpoint, body, created_at, next_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def notification(sub_id: str, n: int = 0, **extra: Any) -> dict[str, Any]:
    """A stored notification body (as the matcher queues it: no notifiedAt)."""
    return {
        "id": f"urn:ngsi-ld:Notification:{uuid.uuid4()}",
        "type": "Notification",
        "subscriptionId": sub_id,
        "data": [{"id": f"urn:ngsi-ld:Lot:{n}", "type": "Lot", "n": n}],
        **extra,
    }


async def enqueue(
    storage: Storage, endpoint: dict[str, Any], bodies: list[dict[str, Any]], tenant: str = ""
) -> None:
    """Queue notifications in the outbox, in list order, due now."""
    now = time.time()
    rows = [
        (tenant, b["subscriptionId"], b["id"], endpoint, orjson.dumps(b), now, now) for b in bodies
    ]
    if hasattr(storage, "transaction"):
        async with storage.transaction() as conn:
            await conn.executemany(numbered(_INSERT), rows)
    else:

        def run(conn: Any) -> None:
            conn.executemany(_INSERT, [(*r[:3], orjson.dumps(r[3]), *r[4:]) for r in rows])

        await storage.write(run)  # type: ignore[attr-defined]


async def outbox_rows(storage: Storage) -> list[dict[str, Any]]:
    """Every outbox row (nid order) with its delivery columns."""
    sql = "SELECT nid, sub_id, attempts, next_at, claimed_until, last_error, dead FROM outbox ORDER BY nid"
    names = ["nid", "sub_id", "attempts", "next_at", "claimed_until", "last_error", "dead"]
    if hasattr(storage, "transaction"):
        async with storage.transaction() as conn:
            rows = [tuple(r) for r in await conn.fetch(sql)]
    else:
        rows = await storage.read(lambda conn: conn.execute(sql).fetchall())  # type: ignore[attr-defined]
    return [dict(zip(names, r, strict=True)) for r in rows]


@contextlib.asynccontextmanager
async def running(storage: Storage, settings: Settings, **options: Any) -> AsyncIterator[Deliverer]:
    """A deliverer running on ``storage``; ``options`` override notify_* settings or are
    Deliverer keywords (poll_s, per_endpoint, backoff_base_s)."""
    names = {f.name for f in dataclasses.fields(Settings)}
    overrides = {k: v for k, v in options.items() if k in names}
    keywords = {k: v for k, v in options.items() if k not in names}
    keywords.setdefault("poll_s", 0.05)
    deliverer = Deliverer(
        outbox_store(storage), dataclasses.replace(settings, **overrides), **keywords
    )
    task = asyncio.create_task(deliverer.run())
    try:
        yield deliverer
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await deliverer.close()
