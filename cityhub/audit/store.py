"""The audit log's table (``audit_log``, migration 0010): append, verify, query, export.

Appends are serialised so the chain never forks, on both backends and across worker
processes: on SQLite the head is read and the entry inserted in one job of the storage's single
writer (``BEGIN IMMEDIATE``, which also excludes other processes); on PostgreSQL the head is
read and the entry inserted in one transaction holding a transaction-level advisory lock. The
read of the head is a statement of its own after the lock is held, so under READ COMMITTED it
sees the entry the previous holder committed. ``seq`` is the primary key as well: two entries
claiming the same predecessor could not both be stored.

``at`` never goes back along the chain (an entry takes its predecessor's time if the clock
did), so a time range of entries is a contiguous range of ``seq``.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from cityhub.audit.chain import ACTION_RE, GENESIS, MEMBERS, canonical, entry_hash, format_at
from cityhub.audit.chain import now_at as _now_at
from cityhub.errors import BadRequestData, StorageError
from cityhub.storage.base import Storage
from cityhub.storage.plain import PlainSql
from cityhub.storage.postgres import PostgresStorage, numbered
from cityhub.storage.sqlite import SQLiteStorage

MAX_LIMIT = 1000
_MAX_INT = 2**63 - 1
_PAGE = 1000  # entries read at a time by verify and export
_APPEND_LOCK = 0x617564697400  # "audit\0": PostgreSQL advisory lock serialising appends
_COLUMNS = ", ".join(MEMBERS)
_SELECT = f"SELECT {_COLUMNS} FROM audit_log"
_INSERT = f"INSERT INTO audit_log ({_COLUMNS}) VALUES ({', '.join('?' * len(MEMBERS))})"
_HEAD = "SELECT seq, hash, at FROM audit_log ORDER BY seq DESC LIMIT 1"
# SQLite's migration runner splits scripts at every ';', so these are created here
_SQLITE_GUARDS = tuple(
    f"CREATE TRIGGER IF NOT EXISTS audit_log_no_{op.lower()} BEFORE {op} ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END"
    for op in ("UPDATE", "DELETE")
)
_PREFIX_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*\.\*$")
_SPACED_OFFSET = re.compile(r"(T[0-9:.]+) ([0-9]{2}(:?[0-9]{2})?)$")  # '+' read as ' ' in a URL


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One entry of the audit log, as stored and hashed."""

    seq: int
    at: str
    actor: str
    action: str
    target: str
    tenant: str
    outcome: str
    ip: str
    detail: dict[str, Any]
    prev: str
    hash: str

    def json(self) -> dict[str, Any]:
        """The entry as a JSON object (the members its hash covers, and ``hash``)."""
        return {name: getattr(self, name) for name in MEMBERS}

    def row(self) -> tuple[Any, ...]:
        """The table row (``detail`` as canonical JSON text)."""
        return tuple(
            canonical(self.detail).decode() if n == "detail" else getattr(self, n) for n in MEMBERS
        )

    @classmethod
    def of_row(cls, row: Sequence[Any]) -> AuditEntry:
        """An entry from a table row (ValueError if its detail is not a JSON object)."""
        seq, at, actor, action, target, tenant, outcome, ip, raw, prev, hash_ = row
        try:
            detail = orjson.loads(raw)
        except orjson.JSONDecodeError as err:
            raise ValueError(f"detail is not JSON: {err}") from err
        if not isinstance(detail, dict):
            raise ValueError("detail is not a JSON object")
        return cls(int(seq), at, actor, action, target, tenant, outcome, ip, detail, prev, hash_)


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """What :meth:`AuditLog.verify` found.

    ``entries`` is the length of the intact chain from seq 1 and ``last_hash`` the hash of its
    last entry; when ``ok`` is false, ``broken_seq`` is the first seq that breaks it (for a gap:
    the first missing seq) and ``reason`` says how.
    """

    ok: bool
    entries: int
    last_hash: str = GENESIS
    broken_seq: int | None = None
    reason: str = ""

    def json(self) -> dict[str, Any]:
        """The JSON body of ``GET /cityhub/v1/audit/verify``."""
        body: dict[str, Any] = {"ok": self.ok, "entries": self.entries, "lastHash": self.last_hash}
        if not self.ok:
            body |= {"brokenAt": self.broken_seq, "reason": self.reason}
        return body


@dataclass(frozen=True, slots=True)
class Span:
    """The entries of a time range: ``first``..``last`` seq (contiguous), their times."""

    first: int
    last: int
    first_at: str
    last_at: str

    @property
    def count(self) -> int:
        return self.last - self.first + 1


class AuditLog:
    """The append-only, hash-chained audit log of a hub (one per worker; workers share it)."""

    def __init__(self, storage: Storage) -> None:
        if not isinstance(storage, SQLiteStorage | PostgresStorage):
            raise TypeError(f"the audit log needs SQLite or PostgreSQL storage, not {storage!r}")
        self.storage = storage
        self.db = PlainSql(storage)
        self._guarded = isinstance(storage, PostgresStorage)  # PostgreSQL: by the migration

    async def open(self) -> None:
        """Make sure the append-only triggers exist (SQLite; run once storage is open)."""
        if not self._guarded and isinstance(self.storage, SQLiteStorage):
            await self.storage.write(_guard)
            self._guarded = True

    # --- writing ---------------------------------------------------------------------------

    async def record(
        self,
        actor: str,
        action: str,
        *,
        target: str = "",
        tenant: str = "",
        outcome: str = "ok",
        detail: Mapping[str, Any] | None = None,
        ip: str = "",
    ) -> AuditEntry:
        """Append one entry, committed when this returns.

        ``action`` is a dotted name (``auth.login``, ``cctv.grant``, ...); ``detail`` a JSON
        object (anything orjson serialises; it is stored, hashed and returned as it reads back).
        The texts are stored as given (NUL and lone surrogates replaced), ``actor`` may be
        empty (a failed login with no user name is still recorded). ValueError for a malformed
        action or an empty outcome, TypeError for a detail that is not a JSON object.
        """
        if not isinstance(action, str) or not ACTION_RE.fullmatch(action):
            raise ValueError(f"audit action must be a dotted lowercase name, got {action!r}")
        texts = {
            "actor": _text("actor", actor),
            "action": action,
            "target": _text("target", target),
            "tenant": _text("tenant", tenant),
            "outcome": _text("outcome", outcome),
            "ip": _text("ip", ip),
        }
        if not texts["outcome"]:
            raise ValueError("an audit entry needs an outcome")
        body = _detail(detail)
        st = self.storage
        if isinstance(st, SQLiteStorage):
            guarded = self._guarded

            def append(conn: sqlite3.Connection) -> AuditEntry:
                if not guarded:
                    _guard(conn)
                entry = _next(conn.execute(_HEAD).fetchone(), texts, body)
                conn.execute(_INSERT, entry.row())
                return entry

            written: AuditEntry = await st.write(append)
            self._guarded = True
            return written
        async with st.transaction() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _APPEND_LOCK)
            entry = _next(await conn.fetchrow(_HEAD), texts, body)
            await conn.execute(numbered(_INSERT), *entry.row())
        return entry

    # --- checking --------------------------------------------------------------------------

    async def verify(self) -> VerifyResult:
        """Walk the chain from seq 1, a page at a time; the first break, if any."""
        expected, prev = 1, GENESIS
        async for rows in self._pages(0, None):
            for row in rows:
                seq = int(row[0])
                if seq != expected:
                    if seq > expected:
                        missing = (
                            f"entry {expected} is"
                            if seq == expected + 1
                            else f"entries {expected} to {seq - 1} are"
                        )
                        why = f"gap in seq: {missing} missing"
                        return VerifyResult(False, expected - 1, prev, expected, why)
                    why = f"unexpected seq {seq} where {expected} should be"
                    return VerifyResult(False, expected - 1, prev, seq, why)
                try:
                    entry = AuditEntry.of_row(row)
                except ValueError as err:
                    return VerifyResult(False, seq - 1, prev, seq, f"unreadable entry: {err}")
                if entry_hash(entry.json()) != entry.hash:
                    why = "hash mismatch: the entry is not as it was written"
                    return VerifyResult(False, seq - 1, prev, seq, why)
                if entry.prev != prev:
                    why = (
                        "prev mismatch: the first entry must have prev 0...0"
                        if seq == 1
                        else f"prev mismatch: prev is not the hash of entry {seq - 1}"
                    )
                    return VerifyResult(False, seq - 1, prev, seq, why)
                expected, prev = seq + 1, entry.hash
        return VerifyResult(True, expected - 1, prev)

    # --- reading ---------------------------------------------------------------------------

    async def query(
        self,
        actor: str | None = None,
        action: str | None = None,
        tenant: str | None = None,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[AuditEntry], int]:
        """Entries matching every filter given, newest first, and how many match in all.

        ``action`` is a name or a prefix ending in ``.*`` (``auth.*``); ``since`` is inclusive,
        ``until`` exclusive (ISO 8601; no offset means UTC). BadRequestData for bad values.
        """
        if not 1 <= limit <= MAX_LIMIT:
            raise BadRequestData(f"limit must be between 1 and {MAX_LIMIT}")
        if not 0 <= offset <= _MAX_INT:
            raise BadRequestData(f"offset must be between 0 and {_MAX_INT}")
        where, args = _filters(actor, action, tenant, since, until)
        (total,) = (await self.db.rows(f"SELECT count(*) FROM audit_log{where}", *args))[0]
        rows = await self.db.rows(
            f"{_SELECT}{where} ORDER BY seq DESC LIMIT ? OFFSET ?", *args, limit, offset
        )
        return [_entry(r) for r in rows], int(total)

    async def span(
        self, since: str | datetime | None = None, until: str | datetime | None = None
    ) -> Span | None:
        """The entries of a time range as a seq range (None when there are none)."""
        where, args = _filters(None, None, None, since, until)
        sql = f"SELECT min(seq), max(seq), min(at), max(at) FROM audit_log{where}"
        first, last, first_at, last_at = (await self.db.rows(sql, *args))[0]
        if first is None:
            return None
        return Span(int(first), int(last), first_at, last_at)

    async def entries(self, first: int, last: int) -> AsyncIterator[list[AuditEntry]]:
        """Entries ``first``..``last`` in seq order, a page at a time."""
        async for rows in self._pages(first - 1, last):
            yield [_entry(r) for r in rows]

    async def _pages(self, after: int, last: int | None) -> AsyncIterator[list[tuple[Any, ...]]]:
        upto = "" if last is None else f" AND seq <= {int(last)}"
        sql = f"{_SELECT} WHERE seq > ?{upto} ORDER BY seq LIMIT {_PAGE}"
        while True:
            rows = await self.db.rows(sql, after)
            if rows:
                yield rows
            if len(rows) < _PAGE:
                return
            after = int(rows[-1][0])


def moment(name: str, value: str | datetime | None) -> str | None:
    """A time parameter as the log writes times (BadRequestData if it is not ISO 8601)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            found = datetime.fromisoformat(_SPACED_OFFSET.sub(r"\1+\2", value.strip()))
        except ValueError as err:
            raise BadRequestData(
                f"{name} must be an ISO 8601 date-time such as 2026-11-22T09:00:00Z, got {value!r}"
            ) from err
    else:
        found = value
    if found.tzinfo is None:
        found = found.replace(tzinfo=UTC)
    try:
        return format_at(found)
    except (OverflowError, ValueError) as err:
        raise BadRequestData(f"{name} is out of range: {value!r}") from err


def _filters(
    actor: str | None,
    action: str | None,
    tenant: str | None,
    since: str | datetime | None,
    until: str | datetime | None,
) -> tuple[str, list[Any]]:
    conds: list[str] = []
    args: list[Any] = []
    if actor is not None:
        conds.append("actor = ?")
        args.append(actor)
    if action is not None:
        if _PREFIX_RE.fullmatch(action):
            prefix = action[:-1]  # "auth.*" -> "auth."
            conds.append("substr(action, 1, ?) = ?")
            args += [len(prefix), prefix]
        elif ACTION_RE.fullmatch(action):
            conds.append("action = ?")
            args.append(action)
        else:
            raise BadRequestData(
                f"action must be an action name (auth.login) or a prefix ending in .* "
                f"(auth.*), got {action!r}"
            )
    if tenant is not None:
        conds.append("tenant = ?")
        args.append(tenant)
    start, end = moment("since", since), moment("until", until)
    if start is not None and end is not None and start >= end:
        raise BadRequestData("since must be before until")
    if start is not None:
        conds.append("at >= ?")
        args.append(start)
    if end is not None:
        conds.append("at < ?")
        args.append(end)
    return (" WHERE " + " AND ".join(conds) if conds else ""), args


def _next(head: Sequence[Any] | None, texts: dict[str, str], detail: dict[str, Any]) -> AuditEntry:
    """The entry following ``head`` (seq, hash, at of the last entry; None when empty)."""
    now = _now_at()
    if head is None:
        seq, prev, at = 1, GENESIS, now
    else:  # the clock may have gone back: time never does along the chain
        seq, prev, at = int(head[0]) + 1, str(head[1]), max(now, str(head[2]))
    members: dict[str, Any] = {"seq": seq, "at": at, **texts, "detail": detail, "prev": prev}
    return AuditEntry(**members, hash=entry_hash(members))


def _guard(conn: sqlite3.Connection) -> None:
    for sql in _SQLITE_GUARDS:
        conn.execute(sql)


def _entry(row: Sequence[Any]) -> AuditEntry:
    try:
        return AuditEntry.of_row(row)
    except ValueError as err:
        raise StorageError(
            f"audit entry {row[0]} is damaged ({err}); GET /cityhub/v1/audit/verify"
        ) from err


def _text(name: str, value: str) -> str:
    """Text as both backends store it: no NUL (PostgreSQL refuses it), no lone surrogates."""
    if not isinstance(value, str):
        raise TypeError(f"audit {name} must be a string, not {type(value).__name__}")
    clean = value.replace("\x00", "\ufffd")
    return clean.encode("utf-8", "replace").decode("utf-8")


def _detail(detail: Mapping[str, Any] | None) -> dict[str, Any]:
    """The detail as it will read back from the database (so its hash does too)."""
    if detail is None:
        return {}
    if not isinstance(detail, Mapping):
        raise TypeError(f"audit detail must be a JSON object, not {type(detail).__name__}")
    try:
        text = orjson.dumps(dict(detail), default=str, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError as err:
        raise TypeError(f"audit detail is not JSON-serialisable: {err}") from err
    found: dict[str, Any] = orjson.loads(text)
    return found
