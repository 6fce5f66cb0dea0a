"""The change log: one durable entry per entity change, in commit order, read by consumers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import httpx
import pytest

from cityhub.app import create_app
from cityhub.bus import Change
from cityhub.bus.feed import Follower
from cityhub.errors import CursorMoved
from cityhub.ngsild import merge
from cityhub.ngsild.models import now_iso
from cityhub.settings import Settings
from cityhub.storage import storage_for
from cityhub.storage.base import ChangePage, Mutation, Storage

pytestmark = pytest.mark.anyio
E = "/ngsi-ld/v1/entities"
LOT = "urn:ngsi-ld:Lot:1"
FREE = "https://uri.etsi.org/ngsi-ld/default-context/free"


async def _all_changes(app_storage: object) -> list[Change]:
    page = await app_storage.changes(0, 1000)  # type: ignore[attr-defined]
    return list(page.changes)


async def test_every_write_logs_one_change_with_its_delta(settings: Settings) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub")
        await c.post(E, json={"id": LOT, "type": "Lot", "free": 3, "name": "A"})
        await c.patch(f"{E}/{LOT}/attrs/free", json={"value": 2})
        await c.patch(f"{E}/{LOT}/attrs/nothere", json={"value": 2})  # 404: nothing logged
        await c.post(
            "/ngsi-ld/v1/entityOperations/upsert",
            json=[
                {"id": "urn:ngsi-ld:Lot:2", "type": "Lot", "free": 9},
                {"id": LOT, "type": "Lot", "free": 1},
            ],
        )
        bad = await c.post(E, json={"id": LOT, "type": "Lot"})  # AlreadyExists: nothing logged
        assert bad.status_code == 409
        await c.delete(f"{E}/{LOT}")
        changes = await _all_changes(app.state.hub.storage)
    ops = [(ch.op, ch.entity_id) for ch in changes]
    assert ops == [
        ("create", LOT),
        ("update", LOT),
        ("create", "urn:ngsi-ld:Lot:2"),
        ("update", LOT),
        ("delete", LOT),
    ]
    seqs = [ch.seq for ch in changes]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    create, patch = changes[0], changes[1]
    assert create.prev[FREE] == [] and create.entity["attrs"][FREE][0]["value"] == 3
    assert list(patch.prev) == [FREE]  # only the attribute the PATCH touched
    assert patch.prev[FREE][0]["value"] == 3
    assert patch.current(FREE)[0]["value"] == 2
    # the batch upsert of Lot:1 replaced attributes: name is gone, free changed
    assert set(changes[3].prev) == {FREE, "https://uri.etsi.org/ngsi-ld/default-context/name"}
    deleted = changes[4]
    assert deleted.entity["id"] == LOT and deleted.current(FREE) == []


async def test_the_log_survives_a_restart_and_cursors_compare_and_set(
    settings: Settings,
) -> None:
    storage = storage_for(settings.database_url, settings)
    await storage.open()
    try:
        start = await storage.cursor("test")
        assert start == 0
        for i in range(3):
            await storage.apply("", [Mutation(f"urn:x:{i}", lambda _c, i=i: _entity(i))])
    finally:
        await storage.close()
    storage = storage_for(settings.database_url, settings)
    await storage.open()
    try:
        page = await storage.changes(await storage.cursor("test"), 10)
        assert [c.entity_id for c in page.changes] == ["urn:x:0", "urn:x:1", "urn:x:2"]
        assert page.upto == page.changes[-1].seq
        await _advance(storage, "test", 0, page.upto)
        with pytest.raises(CursorMoved):
            await _advance(storage, "test", 0, page.upto)  # someone already moved it
        assert await storage.cursor("test") == page.upto
        # a new consumer starts at the end; pruning keeps what the slowest consumer needs
        assert await storage.cursor("late") == page.upto
        assert await storage.prune_changes() == 3
        assert (await storage.changes(0, 10)).changes == []
    finally:
        await storage.close()


def _entity(i: int) -> dict[str, object]:
    return {"id": f"urn:x:{i}", "type": ["T"], "attrs": {}, "createdAt": "x", "modifiedAt": "x"}


async def _advance(storage: object, name: str, old: int, new: int) -> None:
    advance = storage.advance  # type: ignore[attr-defined]
    if hasattr(storage, "transaction"):
        async with storage.transaction() as conn:
            await advance(conn, name, old, new)
    else:
        await storage.write(lambda conn: advance(conn, name, old, new))  # type: ignore[attr-defined]


@pytest.mark.postgres
async def test_postgres_reader_waits_for_a_gap_a_running_transaction_may_fill(
    tmp_path: Path,
) -> None:
    from tests.pgserver import fresh_database_url

    url = fresh_database_url()
    settings = Settings(database=url, data_dir=str(tmp_path))
    storage = storage_for(url, settings)
    await storage.open()
    conn = await asyncpg.connect(url)
    try:
        await storage.apply("", [Mutation("urn:x:0", lambda _c: _entity(0))])
        # a transaction takes the next seq and stays open...
        tx = conn.transaction()
        await tx.start()
        await conn.execute(
            "INSERT INTO changes (tenant, entity_id, op, at, doc, prev) "
            "VALUES ('', 'urn:x:slow', 'create', 'x', '{}', '{}')"
        )
        # ...while a later one commits
        await storage.apply("", [Mutation("urn:x:2", lambda _c: _entity(2))])
        page = await storage.changes(0, 10)
        assert [c.entity_id for c in page.changes] == ["urn:x:0"]  # stops before the gap
        await tx.commit()
        page = await storage.changes(page.upto, 10)
        assert [c.entity_id for c in page.changes] == ["urn:x:slow", "urn:x:2"]
        # a rolled back transaction leaves a gap for good: the reader goes past it
        tx = conn.transaction()
        await tx.start()
        await conn.execute(
            "INSERT INTO changes (tenant, entity_id, op, at, doc, prev) "
            "VALUES ('', 'urn:x:gone', 'create', 'x', '{}', '{}')"
        )
        await storage.apply("", [Mutation("urn:x:4", lambda _c: _entity(4))])
        upto = page.upto
        page = await storage.changes(upto, 10)
        assert page.changes == []
        await tx.rollback()
        page = await storage.changes(upto, 10)
        assert [c.entity_id for c in page.changes] == ["urn:x:4"]
    finally:
        await conn.close()
        await storage.close()


async def test_a_feed_hands_every_change_once_in_order(settings: Settings) -> None:
    app = create_app(settings)
    hub = app.state.hub
    seen: list[int] = []

    async def handler(changes: list[Change], old: int, new: int) -> None:
        if hasattr(hub.storage, "transaction"):
            async with hub.storage.transaction() as conn:
                await hub.storage.advance(conn, "probe", old, new)
        else:
            await hub.storage.write(lambda conn: hub.storage.advance(conn, "probe", old, new))
        seen.extend(c.seq for c in changes)

    feed = hub.feed("probe", handler)
    async with app.router.lifespan_context(app):
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub")
        results = await asyncio.gather(
            *(c.post(E, json={"id": f"urn:ngsi-ld:Lot:{i}", "type": "Lot"}) for i in range(40))
        )
        assert {r.status_code for r in results} == {201}
        last = (await hub.storage.changes(0, 1000)).upto
        assert await feed.caught_up(last)
    assert len(seen) == 40 and seen == sorted(seen)


async def test_a_feed_with_nothing_to_write_stores_its_cursor_when_idle(
    settings: Settings,
) -> None:
    app = create_app(settings)
    hub = app.state.hub
    seen: list[int] = []

    async def handler(changes: list[Change], old: int, new: int) -> bool:
        seen.extend(c.seq for c in changes)
        return False  # nothing to write: the feed stores the cursor itself

    feed = hub.feed("quiet", handler)
    async with app.router.lifespan_context(app):
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub")
        for i in range(5):
            await c.post(E, json={"id": f"urn:ngsi-ld:Lot:{i}", "type": "Lot"})
        assert await feed.caught_up(5)
        for _ in range(100):  # idle now: the cursor reaches the database
            if (await hub.storage.cursors())["quiet"] == 5:
                break
            await asyncio.sleep(0.02)
        assert (await hub.storage.cursors())["quiet"] == 5
    assert seen == [1, 2, 3, 4, 5]


class _CountedReads:
    """A storage whose change-log reads are counted."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.reads = 0

    async def changes(self, after: int, limit: int) -> ChangePage:
        self.reads += 1
        return await self.storage.changes(after, limit)


async def test_a_follower_in_step_with_the_bus_reads_nothing_back_from_the_log(
    settings: Settings,
) -> None:
    """A busy hub's consumers take its changes from the bus: none is read back and decoded
    again from the log; another worker's write (in the log only) is found when looked for."""
    app = create_app(settings)
    hub = app.state.hub
    async with app.router.lifespan_context(app):
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub")
        counted = _CountedReads(hub.storage)
        follow = Follower(counted, hub.bus, 500)  # type: ignore[arg-type]
        follow.cursor = await hub.storage.log_end()
        await follow.next()  # the first call looks at the log (a restart's backlog)
        assert counted.reads == 1

        async def drain() -> list[str]:
            seen: list[str] = []
            while (page := await follow.next()).upto != follow.cursor:
                follow.cursor = page.upto
                seen.extend(ch.entity_id for ch in page.changes)
            return seen

        for i in range(20):
            await c.post(E, json={"id": f"urn:ngsi-ld:Lot:{i}", "type": "Lot"})
        assert await drain() == [f"urn:ngsi-ld:Lot:{i}" for i in range(20)]
        assert counted.reads == 1  # every change came with the bus

        other = "urn:ngsi-ld:Lot:other-worker"  # written without this process's bus
        entity = merge.new_entity({"id": other, "type": ["urn:x:Lot"], "attrs": {}}, now_iso())
        await hub.storage.apply("", [Mutation(other, lambda _cur: entity)])
        assert await drain() == []  # not looked for yet (the callers look every poll_s)
        follow.wake()
        assert await drain() == [other]
        assert counted.reads == 2
        follow.close()


async def test_a_live_tail_ends_by_itself_when_closed(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """At shutdown the live feeds' tails are closed before the storage is: a closed tail ends
    on its own, cancelled or not, and says nothing (it used to go on reading a closed storage
    and log its failures as tracebacks in a stopping server's output)."""
    from cityhub.ops.live import LiveFeed

    app = create_app(settings)
    hub = app.state.hub
    async with app.router.lifespan_context(app):
        tail = LiveFeed(hub.storage, hub.bus, poll_s=0.02)
        task = asyncio.create_task(tail.run())
        await asyncio.sleep(0.1)  # idle polls: nobody listens
        tail.close()
        await asyncio.wait_for(task, 2)
        assert task.done() and not task.cancelled()
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
