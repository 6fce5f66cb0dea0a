"""The temporal service: reads (instances, cuts, aggregation periods) and temporal writes.

Reads wait until the recorder has handled every change this process has published, so a
temporal read right after a write sees it. A response holds at most
``temporal_max_instances`` instances per attribute; a longer history is cut at one instant for
every attribute (forwards, or backwards with ``lastN``), and the route answers 206 with a
``Content-Range: date-time <start>-<end>/<size>`` header (GS CIM 009 clause 6.3.10).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cityhub.auth import limits
from cityhub.bus import Change, ChangeBus
from cityhub.bus.feed import ChangeFeed
from cityhub.errors import BadRequestData, NonexistentTenant, ResourceNotFound
from cityhub.ngsild import query as qlang
from cityhub.ngsild.filters import EntityQuery, entity_matches, types_match
from cityhub.storage.base import Storage
from cityhub.temporal.model import (
    AFTER,
    BEFORE,
    BETWEEN,
    DELETED_AT,
    EntityRow,
    InstanceRow,
    Series,
    TimeFilter,
    WriteBatch,
    add_months,
    iso,
    to_micros,
)
from cityhub.temporal.params import AGGREGATED, TemporalQuery
from cityhub.temporal.recorder import rows_of
from cityhub.temporal.render import PeriodOf, TemporalEntity
from cityhub.temporal.store import Cursor, Periods, Stored, TemporalStore

log = logging.getLogger(__name__)

FEED = "temporal"
_MAX_PERIODS = 100_000  # calendar periods (P1M...) one aggregation may span
_SETTLE_S = 2.0  # longest a read waits for the recorder to catch up
_LAST_TIMES = 100_000  # series whose latest instance time is remembered
_ALL = 2**62  # "no limit" for a store read of instances


@dataclass(slots=True)
class TemporalResult:
    """Entities with their history, how periods map to times, and the cut if any."""

    entities: list[TemporalEntity] = field(default_factory=list)
    period_of: PeriodOf | None = None
    content_range: str | None = None
    count: int | None = None


class TemporalService:
    """The temporal API over one :class:`TemporalStore`."""

    def __init__(self, store: TemporalStore, storage: Storage, max_instances: int) -> None:
        self.store = store
        self.storage = storage
        self.max_instances = max(1, max_instances)
        self.feed: ChangeFeed | None = None
        self._published = 0  # highest change seq published in this process
        self._last_time: dict[tuple[str, str, str, str], int] = {}  # series -> latest µs

    # --- recording ----------------------------------------------------------------------

    def watch(self, bus: ChangeBus) -> None:
        """Remember the latest change published, to wait for it before reading."""

        def seen(changes: Sequence[Change]) -> None:
            self._published = max(self._published, max(c.seq for c in changes))

        bus.subscribe(seen)

    async def record(self, changes: list[Change], old: int, new: int) -> None:
        """The change-log consumer: the changes' rows and the cursor, in one transaction."""
        cursor: Cursor = (FEED, old, new)
        batch = rows_of(changes)
        self._in_order(batch)
        await self.store.write(batch, cursor)

    def _in_order(self, batch: WriteBatch) -> None:
        """Keep instances timed by their write (no observedAt) in the order of the writes:
        times are kept to the millisecond, so two writes of an attribute within one would tie
        and ``lastN`` could answer the older; the later one goes 1 µs after the earlier."""
        last = self._last_time
        if len(last) > _LAST_TIMES:
            last.clear()
        for tenant, row in batch.instances:
            if "observedAt" in row.doc:
                continue
            key = (tenant, row.entity_id, row.attr, row.dataset)
            before = last.get(key)
            if before is not None and row.observed <= before:
                row.observed = before + 1
            last[key] = row.observed

    async def settle(self) -> None:
        """Wait (briefly) until every change published here is recorded."""
        if self.feed is not None and self.feed.cursor < self._published:
            await self.feed.caught_up(self._published, within_s=_SETTLE_S)

    async def check_tenant(self, tenant: str) -> None:
        """NonexistentTenant for a tenant with neither entities nor temporal data."""
        if tenant and not (
            await self.storage.tenant_exists(tenant) or await self.store.has_tenant(tenant)
        ):
            raise NonexistentTenant(f"tenant {tenant!r} does not exist")

    # --- reads --------------------------------------------------------------------------

    async def retrieve(self, tenant: str, entity_id: str, query: TemporalQuery) -> TemporalResult:
        """One entity's temporal representation (ResourceNotFound if it has none)."""
        await self.settle()
        await self.check_tenant(tenant)
        limit = limits.current()
        rows = [r for r in await self.store.entities(tenant, [entity_id]) if _may_see(r, limit)]
        if not rows:
            raise ResourceNotFound(f"no temporal representation of entity {entity_id}")
        return await self._read(tenant, rows, query)

    async def query(self, tenant: str, query: TemporalQuery) -> TemporalResult:
        """The temporal representations of the entities a query selects, one page."""
        await self.settle()
        await self.check_tenant(tenant)
        limit = limits.current()
        rows = [
            r
            for r in await self.store.entities(tenant, query.ids)
            if _selected(r, query) and _may_see(r, limit)
        ]
        if query.attrs is not None:
            series = await self.store.series(tenant, [r.entity_id for r in rows], query.attrs)
            having = {s.entity_id for s in series}
            rows = [r for r in rows if r.entity_id in having]
        q_attrs: dict[str, dict[str, list[Any]]] = {}
        if query.q is not None or query.scope_q is not None:
            rows, q_attrs = await self._filter(tenant, rows, query)
        page = rows[query.offset : query.offset + query.limit]
        result = await self._read(tenant, page, query, q_attrs) if page else TemporalResult()
        result.count = len(rows) if query.count else None
        return result

    async def _filter(
        self, tenant: str, rows: list[EntityRow], query: TemporalQuery
    ) -> tuple[list[EntityRow], dict[str, dict[str, list[Any]]]]:
        """The rows whose scope matches ``scopeQ`` and whose instances within the time filter
        match ``q`` (clause 5.7.4.4: each comparison holds for some instance of its
        attribute in the interval); with each entity's instances of the attributes ``q``
        names, by attribute."""
        names = sorted(qlang.attribute_names(query.q)) if query.q is not None else []
        ids = [r.entity_id for r in rows]
        series = await self.store.series(tenant, ids, names) if names and ids else []
        found = (
            await self.store.instances([s.sid for s in series], query.tf, _ALL, False)
            if series
            else {}
        )
        q_attrs: dict[str, dict[str, list[Any]]] = {}
        for s in series:
            docs = [i.doc for i in found.get(s.sid, []) if DELETED_AT not in i.doc]
            q_attrs.setdefault(s.entity_id, {}).setdefault(s.attr, []).extend(docs)
        test = EntityQuery(q=query.q, scope_q=query.scope_q)
        kept = [r for r in rows if entity_matches(test, _as_entity(r, q_attrs.get(r.entity_id)))]
        return kept, q_attrs

    async def _read(
        self,
        tenant: str,
        rows: list[EntityRow],
        query: TemporalQuery,
        q_attrs: dict[str, dict[str, list[Any]]] | None = None,
    ) -> TemporalResult:
        ids = [r.entity_id for r in rows]
        tenant_series = await self.store.series(tenant, ids, query.attrs) if ids else []
        sids = [s.sid for s in tenant_series]
        result = TemporalResult()
        if query.fmt == AGGREGATED:
            buckets, result.period_of = await self._aggregate(sids, query.tf, query)
            by_entity: dict[str, list[tuple[Series, list[Stored]]]] = {}
            for s in tenant_series:
                by_entity.setdefault(s.entity_id, []).append((s, []))
            result.entities = [
                TemporalEntity(r, by_entity.get(r.entity_id, []), buckets) for r in rows
            ]
            return result
        if query.q is not None and query.last_n is not None:
            # q picks instances, then lastN the latest of them: read the newest page, filter
            wide = dataclasses.replace(query, last_n=max(query.last_n, self.max_instances))
            found, result.content_range = await self._instances(sids, wide)
            _keep_matching(query.q, rows, tenant_series, found, q_attrs or {})
            found = {sid: stored[-query.last_n :] for sid, stored in found.items()}
        else:
            found, result.content_range = await self._instances(sids, query)
            if query.q is not None:
                _keep_matching(query.q, rows, tenant_series, found, q_attrs or {})
        by_entity = {}
        for s in tenant_series:
            by_entity.setdefault(s.entity_id, []).append((s, found.get(s.sid, [])))
        result.entities = [TemporalEntity(r, by_entity.get(r.entity_id, []), {}) for r in rows]
        return result

    async def _instances(
        self, sids: list[int], query: TemporalQuery
    ) -> tuple[dict[int, list[Stored]], str | None]:
        """Instances per series, cut to the page size at one instant; the Content-Range."""
        backwards = query.last_n is not None
        cap = self.max_instances
        if query.last_n is not None and query.last_n <= cap:
            # lastN asks for a shorter history than a page holds: nothing is ever cut
            return await self.store.instances(sids, query.tf, query.last_n, True), None
        found = await self.store.instances(sids, query.tf, cap + 1, backwards)
        cut = [stored for stored in found.values() if len(stored) > cap]
        if not cut:
            return found, None
        if backwards:
            # keep the newest ``cap`` of each cut series; every series from that instant on
            edge = max(stored[-cap].time for stored in cut)
            kept = {sid: [i for i in stored if i.time >= edge] for sid, stored in found.items()}
        else:
            edge = min(stored[cap - 1].time for stored in cut)
            kept = {sid: [i for i in stored if i.time <= edge] for sid, stored in found.items()}
        times = [i.time for stored in kept.values() for i in stored]
        return kept, _content_range(query, min(times), max(times))

    async def _aggregate(
        self, sids: list[int], tf: TimeFilter, query: TemporalQuery
    ) -> tuple[dict[int, list[Any]], PeriodOf]:
        """Aggregates per series and period (SQL), and the times of each period."""
        span = await self.store.time_span(sids, tf) if sids else None
        if span is None:
            return {}, lambda i: (iso(0), iso(0))
        first, last = span
        origin = tf.time_at if tf.timerel in (AFTER, BETWEEN) and tf.time_at is not None else first
        end = tf.high if tf.high is not None else last + 1
        period = query.period
        if period.zero:
            periods = Periods(origin, bounds=(origin, end))
        elif period.months == 0:
            periods = Periods(origin, width=period.micros)
        else:
            bounds = [origin]
            while bounds[-1] < end:
                if len(bounds) > _MAX_PERIODS:
                    raise BadRequestData("aggrPeriodDuration is too short for the time range")
                bounds.append(add_months(bounds[-1], period.months) + period.micros)
            periods = Periods(origin, bounds=tuple(bounds))
        found = await self.store.aggregate(sids, tf, periods, query.methods)
        return found, _period_function(periods, last)

    # --- writes -------------------------------------------------------------------------

    async def entity(self, tenant: str, entity_id: str) -> EntityRow:
        """A temporal entity record, or ResourceNotFound."""
        limit = limits.current()
        rows = [r for r in await self.store.entities(tenant, [entity_id]) if _may_see(r, limit)]
        if not rows:
            raise ResourceNotFound(f"no temporal representation of entity {entity_id}")
        return rows[0]

    async def upsert(self, tenant: str, row: EntityRow, instances: list[InstanceRow]) -> bool:
        """Create a temporal entity or add to it; True if it was created."""
        existing = await self.store.entities(tenant, [row.entity_id])
        if existing:
            old = existing[0]
            row.created_at = old.created_at
            row.types = list(dict.fromkeys([*old.types, *row.types]))
            if row.scope is None:
                row.scope = old.scope
        await self.store.write(WriteBatch([(tenant, row)], [(tenant, i) for i in instances]))
        return not existing

    async def append(self, tenant: str, entity_id: str, instances: list[InstanceRow]) -> None:
        """Add instances to an existing temporal entity."""
        row = await self.entity(tenant, entity_id)
        row.modified_at = now_iso()
        await self.store.write(WriteBatch([(tenant, row)], [(tenant, i) for i in instances]))

    async def series_of(self, tenant: str, entity_id: str, attr: str) -> list[Series]:
        """The series of one attribute of an existing temporal entity (404 if none)."""
        await self.entity(tenant, entity_id)
        series = await self.store.series(tenant, [entity_id], [attr])
        if not series:
            raise ResourceNotFound(f"entity {entity_id} has no history of attribute {attr}")
        return series


def now_iso() -> str:
    """The current time as an NGSI-LD DateTime."""
    return iso(to_micros(datetime.now(UTC)) // 1000 * 1000)


def _as_entity(row: EntityRow, attrs: dict[str, list[Any]] | None) -> dict[str, Any]:
    """A temporal entity as the query language sees a stored entity."""
    return {"id": row.entity_id, "type": row.types, "scope": row.scope, "attrs": attrs or {}}


def _keep_matching(
    q: qlang.QExpr,
    rows: list[EntityRow],
    series: list[Series],
    found: dict[int, list[Stored]],
    q_attrs: dict[str, dict[str, list[Any]]],
) -> None:
    """Keep, of the attributes ``q`` names, the instances with which ``q`` holds (the
    entity's other attributes standing as in :meth:`TemporalService._filter`)."""
    names = qlang.attribute_names(q)
    by_id = {r.entity_id: r for r in rows}
    test = EntityQuery(q=q)
    for s in series:
        if s.attr not in names or s.sid not in found or s.entity_id not in by_id:
            continue
        row, others = by_id[s.entity_id], q_attrs.get(s.entity_id, {})
        found[s.sid] = [
            i
            for i in found[s.sid]
            if DELETED_AT not in i.doc
            and entity_matches(test, _as_entity(row, {**others, s.attr: [i.doc]}))
        ]


def _may_see(row: EntityRow, limit: frozenset[str] | None) -> bool:
    return limits.visible(row.types, limit)


def _selected(row: EntityRow, query: TemporalQuery) -> bool:
    if query.types is not None and not types_match(query.types, row.types):
        return False
    return query.id_pattern is None or query.id_pattern.fullmatch(row.entity_id) is not None


def _content_range(query: TemporalQuery, oldest: int, newest: int) -> str:
    """``date-time <start>-<end>/<size>``: backwards (lastN) from the range's end, else
    forwards from its start; size is lastN, or ``*``."""
    tf = query.tf
    if query.last_n is not None:
        if tf.timerel == BEFORE and tf.time_at is not None:
            start = tf.time_at
        elif tf.timerel == BETWEEN and tf.end_time_at is not None:
            start = tf.end_time_at
        else:
            start = newest
        return f"date-time {iso(start)}-{iso(oldest)}/{query.last_n}"
    if tf.timerel in (AFTER, BETWEEN) and tf.time_at is not None:
        start = tf.time_at
    else:
        start = oldest
    return f"date-time {iso(start)}-{iso(newest)}/*"


def _period_function(periods: Periods, last: int) -> PeriodOf:
    """Period index → (start, end) DateTimes, memoized: every entity and method of a response
    shares the same periods, and formatting times costs more than the SQL."""
    if periods.width is not None:
        width, origin = periods.width, periods.origin

        def bounds_of(i: int) -> tuple[int, int]:
            return origin + i * width, origin + (i + 1) * width

    elif len(periods.bounds) == 2:
        start, end = periods.bounds
        # an open range ends at its latest instance, not one microsecond after it
        whole = (start, last if end == last + 1 else end)

        def bounds_of(i: int) -> tuple[int, int]:
            return whole

    else:
        bounds = periods.bounds

        def bounds_of(i: int) -> tuple[int, int]:
            return bounds[i], bounds[i + 1]

    memo: dict[int, tuple[str, str]] = {}

    def period_of(i: int) -> tuple[str, str]:
        found = memo.get(i)
        if found is None:
            start, end = bounds_of(i)
            found = memo[i] = (iso(start), iso(end))
        return found

    return period_of


async def retention_loop(store: TemporalStore, days: int, every_s: float = 3600.0) -> None:
    """Delete instances observed more than ``days`` ago, every ``every_s`` seconds."""
    while True:
        try:
            cutoff = to_micros(datetime.now(UTC)) - days * 86_400 * 1_000_000
            pruned = await store.prune(cutoff)
            if pruned:
                log.info("temporal retention: pruned %d instances", pruned)
        except Exception:
            log.exception("temporal retention pruning failed")
        await asyncio.sleep(every_s)
