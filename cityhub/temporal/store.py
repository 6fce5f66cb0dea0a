"""The temporal store Protocol, the SQL both backends share, and the backend for a Storage.

Tables (migrations ``0004_temporal.sql``): ``temporal_entities`` (one record per entity,
kept after the entity is deleted), ``temporal_series`` (one row per entity, attribute and
datasetId: the ``sid`` every instance refers to, so instance rows stay small) and
``temporal_instances`` (one row per instance, keyed and ordered by ``(sid, observed)``, so
``lastN`` and time-range reads of one attribute are one index range scan). Aggregations run in
SQL, grouped by period.
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
    ) -> list[Bucket]:
        """``methods`` over every (series, period) holding instances, grouped in SQL."""

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
