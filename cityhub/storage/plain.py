"""Plain SQL for a feature's own tables, on either backend.

Features with small tables of their own (the IoT registry, the data-model registry, ...) run
the same SQL on both backends: ``?`` placeholders, numbered for PostgreSQL.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from cityhub.errors import AlreadyExists
from cityhub.storage.base import Storage
from cityhub.storage.postgres import PostgresStorage, numbered
from cityhub.storage.sqlite import SQLiteStorage

Statement = tuple[str, tuple[Any, ...]]


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

    async def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        st = self.storage
        if isinstance(st, SQLiteStorage):
            found: list[tuple[Any, ...]] = await st.read(
                lambda conn: conn.execute(sql, args).fetchall()
            )
            return found
        assert isinstance(st, PostgresStorage)
        return [tuple(r) for r in await st.pool.fetch(numbered(sql), *args)]
