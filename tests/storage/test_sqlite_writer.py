"""The SQLite writer's group commit: one failing job never takes its group down with it, and
the loop goes on while a group commits."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from cityhub.storage.base import Mutation
from cityhub.storage.sqlite import SQLiteStorage

pytestmark = pytest.mark.anyio


def _entity(i: int) -> dict[str, object]:
    return {"id": f"urn:ngsi-ld:T:{i}", "type": ["https://ex.org/T"], "attrs": {}}


async def test_failing_job_is_isolated_from_its_group(tmp_path: Path) -> None:
    storage = SQLiteStorage(str(tmp_path / "hub.db"))
    await storage.open()
    try:

        def broken(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO tenants VALUES ('half-done', 'x')")
            raise RuntimeError("a bug in a job")

        # submitted in the same loop iteration, so they share one group commit
        results = await asyncio.gather(
            storage.apply("", [Mutation("urn:ngsi-ld:T:1", lambda _c: _entity(1))]),
            storage._write(broken),
            storage.apply("", [Mutation("urn:ngsi-ld:T:2", lambda _c: _entity(2))]),
            return_exceptions=True,
        )
        assert isinstance(results[1], RuntimeError)
        assert await storage.get("", "urn:ngsi-ld:T:1") is not None
        assert await storage.get("", "urn:ngsi-ld:T:2") is not None
        assert not await storage.tenant_exists("half-done")
    finally:
        await storage.close()
    reopened = SQLiteStorage(str(tmp_path / "hub.db"))
    await reopened.open()
    try:
        assert not await reopened.tenant_exists("half-done")
        assert await reopened.get("", "urn:ngsi-ld:T:2") is not None
    finally:
        await reopened.close()


async def test_two_writers_on_one_file_wait_for_each_other(tmp_path: Path) -> None:
    """As with `--workers 2`: each writer retries while the other holds the write lock."""
    first, second = SQLiteStorage(str(tmp_path / "hub.db")), SQLiteStorage(str(tmp_path / "hub.db"))
    await first.open()
    await second.open()
    try:
        writes = [
            storage.apply("", [Mutation(f"urn:ngsi-ld:T:{i}", lambda _c, i=i: _entity(i))])
            for i in range(100)
            for storage in [(first, second)[i % 2]]
        ]
        outcomes = await asyncio.gather(*writes)
        assert all(o[0].error is None for o in outcomes)
        for i in range(100):
            assert await first.get("", f"urn:ngsi-ld:T:{i}") is not None
    finally:
        await first.close()
        await second.close()


class _SlowCommits:
    """The writer's connection on a disk whose fsync takes ``commit_s`` (COMMITs counted)."""

    def __init__(self, conn: sqlite3.Connection, commit_s: float) -> None:
        self.conn = conn
        self.commit_s = commit_s
        self.commits = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.conn, name)

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        if sql == "COMMIT":
            self.commits += 1
            time.sleep(self.commit_s)
        return self.conn.execute(sql, *args)


async def test_the_loop_goes_on_while_a_group_commits(tmp_path: Path) -> None:
    """The fsync runs off the event loop: the loop keeps serving meanwhile, and the writes
    that arrive during one commit go together into the next group (one more fsync, not one
    each)."""
    storage = SQLiteStorage(str(tmp_path / "hub.db"))
    await storage.open()
    try:
        assert storage._writer is not None
        slow = _SlowCommits(storage._writer.conn, 1.0)
        storage._writer.conn = slow  # type: ignore[assignment]

        def write(i: int) -> asyncio.Task[object]:
            mutation = Mutation(f"urn:ngsi-ld:T:{i}", lambda _c, i=i: _entity(i))
            return asyncio.ensure_future(storage.apply("", [mutation]))

        first = write(0)
        ticks = 0
        for _ in range(10):  # the loop runs while the first group's COMMIT sleeps
            await asyncio.sleep(0.01)
            ticks += 1
        assert ticks == 10 and not first.done() and slow.commits == 1
        rest = [write(i) for i in range(1, 21)]
        outcomes = await asyncio.gather(first, *rest)
        assert all(o[0].error is None for o in outcomes)  # type: ignore[index]
        assert slow.commits == 2  # the twenty waited together
        assert await storage.get("", "urn:ngsi-ld:T:20") is not None
    finally:
        await storage.close()
