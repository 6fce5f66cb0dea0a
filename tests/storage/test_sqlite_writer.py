"""The SQLite writer's group commit: one failing job never takes its group down with it."""

from __future__ import annotations

import asyncio
import sqlite3
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


async def test_slow_disk_commits_in_a_thread(tmp_path: Path) -> None:
    """When commits have been slow, the fsync moves off the event loop; writes still land."""
    storage = SQLiteStorage(str(tmp_path / "hub.db"))
    await storage.open()
    try:
        assert storage._writer is not None
        storage._writer._commit_s = 1.0  # as if the disk took a second per fsync
        outcomes = await asyncio.gather(
            *(
                storage.apply("", [Mutation(f"urn:ngsi-ld:T:{i}", lambda _c, i=i: _entity(i))])
                for i in range(20)
            )
        )
        assert all(o[0].error is None for o in outcomes)
        assert storage._writer._commit_s < 1.0  # measured again: fast, back on the loop
        assert await storage.get("", "urn:ngsi-ld:T:19") is not None
    finally:
        await storage.close()
