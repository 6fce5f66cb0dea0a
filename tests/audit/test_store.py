"""AuditLog on both backends: the chain across many and concurrent appends (one worker and two),
verification and the tampering it catches, and the append-only triggers."""

from __future__ import annotations

import asyncio
import hashlib
import re
import sqlite3
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
import pytest

from cityhub.audit import AuditEntry, AuditLog
from cityhub.audit import store as audit_store
from cityhub.audit.store import moment
from cityhub.errors import BadRequestData
from cityhub.settings import Settings
from cityhub.storage import storage_for
from tests.audit.conftest import RawSql

pytestmark = pytest.mark.anyio
ZEROS = "0" * 64
AT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def independent_hash(member: dict[str, Any]) -> str:
    """The hash as docs/audit.md defines it, computed here without cityhub's code."""
    rest = {k: v for k, v in member.items() if k != "hash"}
    return hashlib.sha256(orjson.dumps(rest, option=orjson.OPT_SORT_KEYS)).hexdigest()


def assert_chain(entries: list[dict[str, Any]]) -> None:
    """seq 1..n without gaps, each entry's hash right and linked to the one before."""
    prev = ZEROS
    for n, e in enumerate(entries, 1):
        assert e["seq"] == n
        assert e["prev"] == prev
        assert e["hash"] == independent_hash(e)
        assert AT.match(e["at"]), e["at"]
        prev = e["hash"]
    times = [e["at"] for e in entries]
    assert times == sorted(times)


async def all_entries(audit: AuditLog) -> list[dict[str, Any]]:
    span = await audit.span()
    if span is None:
        return []
    return [e.json() async for page in audit.entries(span.first, span.last) for e in page]


async def test_many_appends_make_one_chain(audit: AuditLog) -> None:
    assert (await audit.verify()).json() == {"ok": True, "entries": 0, "lastHash": ZEROS}
    written = []
    for i in range(60):
        written.append(
            await audit.record(
                f"user{i % 3}",
                ["auth.login", "role.grant", "cctv.view"][i % 3],
                target=f"urn:ngsi-ld:CCTVCamera:{i}",
                tenant="seoul" if i % 2 else "",
                outcome="ok" if i % 5 else "denied",
                detail={"n": i, "why": "점검", "nested": {"b": [1, 2.5, None], "a": True}},
                ip="10.0.0.7",
            )
        )
    assert [e.seq for e in written] == list(range(1, 61))
    stored = await all_entries(audit)
    assert stored == [e.json() for e in written]
    assert_chain(stored)
    assert stored[0]["prev"] == ZEROS
    result = await audit.verify()
    assert result.ok and result.entries == 60 and result.last_hash == written[-1].hash


async def test_verify_reads_in_pages(audit: AuditLog, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_store, "_PAGE", 7)
    for i in range(30):
        await audit.record("ops", "admin.action", detail={"i": i})
    assert (await audit.verify()).json()["entries"] == 30
    assert len(await all_entries(audit)) == 30


async def test_concurrent_appends_never_fork(audit: AuditLog) -> None:
    written = await asyncio.gather(
        *(audit.record(f"u{i}", "event.transition", detail={"i": i}) for i in range(150))
    )
    assert sorted(e.seq for e in written) == list(range(1, 151))
    assert len({e.prev for e in written}) == 150  # no two entries claim one predecessor
    assert_chain(await all_entries(audit))
    assert (await audit.verify()).ok


async def test_two_workers_share_one_chain(audit: AuditLog, settings: Settings) -> None:
    """A second storage on the same database stands in for another worker process."""
    other = storage_for(settings.database_url, settings)
    await other.open()
    try:
        second = AuditLog(other)
        await second.open()
        await asyncio.gather(
            *(
                (audit if i % 2 else second).record("w", "auth.login", detail={"i": i})
                for i in range(120)
            )
        )
    finally:
        await other.close()
    entries = await all_entries(audit)
    assert len(entries) == 120
    assert_chain(entries)
    assert sorted(e["detail"]["i"] for e in entries) == list(range(120))


async def test_detail_reads_back_as_hashed(audit: AuditLog) -> None:
    entry = await audit.record(
        "admin\x00",
        "data.export",
        detail={
            "when": datetime(2026, 11, 22, 9, 0, tzinfo=UTC),
            1: "int key",
            "float": 0.1,
            "big": 2**63 - 1,
            "text": '줄\n"따옴표"',
        },
    )
    assert entry.actor == "admin\ufffd"
    assert entry.detail == {
        "when": "2026-11-22T09:00:00+00:00",
        "1": "int key",
        "float": 0.1,
        "big": 2**63 - 1,
        "text": '줄\n"따옴표"',
    }
    (found,), total = await audit.query()
    assert total == 1 and found == entry
    assert (await audit.verify()).ok


async def test_time_never_goes_back(audit: AuditLog, monkeypatch: pytest.MonkeyPatch) -> None:
    first = await audit.record("a", "auth.login")
    monkeypatch.setattr(audit_store, "_now_at", lambda: "2001-01-01T00:00:00.000000Z")
    second = await audit.record("a", "auth.logout")
    assert second.at == first.at
    assert (await audit.verify()).ok


async def test_record_refuses_bad_input(audit: AuditLog) -> None:
    bad = [
        "login",
        "Auth.login",
        "auth.",
        "auth..login",
        ".auth",
        "auth.log-in",
        "",
        "auth.login\n",
    ]
    for action in bad:
        with pytest.raises(ValueError, match="action"):
            await audit.record("a", action)
    with pytest.raises(ValueError, match="outcome"):
        await audit.record("a", "auth.login", outcome="")
    with pytest.raises(TypeError):
        await audit.record("a", "auth.login", detail=["not", "an", "object"])  # type: ignore[arg-type]
    assert (await audit.query())[1] == 0
    # a failed login is recorded whatever user name was tried, none included
    entry = await audit.record("", "auth.login_failed", outcome="denied", ip="198.51.100.4")
    assert (entry.seq, entry.actor) == (1, "")


async def test_update_and_delete_are_refused(audit: AuditLog, raw: RawSql) -> None:
    await audit.record("a", "user.create", target="kim", detail={"role": "viewer"})
    errors = (sqlite3.DatabaseError, asyncpg.PostgresError)
    with pytest.raises(errors, match="append-only"):
        await raw.execute('UPDATE audit_log SET detail = \'{"role": "admin"}\' WHERE seq = 1')
    with pytest.raises(errors, match="append-only"):
        await raw.execute("DELETE FROM audit_log WHERE seq = 1")
    if not raw.sqlite:
        with pytest.raises(errors, match="append-only"):
            await raw.execute("TRUNCATE audit_log")
    (entry,), _ = await audit.query()
    assert entry.detail == {"role": "viewer"}
    assert (await audit.verify()).ok


async def test_triggers_exist_before_the_first_entry(audit: AuditLog, raw: RawSql) -> None:
    if raw.sqlite:
        sql = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'"
    else:
        sql = "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_log'::regclass"
    names = {r[0] for r in await raw.fetch(sql)}
    assert {"audit_log_no_update", "audit_log_no_delete"} <= names or {
        "audit_log_no_change",
        "audit_log_no_truncate",
    } <= names


async def _ten(audit: AuditLog) -> list[AuditEntry]:
    return [await audit.record("a", "cctv.view", detail={"n": i}) for i in range(10)]


async def test_a_changed_entry_is_found(audit: AuditLog, raw: RawSql) -> None:
    await _ten(audit)
    await raw.drop_guards()
    await raw.execute("UPDATE audit_log SET detail = '{\"n\": 99}' WHERE seq = 4")
    result = await audit.verify()
    assert not result.ok
    assert result.broken_seq == 4 and result.entries == 3
    assert result.reason.startswith("hash mismatch")


async def test_a_changed_entry_with_its_hash_redone_is_found(audit: AuditLog, raw: RawSql) -> None:
    entries = await _ten(audit)
    forged = entries[3].json() | {"actor": "someone-else"}
    forged["hash"] = independent_hash(forged)
    await raw.drop_guards()
    await raw.execute(
        f"UPDATE audit_log SET actor = 'someone-else', hash = '{forged['hash']}' WHERE seq = 4"
    )
    result = await audit.verify()
    assert (result.ok, result.broken_seq, result.entries) == (False, 5, 4)
    assert result.reason == "prev mismatch: prev is not the hash of entry 4"


async def test_other_columns_are_covered(audit: AuditLog, raw: RawSql) -> None:
    await _ten(audit)
    await raw.drop_guards()
    for n, change in enumerate(
        ["at = '2020-01-01T00:00:00.000000Z'", "ip = '1.2.3.4'", "outcome = 'denied'"], 1
    ):
        await raw.execute(f"UPDATE audit_log SET {change} WHERE seq = {n + 5}")
    result = await audit.verify()
    assert (result.ok, result.broken_seq) == (False, 6)


async def test_a_deleted_entry_leaves_a_gap(audit: AuditLog, raw: RawSql) -> None:
    entries = await _ten(audit)
    await raw.drop_guards()
    await raw.execute("DELETE FROM audit_log WHERE seq IN (6, 7)")
    result = await audit.verify()
    assert (result.ok, result.broken_seq, result.entries) == (False, 6, 5)
    assert result.reason == "gap in seq: entries 6 to 7 are missing"
    assert result.last_hash == entries[4].hash
    await raw.execute("DELETE FROM audit_log WHERE seq = 1")
    result = await audit.verify()
    assert (result.ok, result.broken_seq, result.entries) == (False, 1, 0)
    assert result.reason == "gap in seq: entry 1 is missing"


async def test_unreadable_detail_is_reported(audit: AuditLog, raw: RawSql) -> None:
    await _ten(audit)
    await raw.drop_guards()
    await raw.execute("UPDATE audit_log SET detail = 'not json' WHERE seq = 2")
    result = await audit.verify()
    assert (result.ok, result.broken_seq) == (False, 2)
    assert result.reason.startswith("unreadable entry")


async def test_query_filters_and_pages(audit: AuditLog) -> None:
    rows = [
        ("kim", "auth.login", ""),
        ("kim", "auth.login_failed", ""),
        ("lee", "authz.check", "seoul"),
        ("lee", "cctv.grant", "seoul"),
        ("park", "auth.login", "busan"),
        ("kim", "role.grant", "seoul"),
    ]
    written = [await audit.record(a, act, tenant=t) for a, act, t in rows]
    newest_first = list(reversed(written))

    async def seqs(**kw: Any) -> tuple[list[int], int]:
        found, total = await audit.query(**kw)
        return [e.seq for e in found], total

    assert await seqs() == ([6, 5, 4, 3, 2, 1], 6)
    assert await seqs(actor="kim") == ([6, 2, 1], 3)
    assert await seqs(action="auth.login") == ([5, 1], 2)
    assert await seqs(action="auth.*") == ([5, 2, 1], 3)  # not authz.check
    assert await seqs(tenant="seoul") == ([6, 4, 3], 3)
    assert await seqs(tenant="") == ([2, 1], 2)
    assert await seqs(actor="kim", action="auth.*") == ([2, 1], 2)
    assert await seqs(since=written[2].at, until=written[4].at) == ([4, 3], 2)
    assert await seqs(limit=2) == ([6, 5], 6)
    assert await seqs(limit=2, offset=4) == ([2, 1], 6)
    assert await seqs(offset=10) == ([], 6)
    assert (await audit.query(limit=1))[0] == newest_first[:1]
    for bad in [
        {"limit": 0},
        {"limit": 1001},
        {"offset": -1},
        {"action": "auth"},
        {"action": "auth.*\n"},
    ]:
        with pytest.raises(BadRequestData):
            await audit.query(**bad)


def test_moments() -> None:
    assert moment("since", "2026-11-22") == "2026-11-22T00:00:00.000000Z"
    assert moment("since", "2026-11-22T09:00:00+09:00") == "2026-11-22T00:00:00.000000Z"
    assert moment("since", "2026-11-22T09:00:00 09:00") == "2026-11-22T00:00:00.000000Z"
    assert moment("since", "2026-11-22T09:00:00.5Z") == "2026-11-22T09:00:00.500000Z"
    assert moment("since", None) is None
    for bad in ["yesterday", "2026-13-01", "0001-01-01T00:00:00+09:00"]:
        with pytest.raises(BadRequestData):
            moment("since", bad)
