"""SQLite backend: the embedded default.

One write connection, driven by :class:`_GroupWriter`: writes queued while a group runs run
together in one ``BEGIN IMMEDIATE`` transaction and commit once — group commit, so durability
(``synchronous=FULL`` by default) costs one fsync per group, not per request. Queries run in a
small thread pool on their own connections, in parallel with the writer thanks to WAL; look-ups
by id run on the event loop. WAL checkpoints run in their own thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson

from cityhub.bus import Change
from cityhub.errors import ConfigError, CursorMoved, StorageError
from cityhub.ngsild.entity import Entity
from cityhub.ngsild.filters import EntityQuery
from cityhub.ngsild.models import now_iso
from cityhub.storage import base
from cityhub.storage.base import ChangePage, Mutation, Outcome, QueryResult, TypeInfo
from cityhub.storage.migrations import migration_scripts
from cityhub.storage.sqlite_query import run_query

_GEO_SLOTS = 1024  # GeoProperty instances indexed per entity
_Job = tuple[Callable[[sqlite3.Connection], Any], "asyncio.Future[Any]"]
_BUSY_WAIT_S = 30.0  # how long a write waits for another process holding the write lock


class _GroupWriter:
    """Group commit on the event loop.

    Writes submitted while the previous group runs are run together, on the loop thread, in
    one ``BEGIN IMMEDIATE`` transaction. Its ``COMMIT`` (the fsync) runs in a thread, so the
    loop goes on taking requests and messages meanwhile, which join the next group: even a fast
    fsync, waited for on the loop, left it idle half the time under a stream of small writes
    (MQTT measures were then written one per transaction). Jobs are pure functions of the database
    state: if one fails, the group is rolled back and replayed one job per transaction, so only
    the failing job reports an error. Running the SQL on the loop thread avoids handing every
    write to another Python thread, which costs more than the SQL itself.
    """

    def __init__(
        self, conn: sqlite3.Connection, max_batch: int, on_rollback: Callable[[], None]
    ) -> None:
        self.conn = conn
        self._max_batch = max_batch
        self._on_rollback = on_rollback
        self._pending: list[_Job] = []
        self._task: asyncio.Task[None] | None = None
        self._committer = ThreadPoolExecutor(1, thread_name_prefix="cityhub-sqlite-commit")
        self.closed = False

    async def submit(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run ``fn`` in the next group; returns its result once the group is durable."""
        if self.closed:
            raise StorageError("storage is closed")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._pending.append((fn, fut))
        if self._task is None:
            self._task = loop.create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                results = await self._run_group(batch)
                for (_fn, fut), (ok, value) in zip(batch, results, strict=True):
                    if fut.done():
                        continue
                    if ok:
                        fut.set_result(value)
                    else:
                        fut.set_exception(value)
        finally:
            self._task = None

    async def _begin(self) -> None:
        delay, waited = 0.001, 0.0
        while True:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as err:
                if "locked" not in str(err) and "busy" not in str(err):
                    raise
                if waited > _BUSY_WAIT_S:
                    raise StorageError("SQLite database stayed locked by another writer") from err
            await asyncio.sleep(delay)  # another process writes: wait without blocking the loop
            waited += delay
            delay = min(delay * 2, 0.05)

    async def _commit(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._committer, self.conn.execute, "COMMIT")

    def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.conn.execute("ROLLBACK")
        self._on_rollback()

    async def _run_group(self, batch: list[_Job]) -> list[tuple[bool, Any]]:
        try:
            await self._begin()
            results: list[tuple[bool, Any]] = [(True, fn(self.conn)) for fn, _f in batch]
            await self._commit()
            return results
        except Exception:  # noqa: BLE001 - replayed below, errors reach their callers
            self._rollback()
        return [await self._run_alone(fn) for fn, _f in batch]

    async def _run_alone(self, fn: Callable[[sqlite3.Connection], Any]) -> tuple[bool, Any]:
        try:
            await self._begin()
            result = fn(self.conn)
            await self._commit()
            return (True, result)
        except sqlite3.Error as err:
            self._rollback()
            return (False, StorageError(f"SQLite write failed: {err}"))
        except Exception as err:  # noqa: BLE001 - handed to the awaiting caller
            self._rollback()
            return (False, err)

    async def close(self) -> None:
        """Finish the queued groups, then release the connection and the commit thread."""
        self.closed = True
        while self._task is not None:
            await asyncio.shield(self._task)
        self._committer.shutdown(wait=True)
        self.conn.close()


class SQLiteStorage:
    """Entities in one SQLite file (or ``:memory:`` for tests)."""

    def __init__(
        self, path: str, *, synchronous: str = "FULL", readers: int = 4, max_batch: int = 256
    ) -> None:
        self.url = f"sqlite:///{path}"
        self.path = path
        self._synchronous = synchronous
        self._readers = readers
        self._max_batch = max_batch
        self._writer: _GroupWriter | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._tenants: set[str] = {""}
        self._nids: dict[str, int] = {}  # attribute IRI -> attr_names.nid (cleared on rollback)
        self._loop_conn: sqlite3.Connection | None = None
        self._checkpoints = threading.Event()  # set to stop the checkpointer
        self._checkpointing: threading.Thread | None = None
        self._all_conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()

    # --- connections --------------------------------------------------------------------

    def _connect(self, readonly: bool = False, *, shared: bool = True) -> sqlite3.Connection:
        """A configured connection; ``shared`` ones are closed by :meth:`close`, the others
        by the thread that owns them."""
        uri = self.path if self.path.startswith("file:") else None
        conn = sqlite3.connect(
            uri or self.path,
            isolation_level=None,
            check_same_thread=False,
            uri=uri is not None,
            timeout=30,
        )
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        conn.execute(f"PRAGMA cache_size = {-16384 if readonly else -65536}")
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("PRAGMA secure_delete = OFF")  # Debian builds default it to ON
        conn.execute("PRAGMA mmap_size = 268435456")
        if readonly:
            conn.execute("PRAGMA query_only = 1")
        if shared:
            with self._conns_lock:
                self._all_conns.append(conn)
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect(readonly=True)
            self._local.conn = conn
        return conn

    def _make_parent_dir(self) -> None:
        if self.path.startswith("file:"):
            return
        parent = os.path.dirname(os.path.abspath(os.path.expanduser(self.path)))
        try:
            os.makedirs(parent, exist_ok=True)
        except OSError as err:
            raise ConfigError(f"cannot create data directory {parent}: {err.strerror}") from err

    async def open(self) -> None:
        """Create the file, switch to WAL, migrate, start the writer and readers."""
        self._make_parent_dir()
        try:
            conn = self._connect()
            conn.execute("PRAGMA journal_mode = WAL")
            self._migrate(conn)
            self._tenants |= {r[0] for r in conn.execute("SELECT name FROM tenants")}
        except sqlite3.Error as err:
            raise ConfigError(f"cannot open SQLite database {self.path}: {err}") from err
        finally:
            with contextlib.suppress(Exception):
                conn.close()
        self._writer = _GroupWriter(self._connect_writer(), self._max_batch, self._nids.clear)
        self._checkpoints.clear()
        self._checkpointing = threading.Thread(
            target=self._checkpointer, name="cityhub-sqlite-checkpoint", daemon=True
        )
        self._checkpointing.start()
        self._pool = ThreadPoolExecutor(self._readers, thread_name_prefix="cityhub-sqlite-read")

    def _connect_writer(self) -> sqlite3.Connection:
        conn = self._connect()
        # checkpoints run in their own thread (below); the writer only steps in when the WAL
        # grows past this many pages (64 MiB), so a commit rarely waits for a checkpoint
        conn.execute("PRAGMA wal_autocheckpoint = 16384")
        # this connection is used on the event loop: never block it waiting for another
        # process's write lock, _GroupWriter._begin retries asynchronously instead
        conn.execute("PRAGMA busy_timeout = 0")
        return conn

    def _checkpointer(self) -> None:
        """Copy the WAL into the database twice a second, off the writer's path."""
        conn = self._connect(shared=False)
        try:
            while not self._checkpoints.wait(0.5):
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            conn.close()

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        current = row[0] or 0
        for version, sql in migration_scripts("sqlite"):
            if version <= current:
                continue
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in _split_sql(sql):
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version VALUES (?)", (version,))
                conn.execute("COMMIT")
            except sqlite3.Error:
                conn.execute("ROLLBACK")
                raise

    async def close(self) -> None:
        """Let the writer finish its queue, then close every connection."""
        if self._writer is not None:
            await self._writer.close()
            self._writer = None
            self._checkpoints.set()
        if self._checkpointing is not None:
            # it closes its own connection; closing that under a running checkpoint crashes
            await asyncio.to_thread(self._checkpointing.join, 10)
            self._checkpointing = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        with self._conns_lock:
            for conn in self._all_conns:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._all_conns.clear()
        self._loop_conn = None

    async def _write(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        if self._writer is None:
            raise StorageError("storage is closed")
        return await self._writer.submit(fn)

    async def _read(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        if self._pool is None:
            raise StorageError("storage is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(self._reader()))

    # --- tenants ------------------------------------------------------------------------

    async def tenant_exists(self, tenant: str) -> bool:
        """True once a tenant received its first write."""
        return tenant in self._tenants

    def _ensure_tenant(self, conn: sqlite3.Connection, tenant: str) -> None:
        if tenant not in self._tenants:
            conn.execute("INSERT OR IGNORE INTO tenants VALUES (?, ?)", (tenant, now_iso()))

    # --- entities -----------------------------------------------------------------------

    async def get(self, tenant: str, entity_id: str) -> Entity | None:
        """One entity by id, or None (read on the event-loop thread: an index look-up costs
        less than the hop to a reader thread)."""
        if self._loop_conn is None:
            self._loop_conn = self._connect(readonly=True)
        row = self._loop_conn.execute(
            "SELECT doc FROM entities WHERE tenant = ? AND id = ?", (tenant, entity_id)
        ).fetchone()
        return orjson.loads(row[0]) if row else None

    async def apply(self, tenant: str, mutations: Sequence[Mutation]) -> list[Outcome]:
        """Run each mutation atomically in the writer; commit durably before returning."""

        def run(conn: sqlite3.Connection) -> list[Outcome]:
            self._ensure_tenant(conn, tenant)
            outcomes: list[Outcome] = []
            for part in base.distinct_runs(mutations):  # twice: the second sees the first
                if len(part) > 1:
                    outcomes.extend(self._apply_many(conn, tenant, part))
                else:
                    outcomes.append(self._apply_one(conn, tenant, part[0]))
            return outcomes

        outcomes: list[Outcome] = await self._write(run)
        self._tenants.add(tenant)
        return outcomes

    def _apply_many(
        self, conn: sqlite3.Connection, tenant: str, mutations: Sequence[Mutation]
    ) -> list[Outcome]:
        """A batch of distinct entities: one look-up, then bulk statements for the writes and
        for the index rows of new entities (same outcomes as one _apply_one per mutation)."""
        current: dict[str, tuple[int, bytes]] = {}
        ids = [m.entity_id for m in mutations]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for pk, eid, doc in conn.execute(
                f"SELECT pk, id, doc FROM entities WHERE tenant = ? AND id IN ({marks})",
                [tenant, *chunk],
            ):
                current[eid] = (pk, doc)
        next_pk = (conn.execute("SELECT max(pk) FROM entities").fetchone()[0] or 0) + 1
        seq = _last_seq(conn)
        at = now_iso()
        outcomes: list[Outcome] = []
        inserts: list[tuple[int, str, str, bytes]] = []
        fresh: list[tuple[int, Entity]] = []
        updates: list[tuple[bytes, int]] = []
        unindexed: list[tuple[int, int]] = []
        reindexed: list[tuple[int, int, int, str, float | None, str | None]] = []
        logged: list[tuple[int, str, str, str, str, bytes, bytes]] = []
        for m in mutations:
            row = current.get(m.entity_id)
            before: Entity | None = orjson.loads(row[1]) if row else None
            outcome = base.decide(m, before)
            outcomes.append(outcome)
            after = outcome.after
            if outcome.error is not None or after == before:
                continue
            doc = orjson.dumps(after) if after is not None else row[1]  # type: ignore[index]
            if row is not None:
                changed = base.changed_attributes(before, after)
                if after is not None and changed is not None:  # the common update: in bulk
                    updates.append((doc, row[0]))
                    unindexed.extend((row[0], self._nid(conn, n)) for n in changed)
                    reindexed.extend(
                        self._value_rows(conn, row[0], base.changed_value_rows(after, changed))
                    )
                else:
                    if after is None:
                        conn.execute("DELETE FROM entities WHERE pk = ?", (row[0],))
                    else:
                        conn.execute("UPDATE entities SET doc = ? WHERE pk = ?", (doc, row[0]))
                    self._reindex(conn, row[0], before, after)
            elif after is not None:
                inserts.append((next_pk, tenant, m.entity_id, doc))
                fresh.append((next_pk, after))
                next_pk += 1
            seq += 1
            logged.append(_log_row(base.make_change(seq, tenant, outcome, at), doc))
        conn.executemany("UPDATE entities SET doc = ? WHERE pk = ?", updates)
        conn.executemany("DELETE FROM attr_idx WHERE eid = ? AND name = ?", unindexed)
        conn.executemany("INSERT INTO attr_idx VALUES (?, ?, ?, ?, ?, ?)", reindexed)
        conn.executemany("INSERT INTO entities (pk, tenant, id, doc) VALUES (?, ?, ?, ?)", inserts)
        self._index_new(conn, fresh)
        conn.executemany(_LOG_INSERT, logged)
        return outcomes

    def _apply_one(self, conn: sqlite3.Connection, tenant: str, m: Mutation) -> Outcome:
        row = conn.execute(
            "SELECT pk, doc FROM entities WHERE tenant = ? AND id = ?", (tenant, m.entity_id)
        ).fetchone()
        before: Entity | None = orjson.loads(row[1]) if row else None
        outcome = base.decide(m, before)
        after = outcome.after
        if outcome.error is not None or after == before:
            return outcome
        pk: int | None = row[0] if row else None
        doc = orjson.dumps(after) if after is not None else row[1]
        if pk is not None:
            if after is None:
                conn.execute("DELETE FROM entities WHERE pk = ?", (pk,))
            else:
                conn.execute("UPDATE entities SET doc = ? WHERE pk = ?", (doc, pk))
        elif after is not None:
            cur = conn.execute(
                "INSERT INTO entities (tenant, id, doc) VALUES (?, ?, ?)",
                (tenant, m.entity_id, doc),
            )
            pk = cur.lastrowid
        if pk is not None:
            self._reindex(conn, pk, before, after)
        change = base.make_change(_last_seq(conn) + 1, tenant, outcome, now_iso())
        conn.execute(_LOG_INSERT, _log_row(change, doc))
        return outcome

    def _reindex(
        self, conn: sqlite3.Connection, pk: int, before: Entity | None, after: Entity | None
    ) -> None:
        """Move one entity's index rows from ``before`` to ``after``; an update that leaves
        types and geometries alone rewrites only the changed attributes' rows."""
        changed = base.changed_attributes(before, after)
        if changed is not None:
            conn.executemany(
                "DELETE FROM attr_idx WHERE eid = ? AND name = ?",
                [(pk, self._nid(conn, n)) for n in changed],
            )
            conn.executemany(
                "INSERT INTO attr_idx VALUES (?, ?, ?, ?, ?, ?)",
                self._value_rows(conn, pk, base.changed_value_rows(after, changed)),
            )
            return
        if before is not None:
            conn.execute("DELETE FROM type_idx WHERE eid = ?", (pk,))
            conn.execute("DELETE FROM attr_idx WHERE eid = ?", (pk,))
            _, old_boxes = base.index_rows(before)
            conn.executemany(
                "DELETE FROM geo_idx WHERE gid = ?",
                [(pk * _GEO_SLOTS + n,) for n in range(len(old_boxes))],
            )
        if after is not None:
            self._index_new(conn, [(pk, after)])

    def _nid(self, conn: sqlite3.Connection, name: str) -> int:
        """The number ``attr_idx`` keys an attribute IRI by (inside the write transaction;
        a rolled-back transaction clears the cache, since its new numbers are gone)."""
        nid = self._nids.get(name)
        if nid is None:
            conn.execute("INSERT OR IGNORE INTO attr_names (name) VALUES (?)", (name,))
            nid = self._nids[name] = conn.execute(
                "SELECT nid FROM attr_names WHERE name = ?", (name,)
            ).fetchone()[0]
        return nid

    def _value_rows(
        self,
        conn: sqlite3.Connection,
        pk: int,
        values: list[tuple[str, str, float | None, str | None]],
    ) -> list[tuple[int, int, int, str, float | None, str | None]]:
        """Attribute-value index rows of one entity, numbering the rows of each attribute."""
        seqs: dict[str, int] = {}
        rows = []
        for name, kind, num, text in values:
            seq = seqs[name] = seqs.get(name, -1) + 1
            rows.append((pk, self._nid(conn, name), seq, kind, num, text))
        return rows

    def _index_new(self, conn: sqlite3.Connection, entities: list[tuple[int, Entity]]) -> None:
        """All index rows (types, attribute values, geometries) of entities without any yet."""
        types: list[tuple[int, str]] = []
        values: list[tuple[int, int, int, str, float | None, str | None]] = []
        boxes: list[tuple[int, float, float, float, float, int, str]] = []
        for pk, entity in entities:
            types.extend((pk, t) for t in entity["type"])
            vals, geo_boxes = base.index_rows(entity)
            values.extend(self._value_rows(conn, pk, vals))
            boxes.extend(
                (pk * _GEO_SLOTS + n, minx, maxx, miny, maxy, pk, name)
                for n, (name, (minx, miny, maxx, maxy)) in enumerate(geo_boxes[:_GEO_SLOTS])
            )
        conn.executemany("INSERT INTO type_idx VALUES (?, ?)", types)
        conn.executemany("INSERT INTO attr_idx VALUES (?, ?, ?, ?, ?, ?)", values)
        conn.executemany("INSERT INTO geo_idx VALUES (?, ?, ?, ?, ?, ?, ?)", boxes)

    async def query(self, tenant: str, query: EntityQuery) -> QueryResult:
        """Entities matching ``query`` (index narrowing, exact check, pagination)."""
        return await self._read(lambda conn: run_query(conn, tenant, query))  # type: ignore[no-any-return]

    async def types(self, tenant: str) -> list[TypeInfo]:
        """Entity types with counts and attribute names/types."""

        def run(conn: sqlite3.Connection) -> list[TypeInfo]:
            counts = conn.execute(
                "SELECT t.type, count(*) FROM type_idx t JOIN entities e ON e.pk = t.eid "
                "WHERE e.tenant = ? GROUP BY t.type ORDER BY t.type",
                (tenant,),
            ).fetchall()
            infos = {t: TypeInfo(t, n, {}) for t, n in counts}
            for t, name, kind in conn.execute(
                "SELECT DISTINCT t.type, n.name, a.kind FROM type_idx t "
                "JOIN entities e ON e.pk = t.eid JOIN attr_idx a ON a.eid = t.eid "
                "JOIN attr_names n ON n.nid = a.name WHERE e.tenant = ?",
                (tenant,),
            ):
                infos[t].attrs.setdefault(name, set()).add(kind)
            return list(infos.values())

        result: list[TypeInfo] = await self._read(run)
        return result

    # --- change log ---------------------------------------------------------------------

    async def changes(self, after: int, limit: int) -> ChangePage:
        """Logged changes after ``after``: one writer at a time, so the log has no gaps."""

        def run(conn: sqlite3.Connection) -> ChangePage:
            rows = conn.execute(
                "SELECT * FROM changes WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
            ).fetchall()
            changes = [_change_of(r) for r in rows]
            return ChangePage(changes, changes[-1].seq if changes else after)

        page: ChangePage = await self._read(run)
        return page

    async def log_end(self) -> int:
        """The position of the last committed change (0: none yet)."""
        end: int = await self._read(_last_seq)
        return end

    async def cursors(self) -> dict[str, int]:
        """Every consumer's cursor, by name."""

        def run(conn: sqlite3.Connection) -> dict[str, int]:
            return {str(n): int(s) for n, s in conn.execute("SELECT name, seq FROM cursors")}

        found: dict[str, int] = await self._read(run)
        return found

    async def cursor(self, name: str) -> int:
        """A consumer's cursor (created at the end of the log)."""

        def run(conn: sqlite3.Connection) -> int:
            conn.execute("INSERT OR IGNORE INTO cursors VALUES (?, ?)", (name, _last_seq(conn)))
            row = conn.execute("SELECT seq FROM cursors WHERE name = ?", (name,)).fetchone()
            return int(row[0])

        seq: int = await self._write(run)
        return seq

    async def prune_changes(self) -> int:
        """Delete the changes every consumer has passed (in slices, so writes keep flowing)."""
        total = 0
        while True:

            def run(conn: sqlite3.Connection) -> int:
                return conn.execute(base.PRUNE_CHANGES).rowcount

            done: int = await self._write(run)
            total += done
            if done < 5000:
                return total

    @staticmethod
    def advance(conn: sqlite3.Connection, name: str, old: int, new: int) -> None:
        """Move a consumer's cursor inside the consumer's write (CursorMoved if it moved)."""
        if conn.execute(base.ADVANCE_CURSOR, (new, name, old)).rowcount != 1:
            raise CursorMoved(f"cursor {name!r} moved from {old}")

    async def move_cursor(self, name: str, old: int, new: int) -> None:
        """Move a consumer's cursor on its own (CursorMoved if it is no longer at ``old``)."""
        await self._write(lambda conn: self.advance(conn, name, old, new))

    def write(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run ``fn`` in the writer's next group (for feature stores); awaitable."""
        return self._write(fn)

    def read(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run ``fn`` on a reader connection in the thread pool; awaitable."""
        return self._read(fn)

    # --- stored @contexts ---------------------------------------------------------------

    async def context_put(self, tenant: str, ident: str, url: str, kind: str, body: Any) -> None:
        """Store (or replace) a JSON-LD context."""

        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR REPLACE INTO jsonld_contexts VALUES (?, ?, ?, ?, ?, ?)",
                (ident, tenant, url, kind, orjson.dumps(body), now_iso()),
            )

        await self._write(run)

    async def context_get(self, ident: str) -> dict[str, Any] | None:
        """A stored context by id."""

        def run(conn: sqlite3.Connection) -> dict[str, Any] | None:
            row = conn.execute(
                "SELECT ident, url, kind, body, created_at FROM jsonld_contexts WHERE ident = ?",
                (ident,),
            ).fetchone()
            return _context_row(row, with_body=True) if row else None

        result: dict[str, Any] | None = await self._read(run)
        return result

    async def context_list(self) -> list[dict[str, Any]]:
        """Every stored context, oldest first."""

        def run(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = conn.execute(
                "SELECT ident, url, kind, body, created_at FROM jsonld_contexts ORDER BY created_at"
            ).fetchall()
            return [_context_row(r, with_body=False) for r in rows]

        result: list[dict[str, Any]] = await self._read(run)
        return result

    async def context_delete(self, ident: str) -> bool:
        """Delete a stored context."""

        def run(conn: sqlite3.Connection) -> bool:
            return (
                conn.execute("DELETE FROM jsonld_contexts WHERE ident = ?", (ident,)).rowcount > 0
            )

        result: bool = await self._write(run)
        return result


_LOG_INSERT = "INSERT INTO changes VALUES (?, ?, ?, ?, ?, ?, ?)"


def _last_seq(conn: sqlite3.Connection) -> int:
    """The last change-log position handed out (inside the write transaction)."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'changes'").fetchone()
    return int(row[0]) if row else 0


def _log_row(change: Change, doc: bytes) -> tuple[int, str, str, str, str, bytes, bytes]:
    """A ``changes`` row; ``doc`` is the entity's stored JSON (already encoded)."""
    return (
        change.seq,
        change.tenant,
        change.entity_id,
        change.op,
        change.at,
        doc,
        orjson.dumps(change.prev),
    )


def _change_of(row: Sequence[Any]) -> Change:
    seq, tenant, entity_id, op, at, doc, prev = row
    return Change(seq, tenant, entity_id, op, at, orjson.loads(doc), orjson.loads(prev))


def _context_row(row: Sequence[Any], *, with_body: bool) -> dict[str, Any]:
    out = {"id": row[0], "url": row[1], "kind": row[2], "createdAt": row[4]}
    if with_body:
        out["body"] = orjson.loads(row[3])
    return out


def _split_sql(sql: str) -> Iterator[str]:
    """The statements of a migration script (``--`` comments dropped first, so they may hold
    semicolons; the scripts hold no ``--`` or ``;`` inside string literals)."""
    text = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
    for statement in text.split(";"):
        if statement.strip():
            yield statement.strip()
