"""The temporal store on PostgreSQL: bulk writes through ``unnest`` arrays, per-series reads
through ``LATERAL`` joins, so one round trip serves any number of attributes."""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterator, Sequence
from typing import Any

import asyncpg
import orjson

from cityhub.errors import StorageError
from cityhub.storage.postgres import PostgresStorage, numbered
from cityhub.temporal.model import Bucket, EntityRow, Series, TimeFilter, WriteBatch
from cityhub.temporal.store import (
    HOUR,
    ROLLUP_ADD,
    ROLLUP_CLEAR,
    ROLLUP_REBUILD,
    Cursor,
    Periods,
    Stored,
    methods_sql,
    period_sql,
    rollup_query,
    rollup_rows,
    time_column,
    time_where,
)

_UPSERT_ENTITIES = (
    "INSERT INTO temporal_entities "
    "SELECT t, i, ty::json, sc::json, c, m, d FROM unnest($1::text[], $2::text[], $3::text[], "
    "$4::text[], $5::text[], $6::text[], $7::text[]) u(t, i, ty, sc, c, m, d) "
    "ON CONFLICT (tenant, id) DO UPDATE SET types = excluded.types, scope = excluded.scope, "
    "modified_at = excluded.modified_at, deleted_at = excluded.deleted_at"
)
_UPSERT_SERIES = (
    "INSERT INTO temporal_series (tenant, entity_id, attr, dataset, kind) "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) "
    "ON CONFLICT (tenant, entity_id, attr, dataset) DO UPDATE SET kind = excluded.kind "
    "RETURNING sid, tenant, entity_id, attr, dataset"
)
_INSERT_INSTANCES = (
    "INSERT INTO temporal_instances "
    "SELECT s, o, i, m, c, d, n, v, doc::json FROM unnest($1::bigint[], $2::bigint[], "
    "$3::text[], $4::bigint[], $5::bigint[], $6::smallint[], $7::float8[], $8::text[], "
    "$9::text[]) u(s, o, i, m, c, d, n, v, doc)"
)
_DISTINCT = "count(DISTINCT coalesce(val, num::text))"
_ROLLUP_ADD = numbered(
    ROLLUP_ADD.format(
        lo="LEAST(temporal_hourly.lo, excluded.lo)", hi="GREATEST(temporal_hourly.hi, excluded.hi)"
    )
)
_ROLLUP_CLEAR = numbered(ROLLUP_CLEAR)
_ROLLUP_REBUILD = numbered(ROLLUP_REBUILD)
_PRUNE_SLICE = 200  # series per pruning statement


@contextlib.contextmanager
def _db_errors(what: str) -> Iterator[None]:
    """Database failures as StorageError."""
    try:
        yield
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as err:
        raise StorageError(f"PostgreSQL temporal {what} failed: {err}") from err


def _text(value: Any) -> str:
    return orjson.dumps(value).decode()


class PostgresTemporalStore:
    """Temporal rows in the hub's PostgreSQL database."""

    def __init__(self, storage: PostgresStorage) -> None:
        self.storage = storage

    async def write(self, batch: WriteBatch, cursor: Cursor | None = None) -> None:
        """Write the batch (and move ``cursor``) in one transaction."""
        latest = {(t, e.entity_id): (t, e) for t, e in batch.entities}  # last record wins
        entities = [latest[k] for k in sorted(latest)]
        keys = sorted(
            {(t, r.entity_id, r.attr, r.dataset): r.kind for t, r in batch.instances}.items()
        )
        async with self.storage.transaction() as conn:
            if entities:
                await conn.execute(
                    _UPSERT_ENTITIES,
                    [t for t, _ in entities],
                    [e.entity_id for _, e in entities],
                    [_text(e.types) for _, e in entities],
                    [_text(e.scope) if e.scope is not None else None for _, e in entities],
                    [e.created_at for _, e in entities],
                    [e.modified_at for _, e in entities],
                    [e.deleted_at for _, e in entities],
                )
            if keys:
                cols = [[k[i] for k, _ in keys] for i in range(4)]
                found = await conn.fetch(_UPSERT_SERIES, *cols, [kind for _, kind in keys])
                sids = {(r[1], r[2], r[3], r[4]): r[0] for r in found}
                rows = [
                    (
                        sids[(t, r.entity_id, r.attr, r.dataset)],
                        r.observed,
                        r.instance_id,
                        r.modified,
                        r.created,
                        int(r.deleted),
                        r.num,
                        r.val,
                        _text(r.doc),
                    )
                    for t, r in batch.instances
                ]
                await conn.execute(_INSERT_INSTANCES, *([row[i] for row in rows] for i in range(9)))
                rollup = rollup_rows([(r[0], r[1], bool(r[5]), r[6]) for r in rows])
                await conn.executemany(_ROLLUP_ADD, rollup)  # in key order: no deadlock
            if cursor is not None:
                await self.storage.advance(conn, *cursor)

    async def _fetch(self, sql: str, *args: Any) -> list[Any]:
        with _db_errors("read"):
            rows: list[Any] = await self.storage.pool.fetch(sql, *args)
        return rows

    async def _execute(self, sql: str, *args: Any) -> str:
        with _db_errors("write"):
            status: str = await self.storage.pool.execute(sql, *args)
        return status

    async def has_tenant(self, tenant: str) -> bool:
        """True if the tenant has any temporal entity."""
        rows = await self._fetch(
            "SELECT 1 FROM temporal_entities WHERE tenant = $1 LIMIT 1", tenant
        )
        return bool(rows)

    async def entities(self, tenant: str, ids: Collection[str] | None) -> list[EntityRow]:
        """Temporal entity records, by id."""
        sql = "SELECT * FROM temporal_entities WHERE tenant = $1"
        args: list[Any] = [tenant]
        if ids is not None:
            sql += " AND id = ANY($2::text[])"
            args.append(list(ids))
        rows = await self._fetch(sql + ' ORDER BY id COLLATE "C"', *args)
        return [EntityRow(r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows]

    async def series(
        self, tenant: str, entity_ids: Sequence[str], attrs: Collection[str] | None
    ) -> list[Series]:
        """The series of some entities."""
        sql = (
            "SELECT sid, entity_id, attr, dataset, kind FROM temporal_series "
            "WHERE tenant = $1 AND entity_id = ANY($2::text[])"
        )
        args: list[Any] = [tenant, list(entity_ids)]
        if attrs is not None:
            sql += " AND attr = ANY($3::text[])"
            args.append(list(attrs))
        rows = await self._fetch(sql + " ORDER BY sid", *args)
        return [Series(*r) for r in rows]

    async def instances(
        self, sids: Sequence[int], tf: TimeFilter, limit: int, newest_first: bool
    ) -> dict[int, list[Stored]]:
        """Up to ``limit`` instances per series, oldest first (one LATERAL query)."""
        col = time_column(tf)
        clauses, params = time_where(tf)
        where = "".join(f" AND {c}" for c in clauses)
        order = "DESC" if newest_first else "ASC"
        sql = numbered(
            "SELECT s.sid, i.instance_id, i.t, i.doc FROM unnest(?::bigint[]) s(sid) "
            f"CROSS JOIN LATERAL (SELECT instance_id, {col} AS t, doc FROM temporal_instances "
            f"WHERE sid = s.sid{where} ORDER BY {col} {order} LIMIT ?) i"
        )
        rows = await self._fetch(sql, list(sids), *params, limit)
        out: dict[int, list[Stored]] = {sid: [] for sid in sids}
        for r in rows:
            out[r[0]].append(Stored(r[0], r[1], r[2], r[3]))
        if newest_first:
            for found in out.values():
                found.reverse()
        return out

    async def time_span(self, sids: Sequence[int], tf: TimeFilter) -> tuple[int, int] | None:
        """The earliest and latest time of the instances of ``sids`` within ``tf``."""
        col = time_column(tf)
        clauses, params = time_where(tf)
        where = "".join(f" AND {c}" for c in clauses)
        sql = numbered(
            f"SELECT min(lo), max(hi) FROM (SELECT "
            f"(SELECT min({col}) FROM temporal_instances WHERE sid = s.sid{where}) lo, "
            f"(SELECT max({col}) FROM temporal_instances WHERE sid = s.sid{where}) hi "
            "FROM unnest(?::bigint[]) s(sid)) x",
        )
        rows = await self._fetch(sql, *params, *params, list(sids))
        if rows[0][0] is None:
            return None
        return int(rows[0][0]), int(rows[0][1])

    async def aggregate(
        self, sids: Sequence[int], tf: TimeFilter, periods: Periods, methods: Sequence[str]
    ) -> dict[int, list[Bucket]]:
        """Aggregates per (series, period), grouped in SQL (from the hourly rollup when it
        answers the query)."""
        rollup = rollup_query(tf, periods, methods, "sid = ANY(?::bigint[])")
        if rollup is not None:
            sql, head, tail = rollup
            return _by_series(await self._fetch(numbered(sql), *head, list(sids), *tail))
        col = time_column(tf)
        bucket, bucket_params = period_sql(tf, periods)
        clauses, params = time_where(tf)
        where = "".join(f" AND {c}" for c in clauses)
        sql = numbered(
            f"SELECT sid, {bucket} AS b, {methods_sql(methods, _DISTINCT)} "
            "FROM temporal_instances WHERE sid = ANY(?::bigint[]) AND deleted = 0 "
            f"AND {col} >= ?{where} GROUP BY sid, b ORDER BY sid, b"
        )
        return _by_series(
            await self._fetch(sql, *bucket_params, list(sids), periods.origin, *params)
        )

    async def delete_entity(self, tenant: str, entity_id: str) -> bool:
        """Drop an entity's temporal record and history."""
        async with self.storage.transaction() as conn:
            for table in ("temporal_instances", "temporal_hourly"):
                await conn.execute(
                    f"DELETE FROM {table} WHERE sid IN (SELECT sid FROM temporal_series "
                    "WHERE tenant = $1 AND entity_id = $2)",
                    tenant,
                    entity_id,
                )
            await conn.execute(
                "DELETE FROM temporal_series WHERE tenant = $1 AND entity_id = $2",
                tenant,
                entity_id,
            )
            status: str = await conn.execute(
                "DELETE FROM temporal_entities WHERE tenant = $1 AND id = $2", tenant, entity_id
            )
        return status != "DELETE 0"

    async def delete_series(self, sids: Sequence[int]) -> None:
        """Drop series with their instances."""
        async with self.storage.transaction() as conn:
            for table in ("temporal_instances", "temporal_hourly", "temporal_series"):
                await conn.execute(f"DELETE FROM {table} WHERE sid = ANY($1)", list(sids))

    async def find_instance(self, sids: Sequence[int], instance_id: str) -> Stored | None:
        """One instance by instanceId (scans the series' instances)."""
        rows = await self._fetch(
            "SELECT sid, observed, doc FROM temporal_instances "
            "WHERE sid = ANY($1::bigint[]) AND instance_id = $2 LIMIT 1",
            list(sids),
            instance_id,
        )
        return Stored(rows[0][0], instance_id, rows[0][1], rows[0][2]) if rows else None

    async def replace_instance(
        self,
        stored: Stored,
        observed: int,
        modified: int,
        created: int,
        doc: dict[str, Any],
        num: float | None,
        val: str | None,
    ) -> None:
        """Replace one instance, keeping its series and instanceId."""
        async with self.storage.transaction() as conn:
            await conn.execute(
                "UPDATE temporal_instances SET observed = $4, modified = $5, created = $6, "
                "deleted = 0, num = $7, val = $8, doc = $9 "
                "WHERE sid = $1 AND observed = $2 AND instance_id = $3",
                stored.sid,
                stored.time,
                stored.instance_id,
                observed,
                modified,
                created,
                num,
                val,
                doc,
            )
            await _rebuild_at(conn, stored.sid, stored.time, observed)

    async def delete_instance(self, stored: Stored) -> None:
        """Delete one instance."""
        async with self.storage.transaction() as conn:
            await conn.execute(
                "DELETE FROM temporal_instances "
                "WHERE sid = $1 AND observed = $2 AND instance_id = $3",
                stored.sid,
                stored.time,
                stored.instance_id,
            )
            await _rebuild_at(conn, stored.sid, stored.time)

    async def touch(self, tenant: str, entity_id: str, at: str) -> None:
        """Set a temporal entity's modifiedAt."""
        await self._execute(
            "UPDATE temporal_entities SET modified_at = $3 WHERE tenant = $1 AND id = $2",
            tenant,
            entity_id,
            at,
        )

    async def prune(self, before: int) -> int:
        """Delete instances observed before ``before``, a slice of series per statement."""
        sids = [r[0] for r in await self._fetch("SELECT sid FROM temporal_series")]
        total = 0
        for start in range(0, len(sids), _PRUNE_SLICE):
            chunk = sids[start : start + _PRUNE_SLICE]
            async with self.storage.transaction() as conn:
                status = await conn.execute(
                    "DELETE FROM temporal_instances "
                    "WHERE sid = ANY($1::bigint[]) AND observed < $2",
                    chunk,
                    before,
                )
                await conn.execute(
                    "DELETE FROM temporal_hourly WHERE sid = ANY($1::bigint[]) AND hour < $2",
                    chunk,
                    before // HOUR,
                )
                for sid in chunk:  # the hour cut in two
                    await _rebuild_at(conn, sid, before)
            total += int(status.split()[-1])
        return total


def _by_series(rows: list[Any]) -> dict[int, list[Bucket]]:
    """Rows ordered by (sid, period) as lists per series."""
    out: dict[int, list[Bucket]] = {}
    for r in rows:
        out.setdefault(r[0], []).append(tuple(r))
    return out


async def _rebuild_at(conn: asyncpg.Connection, sid: int, *times: int) -> None:
    """Recount the rollup of the hours holding ``times`` of a series from its instances."""
    for hour in {t // HOUR for t in times if t >= 0}:
        await conn.execute(_ROLLUP_CLEAR, sid, hour, hour + 1)
        await conn.execute(_ROLLUP_REBUILD, sid, hour, hour + 1)
