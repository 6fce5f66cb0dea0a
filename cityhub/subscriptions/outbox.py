"""The notification outbox, as the deliverer sees it: claim, acknowledge, retry, dead letters.

The matcher queues one ``outbox`` row per notification (``store.py``); the
:class:`~cityhub.subscriptions.delivery.Deliverer` of every worker process claims due rows here
and reports each outcome. Two rules make this safe with several workers:

* **A lease.** Claiming sets ``claimed_until``; nobody else takes the row before then. Every
  outcome is written only while the claimer still holds the lease (``claimed_until`` unchanged),
  so a worker that lost its lease cannot count a notification twice.
* **One at a time per subscription, in order.** Only a subscription's *head* (its oldest row
  that is not dead) can be claimed, so while a notification waits for a retry the later ones of
  its subscription wait too. On PostgreSQL the claim locks rows with ``FOR UPDATE SKIP LOCKED``;
  a head being claimed by another worker is skipped, and the row behind it is no head in the
  claimer's snapshot. SQLite runs claims through its single writer, one at a time.

When a row is delivered (or goes dead) the same transaction claims the subscription's next row,
so a backlog drains at one write per notification without waiting for the next poll.
"""

from __future__ import annotations

import random
import sqlite3
from collections import Counter
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg
import orjson

from cityhub.ngsild.models import now_iso
from cityhub.storage.base import Storage
from cityhub.storage.postgres import PostgresStorage, numbered
from cityhub.storage.sqlite import SQLiteStorage

_COLUMNS = "nid, tenant, sub_id, notification_id, endpoint, body, created_at, attempts"
_HEAD = (
    "NOT EXISTS (SELECT 1 FROM outbox AS p WHERE p.tenant = o.tenant AND p.sub_id = o.sub_id "
    "AND p.dead = 0 AND p.nid < o.nid)"
)
_DUE_ANY = "SELECT 1 FROM outbox WHERE dead = 0 AND next_at <= ? AND claimed_until < ? LIMIT 1"
_DUE_HEADS = (
    "SELECT nid FROM outbox AS o WHERE dead = 0 AND next_at <= ? AND claimed_until < ? "
    f"AND {_HEAD} ORDER BY nid LIMIT ?"
)
_CLAIM = f"UPDATE outbox SET claimed_until = ? WHERE nid IN ({{heads}}) RETURNING {_COLUMNS}"
# the subscription's oldest live row, if it is due and free; no SKIP LOCKED here: skipping a
# locked head would hand out the row behind it
_CLAIM_NEXT = (
    "UPDATE outbox SET claimed_until = ? WHERE nid = (SELECT nid FROM outbox WHERE tenant = ? "
    "AND sub_id = ? AND dead = 0 ORDER BY nid LIMIT 1) AND next_at <= ? AND claimed_until < ? "
    f"RETURNING {_COLUMNS}"
)
_DELETE = "DELETE FROM outbox WHERE nid = ? AND claimed_until = ?"
_FAIL = (
    "UPDATE outbox SET attempts = attempts + 1, next_at = ?, claimed_until = 0, last_error = ?, "
    "dead = ? WHERE nid = ? AND claimed_until = ?"
)
_RELEASE = "UPDATE outbox SET claimed_until = 0 WHERE nid = ? AND claimed_until = ?"
_SENT = (
    "INSERT INTO subscription_status (tenant, id, times_sent, last_notification, last_success) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant, id) DO UPDATE SET "
    "times_sent = subscription_status.times_sent + excluded.times_sent, "
    "last_notification = excluded.last_notification, last_success = excluded.last_success"
)
_FAILED = (
    "INSERT INTO subscription_status (tenant, id, times_failed, last_notification, last_failure) "
    "VALUES (?, ?, 1, ?, ?) ON CONFLICT (tenant, id) DO UPDATE SET "
    "times_failed = subscription_status.times_failed + 1, "
    "last_notification = excluded.last_notification, last_failure = excluded.last_failure"
)
_DEAD_LIST = (
    "SELECT nid, sub_id, notification_id, endpoint, attempts, last_error, created_at "
    "FROM outbox WHERE tenant = ? AND dead = 1 AND (? = '' OR sub_id = ?) "
    "ORDER BY nid LIMIT ? OFFSET ?"
)
_DEAD_RETRY = (
    "UPDATE outbox SET dead = 0, attempts = 0, next_at = ?, claimed_until = 0 "
    "WHERE tenant = ? AND nid = ? AND dead = 1"
)
_DEAD_DELETE = "DELETE FROM outbox WHERE tenant = ? AND nid = ? AND dead = 1"
_STATUS = (
    "SELECT times_sent, times_failed, last_notification, last_success, last_failure "
    "FROM subscription_status WHERE tenant = ? AND id = ?"
)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A claimed notification; ``claimed_until`` is the lease that every outcome must show."""

    nid: int
    tenant: str
    sub_id: str
    notification_id: str
    endpoint: dict[str, Any]
    body: bytes  # the notification without notifiedAt
    created_at: float
    attempts: int  # failed attempts so far
    claimed_until: float


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A notification that used up its attempts."""

    nid: int
    sub_id: str
    notification_id: str
    uri: str  # the endpoint, without any password
    attempts: int
    last_error: str | None
    created_at: float


@dataclass(frozen=True, slots=True)
class DeliveryStatus:
    """A subscription's delivery counters (NGSI-LD timesSent, timesFailed, last...)."""

    times_sent: int = 0
    times_failed: int = 0
    last_notification: str | None = None
    last_success: str | None = None
    last_failure: str | None = None

    def ngsi(self) -> dict[str, Any]:
        """The NGSI-LD NotificationParams status members (unset ones left out)."""
        members = {
            "timesSent": self.times_sent,
            "timesFailed": self.times_failed,
            "lastNotification": self.last_notification,
            "lastSuccess": self.last_success,
            "lastFailure": self.last_failure,
        }
        return {k: v for k, v in members.items() if v is not None}


class OutboxStore(Protocol):
    """What the deliverer and the dead-letter API need from the outbox tables."""

    async def claim(self, now: float, limit: int, lease_s: float) -> list[OutboxRow]:
        """Lease up to ``limit`` due subscription heads, oldest first."""

    async def succeeded(
        self, rows: list[OutboxRow], now: float, *, chain_s: float | None
    ) -> list[OutboxRow]:
        """Delete delivered rows and count them, in one transaction; with a lease
        ``chain_s``, claim each one's subscription's next row if it is due (returned)."""

    async def failed(
        self,
        row: OutboxRow,
        error: str,
        now: float,
        retry_at: float | None,
        *,
        chain_s: float | None,
    ) -> OutboxRow | None:
        """Count a failed attempt: retry at ``retry_at``, or dead when None (then claim the
        subscription's next row as :meth:`succeeded` does)."""

    async def release(self, row: OutboxRow) -> None:
        """Give a claimed row back unsent."""

    async def dead_letters(
        self, tenant: str, sub_id: str | None, limit: int, offset: int
    ) -> list[DeadLetter]:
        """A tenant's dead letters (of one subscription if given), oldest first."""

    async def retry_dead(self, tenant: str, nid: int, now: float) -> bool:
        """Queue a dead letter again with fresh attempts; False if there is no such one."""

    async def delete_dead(self, tenant: str, nid: int) -> bool:
        """Forget a dead letter; False if there is no such one."""

    async def status(self, tenant: str, sub_id: str) -> DeliveryStatus:
        """A subscription's delivery counters (zeros before its first attempt)."""


def outbox_store(storage: Storage) -> OutboxStore:
    """The outbox store of a storage backend."""
    if isinstance(storage, SQLiteStorage):
        return SQLiteOutbox(storage)
    if isinstance(storage, PostgresStorage):
        return PostgresOutbox(storage)
    raise TypeError(f"no outbox for storage {type(storage).__name__}")


def backoff_delay(attempts: int, base_s: float, max_s: float) -> float:
    """Pause after the ``attempts``-th failure: base, 2 base, 4 base … up to ``max_s``, ±20 %."""
    delay = min(max_s, base_s * 2.0 ** min(attempts - 1, 62))
    return min(max_s, delay * random.uniform(0.8, 1.2))


def safe_uri(uri: str) -> str:
    """``uri`` without the password of its user part (mqtt://user:secret@host → user@host)."""
    scheme, sep, rest = uri.partition("://")
    userinfo, at, hostpart = rest.partition("@")
    if not sep or not at or "/" in userinfo or ":" not in userinfo:
        return uri
    return f"{scheme}://{userinfo.partition(':')[0]}@{hostpart}"


def _row(r: Any, lease: float) -> OutboxRow:
    endpoint = r[4] if isinstance(r[4], dict) else orjson.loads(r[4])
    return OutboxRow(r[0], r[1], r[2], r[3], endpoint, bytes(r[5]), r[6], r[7], lease)


def _dead(r: Any) -> DeadLetter:
    endpoint = r[3] if isinstance(r[3], dict) else orjson.loads(r[3])
    return DeadLetter(r[0], r[1], r[2], safe_uri(str(endpoint.get("uri", ""))), r[4], r[5], r[6])


def _status(r: Any) -> DeliveryStatus:
    return DeliveryStatus(*r) if r is not None else DeliveryStatus()


class SQLiteOutbox:
    """The outbox in SQLite: claims and outcomes go through the storage's one writer."""

    def __init__(self, storage: SQLiteStorage) -> None:
        self.storage = storage

    async def claim(self, now: float, limit: int, lease_s: float) -> list[OutboxRow]:
        def due(conn: sqlite3.Connection) -> bool:
            return conn.execute(_DUE_ANY, (now, now)).fetchone() is not None

        # look on a reader first: an idle poll must not cost a write (and an fsync)
        if limit <= 0 or not await self.storage.read(due):
            return []
        lease = now + lease_s

        def run(conn: sqlite3.Connection) -> list[OutboxRow]:
            sql = _CLAIM.format(heads=_DUE_HEADS)
            rows = conn.execute(sql, (lease, now, now, limit)).fetchall()
            return sorted((_row(r, lease) for r in rows), key=lambda r: r.nid)

        claimed: list[OutboxRow] = await self.storage.write(run)
        return claimed

    @staticmethod
    def _next(
        conn: sqlite3.Connection, row: OutboxRow, now: float, lease_s: float | None
    ) -> OutboxRow | None:
        if lease_s is None:
            return None
        lease = now + lease_s
        r = conn.execute(_CLAIM_NEXT, (lease, row.tenant, row.sub_id, now, now)).fetchone()
        return _row(r, lease) if r is not None else None

    async def succeeded(
        self, rows: list[OutboxRow], now: float, *, chain_s: float | None
    ) -> list[OutboxRow]:
        at = now_iso()

        def run(conn: sqlite3.Connection) -> list[OutboxRow]:
            sent: Counter[tuple[str, str]] = Counter()
            nxt: list[OutboxRow] = []
            for row in rows:
                if conn.execute(_DELETE, (row.nid, row.claimed_until)).rowcount != 1:
                    continue  # lease lost, or the subscription was deleted meanwhile
                sent[row.tenant, row.sub_id] += 1
                if (claimed := self._next(conn, row, now, chain_s)) is not None:
                    nxt.append(claimed)
            conn.executemany(_SENT, [(*key, n, at, at) for key, n in sent.items()])
            return nxt

        nxt: list[OutboxRow] = await self.storage.write(run)
        return nxt

    async def failed(
        self,
        row: OutboxRow,
        error: str,
        now: float,
        retry_at: float | None,
        *,
        chain_s: float | None,
    ) -> OutboxRow | None:
        at = now_iso()
        args = (retry_at if retry_at is not None else now, error, int(retry_at is None))

        def run(conn: sqlite3.Connection) -> OutboxRow | None:
            if conn.execute(_FAIL, (*args, row.nid, row.claimed_until)).rowcount != 1:
                return None
            conn.execute(_FAILED, (row.tenant, row.sub_id, at, at))
            return self._next(conn, row, now, chain_s) if retry_at is None else None

        nxt: OutboxRow | None = await self.storage.write(run)
        return nxt

    async def release(self, row: OutboxRow) -> None:
        await self.storage.write(lambda conn: conn.execute(_RELEASE, (row.nid, row.claimed_until)))

    async def dead_letters(
        self, tenant: str, sub_id: str | None, limit: int, offset: int
    ) -> list[DeadLetter]:
        args = (tenant, sub_id or "", sub_id or "", limit, offset)

        def run(conn: sqlite3.Connection) -> list[DeadLetter]:
            return [_dead(r) for r in conn.execute(_DEAD_LIST, args)]

        letters: list[DeadLetter] = await self.storage.read(run)
        return letters

    async def retry_dead(self, tenant: str, nid: int, now: float) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            return conn.execute(_DEAD_RETRY, (now, tenant, nid)).rowcount == 1

        done: bool = await self.storage.write(run)
        return done

    async def delete_dead(self, tenant: str, nid: int) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            return conn.execute(_DEAD_DELETE, (tenant, nid)).rowcount == 1

        done: bool = await self.storage.write(run)
        return done

    async def status(self, tenant: str, sub_id: str) -> DeliveryStatus:
        def run(conn: sqlite3.Connection) -> DeliveryStatus:
            return _status(conn.execute(_STATUS, (tenant, sub_id)).fetchone())

        status: DeliveryStatus = await self.storage.read(run)
        return status


_PG_CLAIM = numbered(_CLAIM.format(heads=_DUE_HEADS + " FOR UPDATE SKIP LOCKED"))
_PG = {sql: numbered(sql) for sql in (_CLAIM_NEXT, _DELETE, _FAIL, _RELEASE, _SENT, _FAILED)}
_PG_DEAD_LIST = numbered(
    _DEAD_LIST.replace("(? = '' OR sub_id = ?)", "(?::text = '' OR sub_id = ?)")
)


class PostgresOutbox:
    """The outbox in PostgreSQL, shared by the deliverers of every worker."""

    def __init__(self, storage: PostgresStorage) -> None:
        self.storage = storage

    async def claim(self, now: float, limit: int, lease_s: float) -> list[OutboxRow]:
        if limit <= 0:
            return []
        lease = now + lease_s
        async with self.storage.transaction() as conn:
            rows = await conn.fetch(_PG_CLAIM, lease, now, now, limit)
        return sorted((_row(r, lease) for r in rows), key=lambda r: r.nid)

    @staticmethod
    async def _next(
        conn: asyncpg.Connection, row: OutboxRow, now: float, lease_s: float | None
    ) -> OutboxRow | None:
        if lease_s is None:
            return None
        lease = now + lease_s
        r = await conn.fetchrow(_PG[_CLAIM_NEXT], lease, row.tenant, row.sub_id, now, now)
        return _row(r, lease) if r is not None else None

    async def succeeded(
        self, rows: list[OutboxRow], now: float, *, chain_s: float | None
    ) -> list[OutboxRow]:
        at = now_iso()
        sent: Counter[tuple[str, str]] = Counter()
        nxt: list[OutboxRow] = []
        async with self.storage.transaction() as conn:
            for row in rows:
                if await conn.execute(_PG[_DELETE], row.nid, row.claimed_until) != "DELETE 1":
                    continue
                sent[row.tenant, row.sub_id] += 1
                if (claimed := await self._next(conn, row, now, chain_s)) is not None:
                    nxt.append(claimed)
            # in key order, so two workers' transactions never wait on each other in a cycle
            await conn.executemany(
                _PG[_SENT], [(*key, n, at, at) for key, n in sorted(sent.items())]
            )
        return nxt

    async def failed(
        self,
        row: OutboxRow,
        error: str,
        now: float,
        retry_at: float | None,
        *,
        chain_s: float | None,
    ) -> OutboxRow | None:
        at = now_iso()
        next_at = retry_at if retry_at is not None else now
        async with self.storage.transaction() as conn:
            status = await conn.execute(
                _PG[_FAIL], next_at, error, int(retry_at is None), row.nid, row.claimed_until
            )
            if status != "UPDATE 1":
                return None
            await conn.execute(_PG[_FAILED], row.tenant, row.sub_id, at, at)
            return await self._next(conn, row, now, chain_s) if retry_at is None else None

    async def release(self, row: OutboxRow) -> None:
        async with self.storage.transaction() as conn:
            await conn.execute(_PG[_RELEASE], row.nid, row.claimed_until)

    async def dead_letters(
        self, tenant: str, sub_id: str | None, limit: int, offset: int
    ) -> list[DeadLetter]:
        async with self.storage.transaction() as conn:
            rows = await conn.fetch(
                _PG_DEAD_LIST, tenant, sub_id or "", sub_id or "", limit, offset
            )
        return [_dead(r) for r in rows]

    async def retry_dead(self, tenant: str, nid: int, now: float) -> bool:
        async with self.storage.transaction() as conn:
            status = await conn.execute(numbered(_DEAD_RETRY), now, tenant, nid)
        return bool(status == "UPDATE 1")

    async def delete_dead(self, tenant: str, nid: int) -> bool:
        async with self.storage.transaction() as conn:
            status = await conn.execute(numbered(_DEAD_DELETE), tenant, nid)
        return bool(status == "DELETE 1")

    async def status(self, tenant: str, sub_id: str) -> DeliveryStatus:
        async with self.storage.transaction() as conn:
            row = await conn.fetchrow(numbered(_STATUS), tenant, sub_id)
        return _status(None if row is None else tuple(row))
