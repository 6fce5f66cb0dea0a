"""PostgreSQL backend: the same Protocol as SQLite, for several workers sharing one database.

Each :meth:`PostgresStorage.apply` call is one transaction with a savepoint per mutation; the
read-modify-write of a mutation runs under a row lock (``SELECT ... FOR UPDATE``), so concurrent
workers never lose an update. An entity's row and all its index rows are written by a single
statement (data-modifying CTEs fed by ``unnest`` arrays), keeping a write to a few round trips.
Queries use the same narrowing SQL as SQLite (``base.query_narrowing``) with ``?`` renumbered to
``$n``, a GiST ``box`` index for the geo prefilter, and the same exact check and pagination.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Sequence
from typing import Any
from urllib.parse import parse_qs, urlparse

import asyncpg
import orjson

from cityhub.bus import Change
from cityhub.errors import BadRequestData, ConfigError, CursorMoved, StorageError
from cityhub.ngsild.entity import Entity
from cityhub.ngsild.filters import EntityQuery
from cityhub.ngsild.models import now_iso
from cityhub.storage import base
from cityhub.storage.base import ChangePage, Mutation, Outcome, QueryResult, TypeInfo
from cityhub.storage.migrations import migration_scripts

_CHUNK = 512
_RETRIES = 5  # whole-transaction attempts when PostgreSQL reports a deadlock
_MIGRATION_LOCK = 0x63697479687562  # "cityhub": serialises migrations of concurrent workers
_CREATE_LOCK = 0x63697479  # with hashtext(tenant): batches creating entities in a tenant
# Errors of the database or the connection, as opposed to bugs or the caller's input.
_DB_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)
# Text PostgreSQL cannot store (NUL characters): the caller's input, not a server failure.
_BAD_TEXT = (asyncpg.UntranslatableCharacterError, asyncpg.CharacterNotInRepertoireError)
_RETRYABLE = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)


def _index_ctes(p: int) -> str:
    """CTEs inserting the index rows of the entity in CTE ``k`` from the arrays $p..$p+9."""
    return (
        f"it AS (INSERT INTO type_idx (eid, type) SELECT k.pk, t FROM k, unnest(${p}::text[]) t), "
        "ia AS (INSERT INTO attr_idx (eid, name, kind, num, str) SELECT k.pk, a.* FROM k, "
        f"unnest(${p + 1}::text[], ${p + 2}::text[], ${p + 3}::float8[], ${p + 4}::text[]) a), "
        "ig AS (INSERT INTO geo_idx (eid, name, bbox) "
        "SELECT k.pk, g.n, box(point(g.x1, g.y1), point(g.x2, g.y2)) FROM k, "
        f"unnest(${p + 5}::text[], ${p + 6}::float8[], ${p + 7}::float8[], ${p + 8}::float8[], "
        f"${p + 9}::float8[]) g(n, x1, y1, x2, y2)) "
    )


# Sibling CTEs share one snapshot, so the DELETEs never see the rows the INSERTs add.
_DROP_INDEX = (
    "dt AS (DELETE FROM type_idx WHERE eid = $1), da AS (DELETE FROM attr_idx WHERE eid = $1), "
    "dg AS (DELETE FROM geo_idx WHERE eid = $1) "
)
_LOCK = "SELECT pk, doc FROM entities WHERE tenant = $1 AND id = $2 FOR UPDATE"
_COUNT_IDS = "SELECT count(*) FROM entities WHERE tenant = $1 AND id = ANY($2::text[])"
_LOCK_ALL = (
    "SELECT 1 FROM entities WHERE tenant = $1 AND id = ANY($2::text[]) "
    'ORDER BY id COLLATE "C" FOR UPDATE'
)


def _log_cte(op: str, tenant: str, ident: str, at: int, doc: str, prev: int) -> str:
    """A CTE appending the change-log row of the entity written in CTE ``k``."""
    return (
        "cl AS (INSERT INTO changes (tenant, entity_id, op, at, doc, prev) "
        f"SELECT {tenant}, {ident}, '{op}', ${at}, {doc}, ${prev}::json FROM k RETURNING seq) "
    )


_INSERT = (
    "WITH k AS (INSERT INTO entities (tenant, id, doc) VALUES ($1, $2, $3) RETURNING pk), "
    + _index_ctes(4)
    + ", "
    + _log_cte("create", "$1", "$2", 14, "$3::json", 15)
    + "SELECT seq FROM cl"
)
_UPDATE = (
    "WITH k AS (UPDATE entities SET doc = $2 WHERE pk = $1 RETURNING pk), "
    + _DROP_INDEX
    + ", "
    + _index_ctes(3)
    + ", "
    + _log_cte("update", "$13", "$14", 15, "$2::json", 16)
    + "SELECT seq FROM cl"
)
_DELETE = (
    "WITH k AS (DELETE FROM entities WHERE pk = $1 RETURNING pk, tenant, id, doc), "
    + _DROP_INDEX
    + ", "
    + _log_cte("delete", "k.tenant", "k.id", 2, "k.doc", 3)
    + "SELECT seq FROM cl"
)
# An update that leaves types and geometries alone rewrites only the changed attributes' rows.
_UPDATE_ATTRS = (
    "WITH k AS (UPDATE entities SET doc = $2 WHERE pk = $1 RETURNING pk), "
    "da AS (DELETE FROM attr_idx WHERE eid = $1 AND name = ANY($3::text[])), "
    "ia AS (INSERT INTO attr_idx (eid, name, kind, num, str) SELECT k.pk, a.* FROM k, "
    "unnest($4::text[], $5::text[], $6::float8[], $7::text[]) a), "
    + _log_cte("update", "$8", "$9", 10, "$2::json", 11)
    + "SELECT seq FROM cl"
)
# The same as one autocommitted statement that only applies if the row is still the version
# read (xmin changes with every update): an optimistic single-entity update in two round trips.
_READ_VERSION = (
    "SELECT pk, doc, xmin::text::bigint AS ver FROM entities WHERE tenant = $1 AND id = $2"
)
_UPDATE_ATTRS_IF = (
    "WITH k AS (UPDATE entities SET doc = $2 WHERE pk = $1 AND xmin::text::bigint = $8 "
    "RETURNING pk), "
    "da AS (DELETE FROM attr_idx WHERE eid = $1 AND name = ANY($3::text[]) "
    "AND EXISTS (SELECT 1 FROM k)), "
    "ia AS (INSERT INTO attr_idx (eid, name, kind, num, str) SELECT k.pk, a.* FROM k, "
    "unnest($4::text[], $5::text[], $6::float8[], $7::text[]) a), "
    + _log_cte("update", "$9", "$10", 11, "$2::json", 12)
    + "SELECT seq FROM cl"
)


_SNAPSHOT = (
    "SELECT pg_snapshot_xmin(s)::text::bigint AS xmin, pg_snapshot_xmax(s)::text::bigint AS xmax "
    "FROM pg_current_snapshot() s"
)
_READ_CHANGES = (
    "SELECT seq, tenant, entity_id, op, at, doc, prev FROM changes "
    "WHERE seq > $1 ORDER BY seq LIMIT $2"
)


def _index_args(entity: Entity) -> list[list[Any]]:
    """The ten arrays :func:`_index_ctes` expects, from :func:`base.index_rows`."""
    values, boxes = base.index_rows(entity)
    return [
        list(entity["type"]),
        *_columns(values, 4),
        [name for name, _ in boxes],
        *([float(box[i]) for _, box in boxes] for i in range(4)),
    ]


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Pool release hook: nothing to reset. cityhub changes no session state (its advisory
    locks are transaction-scoped, it never LISTENs or SETs), so asyncpg's default reset would
    only cost a round trip per request."""


def _bad_text(m: Mutation, err: BaseException) -> Outcome:
    """The outcome of a mutation whose text PostgreSQL cannot store (NUL characters)."""
    return Outcome(
        m.entity_id,
        error=BadRequestData(f"entity {m.entity_id!r} cannot be stored: {_reason(err)}"),
    )


def _columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """Rows turned into ``width`` column arrays (for ``unnest``)."""
    return [[row[i] for row in rows] for i in range(width)]


def numbered(sql: str, start: int = 1) -> str:
    """``?`` placeholders renumbered ``$start``, ``$start+1``, ... left to right."""
    head, *rest = sql.split("?")
    return head + "".join(f"${n}{part}" for n, part in enumerate(rest, start))


def _reason(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


async def _init_connection(conn: asyncpg.Connection) -> None:
    """JSONB (and JSON) in and out as Python objects, through orjson."""
    for name in ("jsonb", "json"):
        await conn.set_type_codec(
            name,
            schema="pg_catalog",
            format="text",
            encoder=lambda v: orjson.dumps(v).decode(),
            decoder=orjson.loads,
        )


@contextlib.contextmanager
def _db_errors(what: str) -> Iterator[None]:
    """Turn database failures into StorageError (and unstorable text into BadRequestData)."""
    try:
        yield
    except _BAD_TEXT as err:
        raise BadRequestData(f"text PostgreSQL cannot store: {_reason(err)}") from err
    except _DB_ERRORS as err:
        raise StorageError(f"PostgreSQL {what} failed: {_reason(err)}") from err


class PostgresStorage:
    """Entities in a PostgreSQL database, shared by any number of workers."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self._dsn = url
        parsed = urlparse(url)
        try:
            port = parsed.port or 5432
        except ValueError as err:
            raise ConfigError(f"bad database URL: {err}") from err
        host = parsed.hostname or parse_qs(parsed.query).get("host", ["localhost"])[0]
        self._where = f"{host}:{port}/{parsed.path.lstrip('/') or parsed.username or ''}"
        # Never keep the password where it could be shown (logs, status pages).
        netloc = parsed.netloc.rpartition("@")
        user = netloc[0].partition(":")[0]
        self.url = parsed._replace(netloc=f"{user}@{netloc[2]}" if user else netloc[2]).geturl()
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None
        self._tenants: set[str] = {""}
        self._gaps: dict[int, int] = {}  # change-log gap -> snapshot xmax when first seen

    async def open(self) -> None:
        """Connect, migrate the schema (one worker at a time) and load the tenants."""
        try:
            pool = await asyncpg.create_pool(
                self._dsn,
                min_size=1,
                max_size=max(1, self._pool_size),
                init=_init_connection,
                reset=_keep_session,
                timeout=10,
            )
        except (*_DB_ERRORS, ValueError) as err:
            raise ConfigError(
                f"cannot connect to PostgreSQL at {self._where}: {_reason(err)}"
            ) from err
        try:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"
                )
                current = await conn.fetchval(
                    "SELECT coalesce(max(version), 0) FROM schema_version"
                )
                for version, sql in migration_scripts("postgres"):
                    if version > current:
                        await conn.execute(sql)
                        await conn.execute("INSERT INTO schema_version VALUES ($1)", version)
                rows = await conn.fetch("SELECT name FROM tenants")
        except _DB_ERRORS as err:
            await pool.close()
            raise ConfigError(
                f"cannot migrate PostgreSQL database at {self._where}: {_reason(err)}"
            ) from err
        self._tenants |= {r["name"] for r in rows}
        self._pool = pool

    async def close(self) -> None:
        """Wait for checked-out connections (10 s at most), then close them all."""
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), 10)
            except TimeoutError:
                pool.terminate()

    def _need_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StorageError("storage is closed")
        return self._pool

    # --- tenants ------------------------------------------------------------------------

    async def tenant_exists(self, tenant: str) -> bool:
        """True once a tenant received its first write (in any worker)."""
        if tenant in self._tenants:
            return True
        with _db_errors("read"):
            found = await self._need_pool().fetchval(
                "SELECT 1 FROM tenants WHERE name = $1", tenant
            )
        if found:
            self._tenants.add(tenant)
        return bool(found)

    # --- entities -----------------------------------------------------------------------

    async def get(self, tenant: str, entity_id: str) -> Entity | None:
        """One entity by id, or None."""
        with _db_errors("read"):
            doc: Entity | None = await self._need_pool().fetchval(
                "SELECT doc FROM entities WHERE tenant = $1 AND id = $2", tenant, entity_id
            )
        return doc

    async def apply(self, tenant: str, mutations: Sequence[Mutation]) -> list[Outcome]:
        """Run each mutation atomically, all in one transaction committed before returning."""
        pool = self._need_pool()
        if len(mutations) == 1 and not mutations[0].create_only:
            quick = await self._update_optimistic(pool, tenant, mutations[0])
            if quick is not None:
                return [quick]
        for attempt in range(1, _RETRIES + 1):
            try:
                async with pool.acquire() as conn, conn.transaction():
                    if tenant not in self._tenants:
                        await conn.execute(
                            "INSERT INTO tenants VALUES ($1, $2) ON CONFLICT DO NOTHING",
                            tenant,
                            now_iso(),
                        )
                    if len(mutations) == 1:
                        # one entity: the transaction itself isolates it, no savepoint needed
                        outcomes = [await self._apply_locked(conn, tenant, mutations[0])]
                    else:
                        await _lock_batch(conn, tenant, mutations)
                        outcomes = [await self._apply_one(conn, tenant, m) for m in mutations]
            except asyncpg.UniqueViolationError as err:
                # (single entity) another transaction created it since our SELECT: go again,
                # on its row now (create_only then reports AlreadyExists)
                if len(mutations) > 1 or attempt == _RETRIES:
                    raise StorageError(f"PostgreSQL write failed: {_reason(err)}") from err
                continue
            except _BAD_TEXT as err:
                if len(mutations) > 1:
                    raise StorageError(f"PostgreSQL write failed: {_reason(err)}") from err
                return [_bad_text(mutations[0], err)]
            except _RETRYABLE as err:
                # A rare lock cycle _lock_batch cannot rule out: PostgreSQL aborted this side.
                # Mutators are pure, so running the whole call again is safe.
                if attempt == _RETRIES:
                    raise StorageError(f"PostgreSQL write failed: {_reason(err)}") from err
                await asyncio.sleep(random.uniform(0, 0.01 * 2**attempt))
                continue
            except _DB_ERRORS as err:
                raise StorageError(f"PostgreSQL write failed: {_reason(err)}") from err
            self._tenants.add(tenant)
            return outcomes
        raise AssertionError("unreachable")  # pragma: no cover

    async def _update_optimistic(
        self, pool: asyncpg.Pool, tenant: str, m: Mutation
    ) -> Outcome | None:
        """An update of one existing entity that leaves its types and geometries alone: read,
        compute, write back only if nobody wrote in between. None hands the mutation to the
        locking path (absent entity, deletion, wider change, or repeated contention)."""
        try:
            async with pool.acquire() as conn:
                for _ in range(3):
                    row = await conn.fetchrow(_READ_VERSION, tenant, m.entity_id)
                    if row is None:
                        return None
                    before: Entity = row["doc"]
                    outcome = base.decide(m, before)
                    after = outcome.after
                    if outcome.error is not None or after == before:
                        return outcome
                    changed = base.changed_attributes(before, after)
                    if after is None or changed is None:
                        return None
                    values = _columns(base.changed_value_rows(after, changed), 4)
                    at, prev = now_iso(), base.change_delta(before, after)
                    seq = await conn.fetchval(
                        _UPDATE_ATTRS_IF,
                        row["pk"],
                        after,
                        changed,
                        *values,
                        row["ver"],
                        tenant,
                        m.entity_id,
                        at,
                        prev,
                    )
                    if seq is not None:
                        base.make_change(seq, tenant, outcome, at)
                        return outcome
        except _BAD_TEXT as err:
            return _bad_text(m, err)
        except _DB_ERRORS as err:
            raise StorageError(f"PostgreSQL write failed: {_reason(err)}") from err
        return None

    async def _apply_one(self, conn: asyncpg.Connection, tenant: str, m: Mutation) -> Outcome:
        for attempt in (1, 2):
            try:
                async with conn.transaction():  # a savepoint: a failure undoes this one only
                    return await self._apply_locked(conn, tenant, m)
            except asyncpg.UniqueViolationError:
                # Another transaction created this entity since our SELECT: go again, on its
                # row now (create_only then reports AlreadyExists).
                if attempt == 2:
                    raise
            except _BAD_TEXT as err:
                return _bad_text(m, err)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    async def _apply_locked(conn: asyncpg.Connection, tenant: str, m: Mutation) -> Outcome:
        row = await conn.fetchrow(_LOCK, tenant, m.entity_id)
        before: Entity | None = row["doc"] if row else None
        outcome = base.decide(m, before)
        after = outcome.after
        if outcome.error is not None or after == before:
            return outcome
        at, prev = now_iso(), base.change_delta(before, after)
        if after is None:
            assert row is not None  # (absent and deleted is "unchanged", handled above)
            seq = await conn.fetchval(_DELETE, row["pk"], at, prev)
        elif row is None:
            seq = await conn.fetchval(
                _INSERT, tenant, m.entity_id, after, *_index_args(after), at, prev
            )
        else:
            changed = base.changed_attributes(before, after)
            if changed is None:
                seq = await conn.fetchval(
                    _UPDATE, row["pk"], after, *_index_args(after), tenant, m.entity_id, at, prev
                )
            else:
                values = _columns(base.changed_value_rows(after, changed), 4)
                seq = await conn.fetchval(
                    _UPDATE_ATTRS, row["pk"], after, changed, *values, tenant, m.entity_id, at, prev
                )
        base.make_change(seq, tenant, outcome, at)
        return outcome

    async def query(self, tenant: str, query: EntityQuery) -> QueryResult:
        """Entities matching ``query`` (index narrowing, exact check, pagination)."""
        narrowing = base.query_narrowing(query)
        clauses = ["e.tenant = ?", *narrowing.clauses]
        params: list[Any] = [tenant, *narrowing.params]
        box = query.geo.search_bbox() if query.geo is not None else None
        if box is not None and query.geo is not None:
            clauses.append(
                "e.pk IN (SELECT eid FROM geo_idx WHERE "
                "bbox && box(point(?, ?), point(?, ?)) AND name = ?)"
            )
            params.extend([*(float(x) for x in box), query.geo.geoproperty])
        where = " AND ".join(f"({c})" for c in clauses)
        exact = base.exact_in_sql(query)
        pool = self._need_pool()
        with _db_errors("query"):
            async with pool.acquire() as conn:
                if exact and not query.count:
                    return await _exact_page(conn, where, params, query)
                # Several statements: read them all from one snapshot.
                async with conn.transaction(isolation="repeatable_read", readonly=True):
                    if exact:
                        return await _exact_page(conn, where, params, query)
                    async with contextlib.aclosing(_chunks(conn, where, params)) as chunks:
                        return await _paginate(query, chunks)

    # --- change log ---------------------------------------------------------------------

    async def changes(self, after: int, limit: int) -> ChangePage:
        """Logged changes after ``after``, up to the first gap a running transaction may
        still fill. Sequence numbers are taken before commit, so seq 7 can commit after seq
        8; a gap is waited for until every transaction running when it was first seen has
        ended (a rolled back transaction leaves a gap for good)."""
        pool = self._need_pool()
        with _db_errors("read"):
            async with (
                pool.acquire() as conn,
                conn.transaction(isolation="repeatable_read", readonly=True),
            ):
                snap = await conn.fetchrow(_SNAPSHOT)
                rows = await conn.fetch(_READ_CHANGES, after, limit)
        page = ChangePage(upto=after)
        expected = after + 1
        for row in rows:
            while row["seq"] > expected:
                seen_below = self._gaps.setdefault(expected, snap["xmax"])
                if snap["xmin"] < seen_below:
                    self._forget_gaps(page.upto)
                    return page  # a transaction that may hold ``expected`` still runs
                del self._gaps[expected]
                page.upto = expected
                expected += 1
            page.changes.append(
                Change(
                    row["seq"],
                    row["tenant"],
                    row["entity_id"],
                    row["op"],
                    row["at"],
                    row["doc"],
                    row["prev"],
                )
            )
            page.upto = row["seq"]
            expected = row["seq"] + 1
        self._forget_gaps(page.upto)
        return page

    def _forget_gaps(self, upto: int) -> None:
        for seq in [s for s in self._gaps if s <= upto]:
            del self._gaps[seq]

    async def log_end(self) -> int:
        """The position of the last committed change (0: none yet)."""
        with _db_errors("read"):
            end: int = await self._need_pool().fetchval("SELECT coalesce(max(seq), 0) FROM changes")
        return end

    async def cursors(self) -> dict[str, int]:
        """Every consumer's cursor, by name."""
        with _db_errors("read"):
            rows = await self._need_pool().fetch("SELECT name, seq FROM cursors")
        return {str(r[0]): int(r[1]) for r in rows}

    async def cursor(self, name: str) -> int:
        """A consumer's cursor (created at the end of the log)."""
        with _db_errors("write"):
            async with self._need_pool().acquire() as conn:
                await conn.execute(
                    "INSERT INTO cursors SELECT $1, coalesce(max(seq), 0) FROM changes "
                    "ON CONFLICT DO NOTHING",
                    name,
                )
                seq: int = await conn.fetchval("SELECT seq FROM cursors WHERE name = $1", name)
        return seq

    async def prune_changes(self) -> int:
        """Delete the changes every consumer has passed, in slices."""
        total = 0
        while True:
            with _db_errors("write"):
                status = await self._need_pool().execute(numbered(base.PRUNE_CHANGES))
            done = int(status.split()[-1])
            total += done
            if done < 5000:
                return total

    @staticmethod
    async def advance(conn: asyncpg.Connection, name: str, old: int, new: int) -> None:
        """Move a consumer's cursor inside the consumer's transaction (CursorMoved if it
        moved)."""
        status = await conn.execute(numbered(base.ADVANCE_CURSOR), new, name, old)
        if status != "UPDATE 1":
            raise CursorMoved(f"cursor {name!r} moved from {old}")

    async def move_cursor(self, name: str, old: int, new: int) -> None:
        """Move a consumer's cursor on its own (CursorMoved if it is no longer at ``old``)."""
        async with self.transaction() as conn:
            await self.advance(conn, name, old, new)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection inside a transaction, for feature stores (errors → StorageError)."""
        with _db_errors("write"):
            async with self._need_pool().acquire() as conn, conn.transaction():
                yield conn

    @property
    def pool(self) -> asyncpg.Pool:
        """The connection pool, for feature stores' reads."""
        return self._need_pool()

    async def types(self, tenant: str) -> list[TypeInfo]:
        """Entity types with counts and attribute names/types."""
        pool = self._need_pool()
        with _db_errors("query"):
            async with (
                pool.acquire() as conn,
                conn.transaction(isolation="repeatable_read", readonly=True),
            ):
                counts = await conn.fetch(
                    "SELECT t.type, count(*) FROM type_idx t JOIN entities e ON e.pk = t.eid "
                    'WHERE e.tenant = $1 GROUP BY t.type ORDER BY t.type COLLATE "C"',
                    tenant,
                )
                attrs = await conn.fetch(
                    "SELECT DISTINCT t.type, a.name, a.kind FROM type_idx t "
                    "JOIN entities e ON e.pk = t.eid JOIN attr_idx a ON a.eid = t.eid "
                    "WHERE e.tenant = $1",
                    tenant,
                )
        infos = {t: TypeInfo(t, n, {}) for t, n in counts}
        for t, name, kind in attrs:
            infos[t].attrs.setdefault(name, set()).add(kind)
        return list(infos.values())

    # --- stored @contexts ---------------------------------------------------------------

    async def context_put(self, tenant: str, ident: str, url: str, kind: str, body: Any) -> None:
        """Store (or replace) a JSON-LD context."""
        with _db_errors("write"):
            await self._need_pool().execute(
                "INSERT INTO jsonld_contexts VALUES ($1, $2, $3, $4, $5, $6) "
                "ON CONFLICT (ident) DO UPDATE SET tenant = excluded.tenant, url = excluded.url, "
                "kind = excluded.kind, body = excluded.body, created_at = excluded.created_at",
                ident,
                tenant,
                url,
                kind,
                body,
                now_iso(),
            )

    async def context_get(self, ident: str) -> dict[str, Any] | None:
        """A stored context by id."""
        with _db_errors("read"):
            row = await self._need_pool().fetchrow(
                "SELECT ident, url, kind, body, created_at FROM jsonld_contexts WHERE ident = $1",
                ident,
            )
        return _context_row(row, with_body=True) if row else None

    async def context_list(self) -> list[dict[str, Any]]:
        """Every stored context, oldest first."""
        with _db_errors("read"):
            rows = await self._need_pool().fetch(
                "SELECT ident, url, kind, created_at FROM jsonld_contexts "
                'ORDER BY created_at COLLATE "C"'
            )
        return [_context_row(r, with_body=False) for r in rows]

    async def context_delete(self, ident: str) -> bool:
        """Delete a stored context."""
        with _db_errors("write"):
            status: str = await self._need_pool().execute(
                "DELETE FROM jsonld_contexts WHERE ident = $1", ident
            )
        return status != "DELETE 0"


async def _lock_batch(conn: asyncpg.Connection, tenant: str, mutations: Sequence[Mutation]) -> None:
    """Take a batch's locks up front in one global order, so overlapping batches queue up.

    Rows that do not exist yet cannot be locked, so a batch that may create entities first takes
    a per-tenant lock (such batches run one at a time); then every batch locks its existing rows
    in id order. A single mutation takes one lock only and needs none of this.
    """
    ids = sorted({m.entity_id for m in mutations if "\x00" not in m.entity_id})
    if await conn.fetchval(_COUNT_IDS, tenant, ids) < len(ids):
        await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", _CREATE_LOCK, tenant)
    await conn.execute(_LOCK_ALL, tenant, ids)


def _context_row(row: asyncpg.Record, *, with_body: bool) -> dict[str, Any]:
    out = {
        "id": row["ident"],
        "url": row["url"],
        "kind": row["kind"],
        "createdAt": row["created_at"],
    }
    if with_body:
        out["body"] = row["body"]
    return out


async def _exact_page(
    conn: asyncpg.Connection, where: str, params: list[Any], query: EntityQuery
) -> QueryResult:
    """The page (and count) straight from SQL, when the narrowing is the exact answer."""
    count = None
    if query.count:
        count = await conn.fetchval(
            numbered(f"SELECT count(*) FROM entities e WHERE {where}"), *params
        )
    rows = await conn.fetch(
        numbered(f"SELECT doc FROM entities e WHERE {where} ORDER BY e.pk LIMIT ? OFFSET ?"),
        *params,
        query.limit,
        query.offset,
    )
    return QueryResult([r["doc"] for r in rows], count)


async def _chunks(
    conn: asyncpg.Connection, where: str, params: list[Any]
) -> AsyncGenerator[list[Entity], None]:
    """Candidate entities in pk order, fetched lazily ``_CHUNK`` at a time (keyset)."""
    sql = numbered(
        f"SELECT pk, doc FROM entities e WHERE {where} AND e.pk > ? ORDER BY e.pk LIMIT ?"
    )
    last = -1
    while True:
        rows = await conn.fetch(sql, *params, last, _CHUNK)
        yield [r["doc"] for r in rows]
        if len(rows) < _CHUNK:
            return
        last = rows[-1]["pk"]


async def _paginate(query: EntityQuery, chunks: AsyncIterator[list[Entity]]) -> QueryResult:
    """:func:`base.paginate` over lazily fetched chunks, with the very same semantics."""
    pager = base.Pager(query)
    async for chunk in chunks:
        if not all(pager.add(entity) for entity in chunk):
            break  # enough matches and no count wanted: stop fetching
    return pager.result()
