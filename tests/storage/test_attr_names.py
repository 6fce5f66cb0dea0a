"""SQLite interns attribute names in its value index (schema 20): databases written before
are upgraded in place, and a rolled-back write never leaves a stale number behind."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from cityhub.app import create_app
from cityhub.settings import Settings
from cityhub.storage.base import Mutation
from cityhub.storage.sqlite import SQLiteStorage

pytestmark = pytest.mark.anyio
E = "/ngsi-ld/v1/entities"
FRESH = "https://ex.org/fresh"


@asynccontextmanager
async def _hub(db: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(database=f"sqlite:///{db}", data_dir=str(db.parent), auth="off"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as c:
            yield c


def _back_to_schema_19(db: Path) -> None:
    """Rewrite the value index as schema 19 kept it: the attribute IRI in every row."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.executescript(
        """
        BEGIN;
        CREATE TABLE old_idx (eid INTEGER NOT NULL, name TEXT NOT NULL, seq INTEGER NOT NULL,
            kind TEXT NOT NULL, num REAL, str TEXT, PRIMARY KEY (eid, name, seq)) WITHOUT ROWID;
        INSERT INTO old_idx SELECT a.eid, n.name, a.seq, a.kind, a.num, a.str
            FROM attr_idx a JOIN attr_names n ON n.nid = a.name;
        DROP TABLE attr_idx;
        DROP TABLE attr_names;
        ALTER TABLE old_idx RENAME TO attr_idx;
        CREATE INDEX attr_idx_num ON attr_idx (name, num) WHERE num IS NOT NULL;
        CREATE INDEX attr_idx_str ON attr_idx (name, str);
        DELETE FROM schema_version WHERE version >= 20;
        COMMIT;
        """
    )
    assert conn.execute("SELECT typeof(name) FROM attr_idx LIMIT 1").fetchone() == ("text",)
    conn.close()


async def test_a_database_of_schema_19_is_upgraded_and_still_answers_queries(
    tmp_path: Path,
) -> None:
    db = tmp_path / "hub.db"
    async with _hub(db) as c:
        for i in range(20):
            spot = {
                "id": f"urn:ngsi-ld:ParkingSpot:{i}",
                "type": "ParkingSpot",
                "status": "free" if i % 2 else "occupied",
                "level": i % 4,
            }
            assert (await c.post(E, json=spot)).status_code == 201
    _back_to_schema_19(db)
    async with _hub(db) as c:
        r = await c.get(E, params={"type": "ParkingSpot", "q": 'status=="free";level>=2'})
        assert sorted(x["id"] for x in r.json()) == [
            f"urn:ngsi-ld:ParkingSpot:{i}" for i in (11, 15, 19, 3, 7)
        ]
        r = await c.get(E, params={"type": "ParkingSpot", "attrs": "level", "count": "true"})
        assert r.headers["NGSILD-Results-Count"] == "20"
        # a write after the upgrade keys its rows by the same numbers as the migrated ones
        r = await c.patch(f"{E}/urn:ngsi-ld:ParkingSpot:0/attrs/status", json={"value": "free"})
        assert r.status_code == 204
        r = await c.get(E, params={"type": "ParkingSpot", "q": 'status=="free"', "count": "true"})
        assert r.headers["NGSILD-Results-Count"] == "11"
        types = (await c.get("/ngsi-ld/v1/types", params={"details": "true"})).json()
        assert sorted(types[0]["attributeNames"]) == ["level", "status"]
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT max(version) FROM schema_version").fetchone() == (20,)
    assert conn.execute("SELECT count(*) FROM attr_names").fetchone() == (2,)
    conn.close()


def _entity(key: str, attr: str) -> dict[str, object]:
    return {
        "id": f"urn:ngsi-ld:T:{key}",
        "type": ["https://ex.org/T"],
        "attrs": {attr: [{"type": "Property", "value": 1}]},
    }


async def test_a_rolled_back_name_is_interned_again_by_the_next_write(tmp_path: Path) -> None:
    storage = SQLiteStorage(str(tmp_path / "hub.db"))
    await storage.open()
    try:

        def interns_then_fails(conn: sqlite3.Connection) -> None:
            storage._nid(conn, FRESH)
            raise RuntimeError("a bug in a job")

        with pytest.raises(RuntimeError):
            await storage._write(interns_then_fails)
        # another name now takes the number the rolled-back one had
        other = _entity("other", "https://ex.org/other")
        await storage.apply("", [Mutation("urn:ngsi-ld:T:other", lambda _c: other)])
        fresh = _entity("1", FRESH)
        await storage.apply("", [Mutation("urn:ngsi-ld:T:1", lambda _c: fresh)])

        def names_of_rows(conn: sqlite3.Connection) -> list[tuple[str, str]]:
            return conn.execute(
                "SELECT e.id, n.name FROM attr_idx a JOIN entities e ON e.pk = a.eid "
                "JOIN attr_names n ON n.nid = a.name ORDER BY e.id"
            ).fetchall()

        assert await storage.read(names_of_rows) == [
            ("urn:ngsi-ld:T:1", FRESH),
            ("urn:ngsi-ld:T:other", "https://ex.org/other"),
        ]
    finally:
        await storage.close()
