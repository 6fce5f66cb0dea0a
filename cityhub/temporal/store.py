"""The temporal store Protocol, the SQL both backends share, and the backend for a Storage.

Tables (migrations ``0004_temporal.sql``): ``temporal_entities`` (one record per entity,
kept after the entity is deleted), ``temporal_series`` (one row per entity, attribute and
datasetId: the ``sid`` every instance refers to, so instance rows stay small) and
``temporal_instances`` (one row per instance, keyed and ordered by ``(sid, observed)``, so
``lastN`` and time-range reads of one attribute are one index range scan). Aggregations run in
SQL, grouped by period.

``temporal_hourly`` (migrations ``0005_temporal_hourly.sql``) keeps, per series and hour of
``observedAt``, the count, numeric count, sum, sum of squares, min and max of its live
instances, updated in the transaction that writes or deletes them. An aggregation by
``observedAt`` whose periods and time range fall on whole hours (``PT1H``, ``PT6H``, ``P1D``...
from an hour boundary) and that does not ask for ``distinctCount`` reads those rows: one per
hour instead of every instance, so a month of hourly averages of a thousand meters reads 720
thousand rows however dense their history. Anything else reads the instances.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from cityhub.storage.base import Storage
from cityhub.temporal.model import (
    CREATED_AT,
    DELETED_AT,
    MODIFIED_AT,
    OBSERVED_AT,
    Bucket,
    EntityRow,
    Series,
    TimeFilter,
    WriteBatch,
)

Cursor = tuple[str, int, int]  # change-log consumer name, old and new position


@dataclass(slots=True)
class Stored:
    """One instance read back: its series, id, time (of the requested property) and JSON."""

    sid: int
    instance_id: str
    time: int
    doc: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Periods:
    """How instances fall into aggregation periods: fixed ``width`` µs from ``origin``, or
    calendar ``bounds`` (period i is [bounds[i], bounds[i+1]))."""

    origin: int
    width: int | None = None
    bounds: tuple[int, ...] = ()


class TemporalStore(Protocol):
    """What the temporal API needs from a database."""

    async def write(self, batch: WriteBatch, cursor: Cursor | None = None) -> None:
        """Write entity records and instances (and move a consumer's cursor) atomically."""

    async def has_tenant(self, tenant: str) -> bool:
        """True if the tenant has any temporal entity."""

    async def entities(self, tenant: str, ids: Collection[str] | None) -> list[EntityRow]:
        """Temporal entity records (all of the tenant, or those of ``ids``), by id."""

    async def series(
        self, tenant: str, entity_ids: Sequence[str], attrs: Collection[str] | None
    ) -> list[Series]:
        """The series of some entities (all attributes, or those of ``attrs``)."""

    async def instances(
        self, sids: Sequence[int], tf: TimeFilter, limit: int, newest_first: bool
    ) -> dict[int, list[Stored]]:
        """Up to ``limit`` instances of each series within ``tf``, in time order (oldest
        first; with ``newest_first`` the newest ``limit`` ones, still returned oldest first)."""

    async def time_span(self, sids: Sequence[int], tf: TimeFilter) -> tuple[int, int] | None:
        """The earliest and latest time of the instances of ``sids`` within ``tf``."""

    async def aggregate(
        self, sids: Sequence[int], tf: TimeFilter, periods: Periods, methods: Sequence[str]
    ) -> dict[int, list[Bucket]]:
        """``methods`` over every (series, period) holding instances, grouped in SQL: by
        series, its periods in order."""

    async def delete_entity(self, tenant: str, entity_id: str) -> bool:
        """Drop an entity's temporal record and whole history; False if it had none."""

    async def delete_series(self, sids: Sequence[int]) -> None:
        """Drop some series with their instances."""

    async def find_instance(self, sids: Sequence[int], instance_id: str) -> Stored | None:
        """One instance of some series by instanceId (time: observed)."""

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

    async def delete_instance(self, stored: Stored) -> None:
        """Delete one instance."""

    async def touch(self, tenant: str, entity_id: str, at: str) -> None:
        """Set a temporal entity's modifiedAt."""

    async def prune(self, before: int) -> int:
        """Delete instances observed before ``before`` (µs); returns how many."""


TIME_COLUMN = {DELETED_AT: "observed", MODIFIED_AT: "modified", CREATED_AT: "created"}

HOUR = 3_600_000_000  # µs
#: aggregation method -> SQL over the temporal_hourly rows of one period (as METHOD_SQL)
ROLLUP_SQL = {
    "totalCount": "CAST(sum(cnt) AS BIGINT)",
    "sum": "CASE WHEN sum(n) > 0 THEN sum(total) END",
    "avg": "sum(total) / CAST(NULLIF(sum(n), 0) AS DOUBLE PRECISION)",
    "min": "min(lo)",
    "max": "max(hi)",
    "sumsq": "CASE WHEN sum(n) > 0 THEN sum(sumsq) END",
    "stddev": (
        "CASE WHEN sum(n) = 1 THEN 0.0 WHEN sum(n) > 1 THEN (sum(sumsq) - sum(total) * "
        "sum(total) / CAST(sum(n) AS DOUBLE PRECISION)) / CAST(sum(n) - 1 AS DOUBLE PRECISION) "
        "END"
    ),
}
#: the same over one row (one hour)
_ROW_SQL = {
    "totalCount": "cnt",
    "sum": "CASE WHEN n > 0 THEN total END",
    "avg": "total / CAST(NULLIF(n, 0) AS DOUBLE PRECISION)",
    "min": "lo",
    "max": "hi",
    "sumsq": "CASE WHEN n > 0 THEN sumsq END",
    "stddev": (
        "CASE WHEN n = 1 THEN 0.0 WHEN n > 1 THEN (sumsq - total * total / "
        "CAST(n AS DOUBLE PRECISION)) / CAST(n - 1 AS DOUBLE PRECISION) END"
    ),
}
#: the rollup rows of one series' hours [?, ?) rebuilt from its instances (after a delete)
ROLLUP_CLEAR = "DELETE FROM temporal_hourly WHERE sid = ? AND hour >= ? AND hour < ?"
ROLLUP_REBUILD = (
    f"INSERT INTO temporal_hourly SELECT sid, observed / {HOUR}, count(*), count(num), "
    "coalesce(sum(num), 0), coalesce(sum(num * num), 0), min(num), max(num) "
    f"FROM temporal_instances WHERE sid = ? AND deleted = 0 AND observed >= ? * {HOUR} "
    f"AND observed < ? * {HOUR} GROUP BY sid, observed / {HOUR}"
)
#: add one batch's (sid, hour, cnt, n, total, sumsq, lo, hi) to the rollup; {lo} and {hi}: the
#: dialect's NULL-ignoring least and greatest of ``temporal_hourly.x`` and ``excluded.x``
ROLLUP_ADD = (
    "INSERT INTO temporal_hourly VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sid, hour) "
    "DO UPDATE SET cnt = temporal_hourly.cnt + excluded.cnt, n = temporal_hourly.n + excluded.n, "
    "total = temporal_hourly.total + excluded.total, "
    "sumsq = temporal_hourly.sumsq + excluded.sumsq, lo = {lo}, hi = {hi}"
)

Rollup = tuple[int, int, int, int, float, float, float | None, float | None]


def rollup_rows(rows: Sequence[tuple[int, int, bool, float | None]]) -> list[Rollup]:
    """What (sid, observed, deleted, num) instance rows add to temporal_hourly, in key order."""
    acc: dict[tuple[int, int], list[Any]] = {}
    for sid, observed, deleted, num in rows:
        if deleted or observed < 0:  # no hour before 1970: those read the instances
            continue
        key = (sid, observed // HOUR)
        a = acc.get(key)
        if a is None:
            a = acc[key] = [0, 0, 0.0, 0.0, None, None]
        a[0] += 1
        if num is not None:
            a[1] += 1
            a[2] += num
            a[3] += num * num
            a[4] = num if a[4] is None else min(a[4], num)
            a[5] = num if a[5] is None else max(a[5], num)
    return [(*key, *a) for key, a in sorted(acc.items())]


def rollup_query(
    tf: TimeFilter, periods: Periods, methods: Sequence[str], sids: str
) -> tuple[str, list[Any], list[Any]] | None:
    """The SQL (``?`` placeholders; ``sids``, a condition selecting the series) reading an
    aggregation from temporal_hourly, with the parameters before and after those of ``sids``,
    when those rows answer it exactly; else None."""
    width = periods.width
    if (
        tf.timeproperty != OBSERVED_AT
        or width is None
        or width % HOUR
        or periods.origin % HOUR
        or periods.origin < 0
        or not all(m in ROLLUP_SQL for m in methods)
        or any(t is not None and t % HOUR for t in (tf.low, tf.high))
    ):
        return None
    select = ", ".join(ROLLUP_SQL[m] for m in methods)
    where = f"{sids} AND hour >= ?" + (" AND hour < ?" if tf.high is not None else "")
    if width == HOUR:  # a period per row: nothing to group
        select = ", ".join(_ROW_SQL[m] for m in methods)
        sql = (
            "SELECT sid, hour - CAST(? AS BIGINT) AS b, "
            f"{select} FROM temporal_hourly WHERE {where} ORDER BY sid, hour"
        )
    else:
        sql = (
            "SELECT sid, (hour - CAST(? AS BIGINT)) / CAST(? AS BIGINT) AS b, "
            f"{select} FROM temporal_hourly WHERE {where} GROUP BY sid, b ORDER BY sid, b"
        )
    first = max(periods.origin, tf.low or 0) // HOUR
    params: list[Any] = [first] + ([tf.high // HOUR] if tf.high is not None else [])
    head = [periods.origin // HOUR] + ([width // HOUR] if width != HOUR else [])
    return sql, head, params


def time_column(tf: TimeFilter) -> str:
    """The instance column holding ``tf``'s temporal property."""
    return TIME_COLUMN.get(tf.timeproperty, "observed")


def time_where(tf: TimeFilter) -> tuple[list[str], list[Any]]:
    """WHERE conditions (``?`` placeholders) selecting the instances inside ``tf``."""
    col = time_column(tf)
    clauses: list[str] = []
    params: list[Any] = []
    if tf.timeproperty == DELETED_AT:
        clauses.append("deleted <> 0")
    if tf.low is not None:
        clauses.append(f"{col} >= ?")
        params.append(tf.low)
    if tf.high is not None:
        clauses.append(f"{col} < ?")
        params.append(tf.high)
    return clauses, params


def period_sql(tf: TimeFilter, periods: Periods) -> tuple[str, list[Any]]:
    """The SQL expression numbering the period an instance falls in (0 = the first)."""
    col = time_column(tf)
    if periods.width is None and len(periods.bounds) <= 2:
        return "0", []  # one period spanning the whole range
    if periods.width is not None:
        return f"(({col} - CAST(? AS BIGINT)) / CAST(? AS BIGINT))", [
            periods.origin,
            periods.width,
        ]
    cases = " ".join(f"WHEN {col} < ? THEN {i}" for i in range(len(periods.bounds) - 1))
    return f"(CASE {cases} ELSE {len(periods.bounds) - 1} END)", list(periods.bounds[1:])


#: aggregation method -> SQL over the instances of one period ({distinct}: the dialect's
#: distinct-value count); stddev is the sample variance here, its root taken by the caller
METHOD_SQL = {
    "totalCount": "count(*)",
    "distinctCount": "{distinct}",
    "sum": "sum(num)",
    "avg": "avg(num)",
    "min": "min(num)",
    "max": "max(num)",
    "sumsq": "sum(num * num)",
    "stddev": (
        "CASE WHEN count(num) = 1 THEN 0.0 WHEN count(num) > 1 THEN "
        "(sum(num * num) - sum(num) * sum(num) / count(num)) / (count(num) - 1) END"
    ),
}


def methods_sql(methods: Sequence[str], distinct: str) -> str:
    """The select list computing ``methods`` in order."""
    return ", ".join(METHOD_SQL[m].format(distinct=distinct) for m in methods)


def store_for(storage: Storage, readers: int = 4) -> TemporalStore:
    """The temporal store living in the same database as ``storage`` (``readers``: SQLite
    reader threads an aggregation may spread over)."""
    from cityhub.storage.sqlite import SQLiteStorage

    if isinstance(storage, SQLiteStorage):
        from cityhub.temporal.sqlite_store import SQLiteTemporalStore

        return SQLiteTemporalStore(storage, readers)
    from cityhub.storage.postgres import PostgresStorage

    if isinstance(storage, PostgresStorage):
        from cityhub.temporal.pg_store import PostgresTemporalStore

        return PostgresTemporalStore(storage)
    raise TypeError(f"no temporal store for {type(storage).__name__}")
