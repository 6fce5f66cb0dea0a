"""Where subscriptions and queued notifications live: one Protocol, SQLite and PostgreSQL.

Notifications are queued (:meth:`SubscriptionStore.enqueue`) in the same transaction that moves
the matcher's change-log cursor, so every change is turned into its notifications exactly once,
or again after a crash, and none is lost (the outbox pattern).
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from cityhub.errors import AlreadyExists
from cityhub.storage.base import Storage
from cityhub.storage.postgres import numbered
from cityhub.subscriptions.outbox import OutboxRow


@dataclass(slots=True)
class StoredSubscription:
    """A subscription row: ``doc`` holds raw (as sent), context (saved terms), sinceSeq."""

    tenant: str
    id: str
    doc: dict[str, Any]
    created_at: str
    modified_at: str


@dataclass(slots=True)
class Queued:
    """One notification for the outbox (body: the notification without ``notifiedAt``)."""

    tenant: str
    sub_id: str
    notification_id: str
    endpoint: dict[str, Any]
    body: bytes


Cursor = tuple[str, int, int]  # consumer name, from, to
Claim = tuple[int, float]  # at most this many heads, leased until then
_EARLY_S = 0.05  # a period may be taken this much before it is due (timer jitter)

_INSERT = (
    "INSERT INTO outbox (tenant, sub_id, notification_id, endpoint, body, created_at, next_at, "
    "claimed_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING nid"
)
_LIVE = "SELECT 1 FROM outbox WHERE tenant = ? AND sub_id = ? AND dead = 0 LIMIT 1"
_DUE = (
    "INSERT INTO subscription_status (tenant, id, next_due) VALUES (?, ?, ?) "
    "ON CONFLICT (tenant, id) DO UPDATE SET next_due = excluded.next_due "
    "WHERE subscription_status.next_due IS NULL OR subscription_status.next_due <= ?"
)


def _claimed(r: Queued, nid: int, now: float, lease: float) -> OutboxRow:
    return OutboxRow(nid, r.tenant, r.sub_id, r.notification_id, r.endpoint, r.body, now, 0, lease)


class SubscriptionStore(Protocol):
    """Subscription rows, their delivery status and the outbox writes of the matcher."""

    async def insert(self, sub: StoredSubscription) -> None:
        """Add a subscription (AlreadyExists if its id is taken in the tenant)."""

    async def replace(self, sub: StoredSubscription) -> bool:
        """Overwrite a subscription; False if it does not exist."""

    async def delete(self, tenant: str, sub_id: str) -> bool:
        """Remove a subscription, its status and its queued notifications."""

    async def get(self, tenant: str, sub_id: str) -> StoredSubscription | None:
        """One subscription."""

    async def page(
        self, tenant: str, limit: int, offset: int
    ) -> tuple[list[StoredSubscription], int]:
        """Subscriptions of a tenant in creation order, and how many there are."""

    async def every(self) -> list[StoredSubscription]:
        """All subscriptions of all tenants (the matcher's cache)."""

    async def version(self) -> tuple[int, str]:
        """Changes whenever a subscription is added, changed or removed (by any worker)."""

    async def take_period(self, tenant: str, sub_id: str, now: float, interval: float) -> bool:
        """Claim a periodic subscription's period: True (and due again ``interval`` seconds
        from ``now``) unless another worker already has it."""

    async def enqueue(
        self, rows: list[Queued], cursor: Cursor | None, claim: Claim | None = None
    ) -> list[OutboxRow]:
        """Queue notifications, moving the consumer cursor in the same transaction.

        With ``claim`` (how many, leased until when), a notification that heads its
        subscription's queue is leased to the caller right away and returned, saving the
        deliverer a claim (one write) per notification; the others wait for their turn."""


class SQLiteSubscriptionStore:
    """Subscriptions in the SQLite database, written through its one writer."""

    def __init__(self, storage: Any) -> None:
        self.storage = storage

    async def insert(self, sub: StoredSubscription) -> None:
        def run(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "INSERT OR IGNORE INTO subscriptions VALUES (?, ?, ?, ?, ?)",
                (sub.tenant, sub.id, orjson.dumps(sub.doc), sub.created_at, sub.modified_at),
            )
            return bool(cur.rowcount)

        if not await self.storage.write(run):
            raise AlreadyExists(f"subscription {sub.id} already exists")

    async def replace(self, sub: StoredSubscription) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE subscriptions SET doc = ?, modified_at = ? WHERE tenant = ? AND id = ?",
                (orjson.dumps(sub.doc), sub.modified_at, sub.tenant, sub.id),
            )
            return bool(cur.rowcount)

        done: bool = await self.storage.write(run)
        return done

    async def delete(self, tenant: str, sub_id: str) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            key = (tenant, sub_id)
            conn.execute("DELETE FROM outbox WHERE tenant = ? AND sub_id = ?", key)
            conn.execute("DELETE FROM subscription_status WHERE tenant = ? AND id = ?", key)
            cur = conn.execute("DELETE FROM subscriptions WHERE tenant = ? AND id = ?", key)
            return bool(cur.rowcount)

        done: bool = await self.storage.write(run)
        return done

    async def get(self, tenant: str, sub_id: str) -> StoredSubscription | None:
        def run(conn: sqlite3.Connection) -> Any:
            return conn.execute(
                "SELECT * FROM subscriptions WHERE tenant = ? AND id = ?", (tenant, sub_id)
            ).fetchone()

        row = await self.storage.read(run)
        return _stored(row, orjson.loads(row[2])) if row else None

    async def page(
        self, tenant: str, limit: int, offset: int
    ) -> tuple[list[StoredSubscription], int]:
        def run(conn: sqlite3.Connection) -> tuple[list[Any], int]:
            rows = conn.execute(
                "SELECT * FROM subscriptions WHERE tenant = ? ORDER BY created_at, id "
                "LIMIT ? OFFSET ?",
                (tenant, limit, offset),
            ).fetchall()
            total = conn.execute(
                "SELECT count(*) FROM subscriptions WHERE tenant = ?", (tenant,)
            ).fetchone()[0]
            return rows, total

        rows, total = await self.storage.read(run)
        return [_stored(r, orjson.loads(r[2])) for r in rows], total

    async def every(self) -> list[StoredSubscription]:
        def run(conn: sqlite3.Connection) -> list[Any]:
            return conn.execute("SELECT * FROM subscriptions ORDER BY created_at").fetchall()

        rows = await self.storage.read(run)
        return [_stored(r, orjson.loads(r[2])) for r in rows]

    async def version(self) -> tuple[int, str]:
        def run(conn: sqlite3.Connection) -> tuple[int, str]:
            n, latest = conn.execute(
                "SELECT count(*), coalesce(max(modified_at), '') FROM subscriptions"
            ).fetchone()
            return int(n), str(latest)

        found: tuple[int, str] = await self.storage.read(run)
        return found

    async def take_period(self, tenant: str, sub_id: str, now: float, interval: float) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            args = (tenant, sub_id, now + interval, now + _EARLY_S)
            return conn.execute(_DUE, args).rowcount == 1

        taken: bool = await self.storage.write(run)
        return taken

    async def enqueue(
        self, rows: list[Queued], cursor: Cursor | None, claim: Claim | None = None
    ) -> list[OutboxRow]:
        now = time.time()
        room, lease = claim or (0, 0.0)
        values = [
            (r.tenant, r.sub_id, r.notification_id, orjson.dumps(r.endpoint), r.body, now, now)
            for r in rows
        ]

        def run(conn: sqlite3.Connection) -> list[OutboxRow]:
            taken: list[OutboxRow] = []
            for r, v in zip(rows, values, strict=True):
                head = len(taken) < room and conn.execute(_LIVE, v[:2]).fetchone() is None
                nid = conn.execute(_INSERT, (*v, lease if head else 0.0)).fetchone()[0]
                if head:
                    taken.append(_claimed(r, nid, now, lease))
            if cursor is not None:
                self.storage.advance(conn, *cursor)
            return taken

        taken: list[OutboxRow] = await self.storage.write(run)
        return taken


class PostgresSubscriptionStore:
    """Subscriptions in the PostgreSQL database."""

    def __init__(self, storage: Any) -> None:
        self.storage = storage

    async def insert(self, sub: StoredSubscription) -> None:
        async with self.storage.transaction() as conn:
            status = await conn.execute(
                "INSERT INTO subscriptions VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                sub.tenant,
                sub.id,
                sub.doc,
                sub.created_at,
                sub.modified_at,
            )
        if status.endswith(" 0"):
            raise AlreadyExists(f"subscription {sub.id} already exists")

    async def replace(self, sub: StoredSubscription) -> bool:
        async with self.storage.transaction() as conn:
            status = await conn.execute(
                "UPDATE subscriptions SET doc = $3, modified_at = $4 WHERE tenant = $1 AND id = $2",
                sub.tenant,
                sub.id,
                sub.doc,
                sub.modified_at,
            )
        return bool(status == "UPDATE 1")

    async def delete(self, tenant: str, sub_id: str) -> bool:
        async with self.storage.transaction() as conn:
            await conn.execute(
                "DELETE FROM outbox WHERE tenant = $1 AND sub_id = $2", tenant, sub_id
            )
            await conn.execute(
                "DELETE FROM subscription_status WHERE tenant = $1 AND id = $2", tenant, sub_id
            )
            status = await conn.execute(
                "DELETE FROM subscriptions WHERE tenant = $1 AND id = $2", tenant, sub_id
            )
        return bool(status == "DELETE 1")

    async def get(self, tenant: str, sub_id: str) -> StoredSubscription | None:
        async with self.storage.transaction() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM subscriptions WHERE tenant = $1 AND id = $2", tenant, sub_id
            )
        return _stored(row, row["doc"]) if row else None

    async def page(
        self, tenant: str, limit: int, offset: int
    ) -> tuple[list[StoredSubscription], int]:
        async with self.storage.transaction() as conn:
            rows = await conn.fetch(
                "SELECT * FROM subscriptions WHERE tenant = $1 ORDER BY created_at, id "
                "LIMIT $2 OFFSET $3",
                tenant,
                limit,
                offset,
            )
            total = await conn.fetchval(
                "SELECT count(*) FROM subscriptions WHERE tenant = $1", tenant
            )
        return [_stored(r, r["doc"]) for r in rows], int(total)

    async def every(self) -> list[StoredSubscription]:
        async with self.storage.transaction() as conn:
            rows = await conn.fetch("SELECT * FROM subscriptions ORDER BY created_at")
        return [_stored(r, r["doc"]) for r in rows]

    async def version(self) -> tuple[int, str]:
        async with self.storage.transaction() as conn:
            row = await conn.fetchrow(
                "SELECT count(*), coalesce(max(modified_at), '') FROM subscriptions"
            )
        return int(row[0]), str(row[1])

    async def take_period(self, tenant: str, sub_id: str, now: float, interval: float) -> bool:
        async with self.storage.transaction() as conn:
            status = await conn.execute(_PG_DUE, tenant, sub_id, now + interval, now + _EARLY_S)
        return bool(status.endswith(" 1"))

    async def enqueue(
        self, rows: list[Queued], cursor: Cursor | None, claim: Claim | None = None
    ) -> list[OutboxRow]:
        now = time.time()
        room, lease = claim or (0, 0.0)
        taken: list[OutboxRow] = []
        async with self.storage.transaction() as conn:
            if room:  # a row's own insert decides, so a head is never taken twice
                for r in rows:
                    head = len(taken) < room and not await conn.fetchval(
                        _PG_LIVE, r.tenant, r.sub_id
                    )
                    nid = await conn.fetchval(
                        _PG_INSERT, *_pg_values(r, now), lease if head else 0.0
                    )
                    if head:
                        taken.append(_claimed(r, nid, now, lease))
            else:
                await conn.executemany(_PG_INSERT, [(*_pg_values(r, now), 0.0) for r in rows])
            if cursor is not None:
                await self.storage.advance(conn, *cursor)
        return taken


_PG_INSERT = numbered(_INSERT)
_PG_DUE = numbered(_DUE)
_PG_LIVE = "SELECT EXISTS (" + numbered(_LIVE) + ")"


def _pg_values(r: Queued, now: float) -> tuple[Any, ...]:
    return (r.tenant, r.sub_id, r.notification_id, r.endpoint, r.body, now, now)


def _stored(row: Any, doc: dict[str, Any]) -> StoredSubscription:
    return StoredSubscription(row[0], row[1], doc, row[3], row[4])


def subscription_store(storage: Storage) -> SubscriptionStore:
    """The subscription store of a storage backend."""
    from cityhub.storage.sqlite import SQLiteStorage

    if isinstance(storage, SQLiteStorage):
        return SQLiteSubscriptionStore(storage)
    return PostgresSubscriptionStore(storage)
