"""The temporal store on SQLite: writes join the storage's group commit, reads use its pool."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Collection, Sequence
from typing import Any

import orjson

from cityhub.storage.sqlite import SQLiteStorage
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

_UPSERT_ENTITY = (
    "INSERT INTO temporal_entities VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (tenant, id) DO UPDATE SET types = excluded.types, scope = excluded.scope, "
    "modified_at = excluded.modified_at, deleted_at = excluded.deleted_at"
)
_UPSERT_SERIES = (
    "INSERT INTO temporal_series (tenant, entity_id, attr, dataset, kind) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (tenant, entity_id, attr, dataset) DO UPDATE SET kind = excluded.kind"
)
_FIND_SERIES = "SELECT sid, entity_id, attr, dataset, kind FROM temporal_series WHERE tenant = ?"
_LOOKUP_SLICE = 500  # entity ids per series look-up
# an instance is written once: written again (the same id and time), it changes nothing
_INSERT_INSTANCE = "INSERT OR IGNORE INTO temporal_instances VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
_ROLLUP_ADD = ROLLUP_ADD.format(  # SQLite's min(a, b) is NULL when either is
    lo="min(coalesce(temporal_hourly.lo, excluded.lo), coalesce(excluded.lo, temporal_hourly.lo))",
    hi="max(coalesce(temporal_hourly.hi, excluded.hi), coalesce(excluded.hi, temporal_hourly.hi))",
)
_DISTINCT = "count(DISTINCT coalesce(val, num))"
_BySeries = dict[int, list[Bucket]]
_PARALLEL_MIN = 64  # series per reader thread before an aggregation is split
_PRUNE_SLICE = 200  # series per pruning transaction


def _marks(items: Sequence[Any]) -> str:
    return ",".join("?" * len(items))


def _per_series(
    sql: str, head: Sequence[Any], tail: Sequence[Any], sids: Sequence[int]
) -> Callable[[sqlite3.Connection], _BySeries]:
    """A reader running ``sql`` (its sid parameter between ``head`` and ``tail``) per series,
    keeping the series that have rows."""

    def run(conn: sqlite3.Connection) -> _BySeries:
        found = ((sid, conn.execute(sql, (*head, sid, *tail)).fetchall()) for sid in sids)
        return {sid: rows for sid, rows in found if rows}

    return run


_SeriesKey = tuple[str, str, str, str]  # tenant, entity id, attribute, datasetId


def _series_ids(conn: sqlite3.Connection, kinds: dict[_SeriesKey, str]) -> dict[_SeriesKey, int]:
    """The sids of the series of a batch, created where new: the series of its entities are
    read in bulk first (most writes add to existing series, and an upsert would rewrite their
    rows every time); the new ones (or those whose attribute type changed) are upserted in
    bulk and read back."""
    sids = _find_series(conn, kinds)
    new = [(*key, kind) for key, kind in kinds.items() if key not in sids]
    if new:
        conn.executemany(_UPSERT_SERIES, new)
        sids.update(_find_series(conn, {key: kinds[key] for key in (row[:4] for row in new)}))
    return sids


def _find_series(conn: sqlite3.Connection, kinds: dict[_SeriesKey, str]) -> dict[_SeriesKey, int]:
    """The stored series among ``kinds`` (with the same attribute type), read per entity."""
    by_tenant: dict[str, set[str]] = {}
    for tenant, entity_id, _, _ in kinds:
        by_tenant.setdefault(tenant, set()).add(entity_id)
    sids: dict[_SeriesKey, int] = {}
    for tenant, ids in by_tenant.items():
        ordered = sorted(ids)
        for start in range(0, len(ordered), _LOOKUP_SLICE):
            chunk = ordered[start : start + _LOOKUP_SLICE]
            for sid, entity_id, attr, dataset, kind in conn.execute(
                f"{_FIND_SERIES} AND entity_id IN ({_marks(chunk)})", (tenant, *chunk)
            ):
                key = (tenant, entity_id, attr, dataset)
                if kinds.get(key) == kind:
                    sids[key] = sid
    return sids


def _rebuild(conn: sqlite3.Connection, sid: int, first: int, end: int) -> None:
    """Recount the rollup of hours [first, end) of a series from its instances."""
    conn.execute(ROLLUP_CLEAR, (sid, first, end))
    conn.execute(ROLLUP_REBUILD, (sid, first, end))


def _rebuild_at(conn: sqlite3.Connection, sid: int, *times: int) -> None:
    for t in {t // HOUR for t in times if t >= 0}:
        _rebuild(conn, sid, t, t + 1)


class SQLiteTemporalStore:
    """Temporal rows in the hub's SQLite database."""

    def __init__(self, storage: SQLiteStorage, readers: int = 4) -> None:
        self.storage = storage
        self.readers = max(1, readers)

    async def write(self, batch: WriteBatch, cursor: Cursor | None = None) -> None:
        """Write the batch (and move ``cursor``) in the writer's next group."""

        def run(conn: sqlite3.Connection) -> None:
            conn.executemany(
                _UPSERT_ENTITY,
                [
                    (
                        tenant,
                        e.entity_id,
                        orjson.dumps(e.types),
                        orjson.dumps(e.scope) if e.scope is not None else None,
                        e.created_at,
                        e.modified_at,
                        e.deleted_at,
                    )
                    for tenant, e in batch.entities
                ],
            )
            sids = _series_ids(
                conn, {(t, r.entity_id, r.attr, r.dataset): r.kind for t, r in batch.instances}
            )
            rows = []
            for tenant, r in batch.instances:
                rows.append(
                    (
                        sids[(tenant, r.entity_id, r.attr, r.dataset)],
                        r.observed,
                        r.instance_id,
                        r.modified,
                        r.created,
                        int(r.deleted),
                        r.num,
                        r.val,
                        orjson.dumps(r.doc),
                    )
                )
            written = conn.executemany(_INSERT_INSTANCE, rows).rowcount
            rollup = rollup_rows([(r[0], r[1], bool(r[5]), r[6]) for r in rows])
            if written == len(rows):
                conn.executemany(_ROLLUP_ADD, rollup)
            else:  # some were there already: count from the instances
                for sid, hour, *_ in rollup:
                    _rebuild(conn, sid, hour, hour + 1)
            if cursor is not None:
                self.storage.advance(conn, *cursor)

        await self.storage.write(run)

    async def has_tenant(self, tenant: str) -> bool:
        """True if the tenant has any temporal entity."""

        def run(conn: sqlite3.Connection) -> bool:
            sql = "SELECT 1 FROM temporal_entities WHERE tenant = ? LIMIT 1"
            return conn.execute(sql, (tenant,)).fetchone() is not None

        found: bool = await self.storage.read(run)
        return found

    async def entities(self, tenant: str, ids: Collection[str] | None) -> list[EntityRow]:
        """Temporal entity records, by id."""

        def run(conn: sqlite3.Connection) -> list[EntityRow]:
            sql = "SELECT * FROM temporal_entities WHERE tenant = ?"
            params: list[Any] = [tenant]
            if ids is not None:
                sql += f" AND id IN ({_marks(list(ids))})"
                params.extend(ids)
            rows = conn.execute(sql + " ORDER BY id", params).fetchall()
            return [
                EntityRow(r[1], orjson.loads(r[2]), orjson.loads(r[3]) if r[3] else None, *r[4:])
                for r in rows
            ]

        found: list[EntityRow] = await self.storage.read(run)
        return found

    async def series(
        self, tenant: str, entity_ids: Sequence[str], attrs: Collection[str] | None
    ) -> list[Series]:
        """The series of some entities."""

        def run(conn: sqlite3.Connection) -> list[Series]:
            out: list[Series] = []
            for start in range(0, len(entity_ids), 500):
                chunk = list(entity_ids[start : start + 500])
                sql = (
                    "SELECT sid, entity_id, attr, dataset, kind FROM temporal_series "
                    f"WHERE tenant = ? AND entity_id IN ({_marks(chunk)})"
                )
                params: list[Any] = [tenant, *chunk]
                if attrs is not None:
                    sql += f" AND attr IN ({_marks(list(attrs))})"
                    params.extend(attrs)
                out.extend(Series(*r) for r in conn.execute(sql + " ORDER BY sid", params))
            return out

        found: list[Series] = await self.storage.read(run)
        return found

    async def instances(
        self, sids: Sequence[int], tf: TimeFilter, limit: int, newest_first: bool
    ) -> dict[int, list[Stored]]:
        """Up to ``limit`` instances per series, oldest first."""
        col = time_column(tf)
        clauses, params = time_where(tf)
        where = "".join(f" AND {c}" for c in clauses)
        order = "DESC" if newest_first else "ASC"
        sql = (
            f"SELECT instance_id, {col}, doc FROM temporal_instances WHERE sid = ?{where} "
            f"ORDER BY {col} {order} LIMIT ?"
        )

        def run(conn: sqlite3.Connection) -> dict[int, list[Stored]]:
            out: dict[int, list[Stored]] = {}
            for sid in sids:
                rows = conn.execute(sql, (sid, *params, limit)).fetchall()
                if newest_first:
                    rows.reverse()
                out[sid] = [Stored(sid, r[0], r[1], orjson.loads(r[2])) for r in rows]
            return out

        found: dict[int, list[Stored]] = await self.storage.read(run)
        return found

    async def time_span(self, sids: Sequence[int], tf: TimeFilter) -> tuple[int, int] | None:
        """The earliest and latest time of the instances of ``sids`` within ``tf``."""
        col = time_column(tf)
        clauses, params = time_where(tf)
        where = "".join(f" AND {c}" for c in clauses)
        # two subqueries: SQLite answers a lone min() or max() from the index, not both
        one = "SELECT {}(" + col + ") FROM temporal_instances WHERE sid = ?" + where
        sql = f"SELECT ({one.format('min')}), ({one.format('max')})"

        def run(conn: sqlite3.Connection) -> tuple[int, int] | None:
            spans = [conn.execute(sql, (sid, *params, sid, *params)).fetchone() for sid in sids]
            present = [s for s in spans if s[0] is not None]
            if not present:
                return None
            return min(s[0] for s in present), max(s[1] for s in present)

        found: tuple[int, int] | None = await self.storage.read(run)
        return found

    async def aggregate(
        self, sids: Sequence[int], tf: TimeFilter, periods: Periods, methods: Sequence[str]
    ) -> dict[int, list[Bucket]]:
        """Aggregates per (series, period), grouped in SQL (from the hourly rollup when it
        answers the query)."""
        rollup = rollup_query(tf, periods, methods, "sid = ?")
        if rollup is not None:
            sql, head, tail = rollup
            # one thread: reading rollup rows is mostly building Python tuples, which holds
            # the GIL, so more threads only fight over it
            rolled: _BySeries = await self.storage.read(_per_series(sql, head, tail, sids))
            return rolled
        col = time_column(tf)
        bucket, bucket_params = period_sql(tf, periods)
        clauses, params = time_where(tf)
        clauses.append(f"{col} >= ?")
        params.append(periods.origin)
        where = "".join(f" AND {c}" for c in clauses)
        sql = (
            f"SELECT sid, {bucket} AS b, {methods_sql(methods, _DISTINCT)} "
            f"FROM temporal_instances WHERE sid = ? AND deleted = 0{where} GROUP BY b ORDER BY b"
        )

        return await self._spread(sids, lambda part: _per_series(sql, bucket_params, params, part))

    async def _spread(
        self,
        sids: Sequence[int],
        reader: Callable[[Sequence[int]], Callable[[sqlite3.Connection], _BySeries]],
    ) -> _BySeries:
        """Many series: read them on several reader threads (SQLite runs without the GIL)."""
        size = max(_PARALLEL_MIN, -(-len(sids) // self.readers))
        parts = [sids[i : i + size] for i in range(0, len(sids), size)]
        found: list[_BySeries] = await asyncio.gather(
            *(self.storage.read(reader(part)) for part in parts)
        )
        return {sid: rows for part in found for sid, rows in part.items()}

    async def delete_entity(self, tenant: str, entity_id: str) -> bool:
        """Drop an entity's temporal record and history."""

        def run(conn: sqlite3.Connection) -> bool:
            for table in ("temporal_instances", "temporal_hourly"):
                conn.execute(
                    f"DELETE FROM {table} WHERE sid IN (SELECT sid FROM temporal_series "
                    "WHERE tenant = ? AND entity_id = ?)",
                    (tenant, entity_id),
                )
            conn.execute(
                "DELETE FROM temporal_series WHERE tenant = ? AND entity_id = ?",
                (tenant, entity_id),
            )
            sql = "DELETE FROM temporal_entities WHERE tenant = ? AND id = ?"
            return conn.execute(sql, (tenant, entity_id)).rowcount > 0

        done: bool = await self.storage.write(run)
        return done

    async def delete_series(self, sids: Sequence[int]) -> None:
        """Drop series with their instances."""

        def run(conn: sqlite3.Connection) -> None:
            for table in ("temporal_instances", "temporal_hourly", "temporal_series"):
                conn.executemany(f"DELETE FROM {table} WHERE sid = ?", [(s,) for s in sids])

        await self.storage.write(run)

    async def find_instance(self, sids: Sequence[int], instance_id: str) -> Stored | None:
        """One instance by instanceId (scans the series' instances)."""

        def run(conn: sqlite3.Connection) -> Stored | None:
            for sid in sids:
                row = conn.execute(
                    "SELECT observed, doc FROM temporal_instances "
                    "WHERE sid = ? AND instance_id = ?",
                    (sid, instance_id),
                ).fetchone()
                if row is not None:
                    return Stored(sid, instance_id, row[0], orjson.loads(row[1]))
            return None

        found: Stored | None = await self.storage.read(run)
        return found

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
        """Replace one instance (its time may change: delete, then insert)."""

        def run(conn: sqlite3.Connection) -> None:
            self._delete(conn, stored)
            conn.execute(
                _INSERT_INSTANCE,
                (
                    stored.sid,
                    observed,
                    stored.instance_id,
                    modified,
                    created,
                    0,
                    num,
                    val,
                    orjson.dumps(doc),
                ),
            )
            _rebuild_at(conn, stored.sid, stored.time, observed)

        await self.storage.write(run)

    @staticmethod
    def _delete(conn: sqlite3.Connection, stored: Stored) -> None:
        conn.execute(
            "DELETE FROM temporal_instances WHERE sid = ? AND observed = ? AND instance_id = ?",
            (stored.sid, stored.time, stored.instance_id),
        )

    async def delete_instance(self, stored: Stored) -> None:
        """Delete one instance."""

        def run(conn: sqlite3.Connection) -> None:
            self._delete(conn, stored)
            _rebuild_at(conn, stored.sid, stored.time)

        await self.storage.write(run)

    async def touch(self, tenant: str, entity_id: str, at: str) -> None:
        """Set a temporal entity's modifiedAt."""

        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE temporal_entities SET modified_at = ? WHERE tenant = ? AND id = ?",
                (at, tenant, entity_id),
            )

        await self.storage.write(run)

    async def prune(self, before: int) -> int:
        """Delete instances observed before ``before``: a range delete per series, a slice of
        series per transaction so writes keep flowing."""

        def all_sids(conn: sqlite3.Connection) -> list[int]:
            return [r[0] for r in conn.execute("SELECT sid FROM temporal_series")]

        sids: list[int] = await self.storage.read(all_sids)
        total = 0
        for start in range(0, len(sids), _PRUNE_SLICE):
            chunk = sids[start : start + _PRUNE_SLICE]

            def run(conn: sqlite3.Connection, chunk: list[int] = chunk) -> int:
                sql = "DELETE FROM temporal_instances WHERE sid = ? AND observed < ?"
                pruned = sum(conn.execute(sql, (sid, before)).rowcount for sid in chunk)
                hours = "DELETE FROM temporal_hourly WHERE sid = ? AND hour < ?"
                conn.executemany(hours, [(sid, before // HOUR) for sid in chunk])
                for sid in chunk:  # the hour cut in two
                    _rebuild_at(conn, sid, before)
                return pruned

            done: int = await self.storage.write(run)
            total += done
        return total
