"""Plain SQL for a feature's own tables, on either backend.

Features with small tables of their own (the IoT registry, the data-model registry, ...) run
the same SQL on both backends: ``?`` placeholders, numbered for PostgreSQL.

:meth:`PlainSql.transaction` runs one piece of logic that reads and then writes (check a slot,
then take it) in one transaction on either backend: an ``async`` function of a :class:`Tx`. On
SQLite it runs inside the single writer's transaction (every write is serialised there, so
what it read still holds when it writes); on PostgreSQL in a transaction of its own, where
``tx.for_update`` (``SELECT ... FOR UPDATE``) or ``tx.lock(key)`` (a transaction-level advisory
lock) serialise the transactions that touch the same thing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import asyncpg

from cityhub.errors import AlreadyExists, Conflict
from cityhub.storage.base import Storage
from cityhub.storage.postgres import PostgresStorage, numbered
from cityhub.storage.sqlite import SQLiteStorage

Statement = tuple[str, tuple[Any, ...]]
T = TypeVar("T")


class Tx:
    """One transaction of :meth:`PlainSql.transaction` (``?`` placeholders)."""

    for_update = ""  # appended to a SELECT that must lock the rows it reads

    async def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """The rows of a query."""
        raise NotImplementedError

    async def run(self, sql: str, *args: Any, conflict: str | None = None) -> int:
        """Execute a statement; its row count. A unique-key violation is a Conflict with the
        message ``conflict`` when given (the transaction is then rolled back)."""
        raise NotImplementedError

    async def lock(self, key: str) -> None:
        """Hold a lock named ``key`` until the transaction ends."""
        raise NotImplementedError


class _SqliteTx(Tx):
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    async def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        found: list[tuple[Any, ...]] = self.conn.execute(sql, args).fetchall()
        return found

    async def run(self, sql: str, *args: Any, conflict: str | None = None) -> int:
        try:
            return self.conn.execute(sql, args).rowcount
        except sqlite3.IntegrityError as err:
            if conflict is None:
                raise
            raise Conflict(conflict) from err

    async def lock(self, key: str) -> None:
        """Nothing to do: the single writer runs one write at a time."""


class _PostgresTx(Tx):
    for_update = " FOR UPDATE"

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in await self.conn.fetch(numbered(sql), *args)]

    async def run(self, sql: str, *args: Any, conflict: str | None = None) -> int:
        try:
            status = await self.conn.execute(numbered(sql), *args)
        except asyncpg.UniqueViolationError as err:
            if conflict is None:
                raise
            raise Conflict(conflict) from err
        return int(status.split()[-1])

    async def lock(self, key: str) -> None:
        await self.conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", key)


def _drive(step: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (its awaits are SQLite calls) to its end."""
    try:
        step.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    step.close()
    raise RuntimeError("a SQLite transaction must not wait for anything but its own SQL")


class PlainSql:
    """Runs statements in one transaction (rowcounts back) and reads rows, on either backend."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def run(
        self,
        statements: list[Statement],
        *,
        conflict: str | None = None,
        cursor: tuple[str, int, int] | None = None,
    ) -> list[int]:
        """Execute in one transaction; with ``conflict``, a statement that changes no row
        rolls everything back and raises AlreadyExists(conflict); with ``cursor`` (name, old,
        new), a change-log consumer's cursor moves in the same transaction."""
        st = self.storage
        if isinstance(st, SQLiteStorage):

            def work(conn: sqlite3.Connection) -> list[int]:
                if cursor is not None:
                    st.advance(conn, *cursor)
                counts = [conn.execute(sql, args).rowcount for sql, args in statements]
                if conflict is not None and 0 in counts:
                    raise AlreadyExists(conflict)
                return counts

            done: list[int] = await st.write(work)
            return done
        assert isinstance(st, PostgresStorage)
        counts = []
        async with st.transaction() as conn:
            if cursor is not None:
                await st.advance(conn, *cursor)
            for sql, args in statements:
                status = await conn.execute(numbered(sql), *args)
                counts.append(int(status.split()[-1]))
            if conflict is not None and 0 in counts:
                raise AlreadyExists(conflict)
        return counts

    async def transaction(self, work: Callable[[Tx], Coroutine[Any, Any, T]]) -> T:
        """Run ``work`` in one transaction (rolled back when it raises): on SQLite in the
        writer (``work`` must await nothing but the Tx), on PostgreSQL on a connection of
        its own."""
        st = self.storage
        if isinstance(st, SQLiteStorage):

            def job(conn: sqlite3.Connection) -> T:
                return _drive(work(_SqliteTx(conn)))

            done: T = await st.write(job)
            return done
        assert isinstance(st, PostgresStorage)
        async with st.transaction() as conn:
            result: T = await work(_PostgresTx(conn))
        return result

    async def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        st = self.storage
        if isinstance(st, SQLiteStorage):
            found: list[tuple[Any, ...]] = await st.read(
                lambda conn: conn.execute(sql, args).fetchall()
            )
            return found
        assert isinstance(st, PostgresStorage)
        return [tuple(r) for r in await st.pool.fetch(numbered(sql), *args)]
