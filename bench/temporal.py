"""Temporal API benchmark: lastN and hourly aggregations over a large attribute history.

    python bench/temporal.py [--instances 1000000] [--entities 1000] [--postgres URL]

Loads ``--instances`` attribute instances (the target scale is 10,000,000; the default,
1,000,000, loads in about a minute) of one numeric attribute spread over ``--entities``
meters and 60 days, straight through the temporal store in bulk. Then measures, through the
ASGI app in-process (request parsing, SQL, rendering; no sockets), p50/p95 of:

- ``lastN=100`` of one entity, against a raw ``SELECT ... ORDER BY observed DESC LIMIT 100``;
- a 30-day hourly ``avg,max`` aggregation of one entity, against a raw ``GROUP BY`` of the
  same periods;
- the same aggregation for every entity at once (``limit=1000``);

and the storage each million instances takes. Each figure is set against plain SQL over the
same tables in the same run (for every entity at once: a GROUP BY over the instances, which
is what a store without the hourly rollup does). Targets: lastN p95 <= 20 ms, one-entity
aggregation p95 <= 100 ms, 1,000 entities <= 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from cityhub.app import create_app
from cityhub.settings import Settings
from cityhub.temporal.model import EntityRow, InstanceRow, WriteBatch, iso, parse_time
from cityhub.temporal.recorder import new_instance_id

TEMPORAL = "/ngsi-ld/v1/temporal/entities"
START = parse_time("2024-01-01T00:00:00Z", "start")
DAY = 86_400 * 1_000_000
SPAN_DAYS = 60
KWH = "https://uri.etsi.org/ngsi-ld/default-context/kwh"
WINDOW = {
    "timerel": "between",
    "timeAt": iso(START + 30 * DAY),
    "endTimeAt": iso(START + 60 * DAY),
}


def meter(n: int) -> str:
    return f"urn:ngsi-ld:Meter:{n:05d}"


async def load(app: Any, instances: int, entities: int) -> float:
    """Write the history through the temporal store; returns seconds taken."""
    store = app.state.temporal.store
    per = max(1, instances // entities)
    step = SPAN_DAYS * DAY // per
    started = time.perf_counter()
    stamp = iso(START)
    rows = WriteBatch(
        entities=[
            (
                "",
                EntityRow(
                    meter(e),
                    ["https://uri.etsi.org/ngsi-ld/default-context/Meter"],
                    None,
                    stamp,
                    stamp,
                ),
            )
            for e in range(entities)
        ]
    )
    await store.write(rows)
    chunk: list[tuple[str, InstanceRow]] = []
    for i in range(per):
        at = START + i * step
        when = iso(at)
        for e in range(entities):
            value = float((i * 7 + e) % 100)
            doc = {
                "type": "Property",
                "value": value,
                "observedAt": when,
                "createdAt": when,
                "modifiedAt": when,
            }
            chunk.append(
                (
                    "",
                    InstanceRow(
                        meter(e),
                        KWH,
                        "",
                        "Property",
                        new_instance_id(),
                        at,
                        at,
                        at,
                        False,
                        value,
                        None,
                        doc,
                    ),
                )
            )
        if len(chunk) >= 50_000:
            await store.write(WriteBatch(instances=chunk))
            chunk = []
    if chunk:
        await store.write(WriteBatch(instances=chunk))
    return time.perf_counter() - started


async def timed(fn: Callable[[], Awaitable[Any]], runs: int) -> tuple[float, float]:
    """p50 and p95 of ``fn`` in milliseconds."""
    await fn()  # warm caches
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await fn()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.95 * len(times)))]


def sqlite_raw(path: str, entity: str) -> tuple[Callable[[], Awaitable[Any]], ...]:
    conn = sqlite3.connect(path, check_same_thread=False)
    sid = conn.execute("SELECT sid FROM temporal_series WHERE entity_id = ?", (entity,)).fetchone()[
        0
    ]
    low, high = parse_time(WINDOW["timeAt"], "t"), parse_time(WINDOW["endTimeAt"], "t")

    async def last() -> Any:
        return conn.execute(
            "SELECT instance_id, observed, doc FROM temporal_instances WHERE sid = ? "
            "ORDER BY observed DESC LIMIT 100",
            (sid,),
        ).fetchall()

    async def hourly() -> Any:
        return conn.execute(
            "SELECT (observed - ?) / 3600000000 b, avg(num), max(num) FROM temporal_instances "
            "WHERE sid = ? AND observed >= ? AND observed < ? GROUP BY b",
            (low, sid, low, high),
        ).fetchall()

    async def hourly_all() -> Any:  # every series, straight from the instances
        return conn.execute(
            "SELECT sid, (observed - ?) / 3600000000 b, avg(num), max(num) "
            "FROM temporal_instances WHERE observed >= ? AND observed < ? GROUP BY sid, b",
            (low, low, high),
        ).fetchall()

    return last, hourly, hourly_all


async def pg_raw(url: str, entity: str) -> tuple[Callable[[], Awaitable[Any]], ...]:
    import asyncpg

    conn = await asyncpg.connect(url)
    sid = await conn.fetchval("SELECT sid FROM temporal_series WHERE entity_id = $1", entity)
    low, high = parse_time(WINDOW["timeAt"], "t"), parse_time(WINDOW["endTimeAt"], "t")

    async def last() -> Any:
        return await conn.fetch(
            "SELECT instance_id, observed, doc FROM temporal_instances WHERE sid = $1 "
            "ORDER BY observed DESC LIMIT 100",
            sid,
        )

    async def hourly() -> Any:
        return await conn.fetch(
            "SELECT (observed - $1) / 3600000000 b, avg(num), max(num) FROM temporal_instances "
            "WHERE sid = $2 AND observed >= $1 AND observed < $3 GROUP BY b",
            low,
            sid,
            high,
        )

    async def hourly_all() -> Any:  # every series, straight from the instances
        return await conn.fetch(
            "SELECT sid, (observed - $1) / 3600000000 b, avg(num), max(num) "
            "FROM temporal_instances WHERE observed >= $1 AND observed < $2 GROUP BY sid, b",
            low,
            high,
        )

    return last, hourly, hourly_all


async def storage_bytes(app: Any, path: str | None) -> int:
    storage = app.state.hub.storage
    if path is None:
        return int(
            await storage.pool.fetchval(
                "SELECT pg_total_relation_size('temporal_instances') "
                "+ pg_total_relation_size('temporal_series') "
                "+ pg_total_relation_size('temporal_hourly')"
            )
        )
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    used = (
        conn.execute("PRAGMA page_count").fetchone()[0]
        - conn.execute("PRAGMA freelist_count").fetchone()[0]
    )
    conn.close()
    return int(page * used)


async def run(backend: str, database: str, path: str | None, args: argparse.Namespace) -> None:
    settings = Settings(
        database=database,
        data_dir=tempfile.gettempdir(),
        sqlite_synchronous="NORMAL",
        auth="off",
        rate_limit_per_s=0.0,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        before = await storage_bytes(app, path)
        seconds = await load(app, args.instances, args.entities)
        size = await storage_bytes(app, path) - before
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b")
        one = f"{TEMPORAL}/{meter(0)}"

        async def last_n() -> Any:
            resp = await client.get(one, params={"lastN": "100"})
            assert resp.status_code == 200 and len(resp.json()["kwh"]) == 100, resp.text

        async def hourly_one() -> Any:
            params = {"aggrMethods": "avg,max", "aggrPeriodDuration": "PT1H", **WINDOW}
            resp = await client.get(one, params=params)
            assert resp.status_code == 200, resp.text

        async def hourly_all() -> Any:
            params = {
                "type": "Meter",
                "aggrMethods": "avg,max",
                "aggrPeriodDuration": "PT1H",
                "limit": "1000",
                "count": "true",
                **WINDOW,
            }
            resp = await client.get(TEMPORAL, params=params)
            # the body (tens of MB) is not parsed: that would time the client, not the server
            assert resp.status_code == 200 and resp.content.startswith(b'[{"id":')
            assert resp.headers["NGSILD-Results-Count"] == str(args.entities)

        raw_last, raw_hourly, raw_all = (
            sqlite_raw(path, meter(0)) if path else await pg_raw(database, meter(0))
        )
        rows = [
            (
                "lastN=100, one entity",
                await timed(last_n, args.runs),
                await timed(raw_last, args.runs),
                20,
            ),
            (
                "30 days hourly avg,max, one entity",
                await timed(hourly_one, args.runs),
                await timed(raw_hourly, args.runs),
                100,
            ),
            (
                f"30 days hourly avg,max, {min(args.entities, 1000)} entities",
                await timed(hourly_all, max(3, args.runs // 10)),
                await timed(raw_all, 3),
                2000,
            ),
        ]
    per_million = size / max(1, args.instances) * 1_000_000
    print(
        f"\n{backend}: {args.instances:,} instances, {args.entities:,} entities, "
        f"loaded in {seconds:.1f} s ({args.instances / seconds:,.0f}/s), "
        f"{per_million / 2**20:,.0f} MiB per million instances"
    )
    print(
        f"{'measure':44} {'p50 ms':>8} {'p95 ms':>8} {'raw SQL p50':>12} {'p50/raw':>8} "
        f"{'target p95':>11}"
    )
    for name, (p50, p95), raw, target in rows:
        raw_text = f"{raw[0]:.2f}" if raw else "-"
        ratio = f"{p50 / raw[0]:.2f}×" if raw and raw[0] > 0 else "-"
        flag = "ok" if p95 <= target else "MISSED"
        print(f"{name:44} {p50:8.1f} {p95:8.1f} {raw_text:>12} {ratio:>8} {target:>8} {flag}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=1_000_000, help="target: 10,000,000")
    parser.add_argument("--entities", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--postgres", help="also run on this (empty) PostgreSQL database URL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "temporal.db")
        asyncio.run(run("SQLite", f"sqlite:///{path}", path, args))
    if args.postgres:
        asyncio.run(run("PostgreSQL", args.postgres, None, args))


if __name__ == "__main__":
    main()
