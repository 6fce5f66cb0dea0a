"""The audit API on both backends: listing with filters and pages, verify, exports (the chain
recomputed from the file independently), the export's own record, and bad parameters."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from cityhub.audit import AuditEntry, AuditLog
from cityhub.audit import routes as audit_routes
from tests.audit.conftest import RawSql
from tests.audit.test_store import ZEROS, independent_hash
from tests.ngsild_api import assert_problem

pytestmark = pytest.mark.anyio
A = "/cityhub/v1/audit"


async def _some(audit: AuditLog, n: int = 12) -> list[AuditEntry]:
    actions = ["auth.login", "auth.login_failed", "cctv.grant", "cctv.view", "cctv.revoke"]
    return [
        await audit.record(
            ["kim", "lee", "park"][i % 3],
            actions[i % len(actions)],
            target=f"urn:ngsi-ld:CCTVCamera:{i % 4}",
            tenant=["", "seoul"][i % 2],
            detail={"i": i, "reason": "긴급 구조" if i % 5 == 2 else ""},
            ip="192.0.2.1",
        )
        for i in range(n)
    ]


def _check_file_chain(entries: list[dict[str, Any]], first_prev: str) -> None:
    """What an auditor does with an export: recompute every hash and link."""
    prev = first_prev
    for e in entries:
        assert e["prev"] == prev, e["seq"]
        assert independent_hash(e) == e["hash"], e["seq"]
        prev = e["hash"]
    seqs = [e["seq"] for e in entries]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


async def test_list_filters_and_pages(api: httpx.AsyncClient, audit: AuditLog) -> None:
    written = await _some(audit)
    r = await api.get(A)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["count"] == 12
    assert body["entries"] == [e.json() for e in reversed(written)]

    async def seqs(**params: Any) -> tuple[list[int], int]:
        r = await api.get(A, params=params)
        assert r.status_code == 200, r.text
        return [e["seq"] for e in r.json()["entries"]], r.json()["count"]

    assert await seqs(actor="lee") == ([11, 8, 5, 2], 4)
    assert await seqs(action="cctv.*") == ([10, 9, 8, 5, 4, 3], 6)
    assert await seqs(action="cctv.grant") == ([8, 3], 2)
    assert await seqs(tenant="seoul", actor="kim") == ([10, 4], 2)
    assert await seqs(tenant="", action="auth.*") == ([11, 7, 1], 3)
    assert await seqs(since=written[3].at, until=written[6].at) == ([6, 5, 4], 3)
    assert await seqs(limit=5, offset=5) == ([7, 6, 5, 4, 3], 12)
    assert await seqs(actor="nobody") == ([], 0)
    assert await seqs(actor="") == (list(range(12, 0, -1)), 12)  # empty: no filter


async def test_verify(api: httpx.AsyncClient, audit: AuditLog, raw: RawSql) -> None:
    r = await api.get(f"{A}/verify")
    assert r.json() == {"ok": True, "entries": 0, "lastHash": ZEROS}
    written = await _some(audit)
    r = await api.get(f"{A}/verify")
    assert r.status_code == 200
    assert r.json() == {"ok": True, "entries": 12, "lastHash": written[-1].hash}
    await raw.drop_guards()
    await raw.execute("UPDATE audit_log SET target = 'urn:x' WHERE seq = 7")
    r = await api.get(f"{A}/verify")
    assert r.status_code == 200
    body = r.json()
    assert body["ok"] is False and body["brokenAt"] == 7 and body["entries"] == 6
    assert body["reason"].startswith("hash mismatch")
    assert body["lastHash"] == written[5].hash


async def test_export_jsonl(api: httpx.AsyncClient, audit: AuditLog) -> None:
    written = await _some(audit)
    r = await api.get(f"{A}/export", params={"format": "jsonl"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/x-ndjson")
    stamp = r"\d{8}T\d{6}Z"
    disposition = r.headers["content-disposition"]
    assert re.fullmatch(
        rf'attachment; filename="cityhub-audit-{stamp}-{stamp}\.jsonl"', disposition
    )
    assert _compact(written[0].at) in disposition and _compact(written[-1].at) in disposition
    lines = r.content.decode().splitlines()
    entries = [orjson.loads(line) for line in lines]
    assert [e["seq"] for e in entries] == list(range(1, 13))  # its own record comes after
    assert entries == [e.json() for e in written]
    _check_file_chain(entries, ZEROS)

    # the export is recorded, by the request's principal ("system" when the auth gate is
    # off, "anonymous" without the gate), from the client's address
    (last,), total = await audit.query(limit=1)
    assert total == 13
    assert (last.seq, last.action, last.target) == (13, "data.export", "audit_log")
    assert last.actor in ("system", "anonymous")
    assert last.detail == {
        "dataset": "audit",
        "format": "jsonl",
        "since": None,
        "until": None,
        "fromSeq": 1,
        "toSeq": 12,
        "entries": 12,
    }
    assert last.ip == "127.0.0.1"
    assert (await audit.verify()).ok


async def test_export_of_a_time_range(api: httpx.AsyncClient, audit: AuditLog) -> None:
    written = await _some(audit)
    since, until = written[4].at, written[9].at
    r = await api.get(f"{A}/export", params={"since": since, "until": until})
    assert r.status_code == 200, r.text
    entries = [orjson.loads(line) for line in r.content.splitlines()]
    assert [e["seq"] for e in entries] == [5, 6, 7, 8, 9]
    _check_file_chain(entries, written[3].hash)  # anchored on the entry before the range
    name = f"cityhub-audit-{_compact(since)}-{_compact(until)}.jsonl"
    assert r.headers["content-disposition"] == f'attachment; filename="{name}"'


async def test_export_csv(api: httpx.AsyncClient, audit: AuditLog) -> None:
    written = await _some(audit)
    r = await api.get(f"{A}/export", params={"format": "csv"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"].endswith('.csv"')
    rows = list(csv.DictReader(io.StringIO(r.content.decode())))
    assert list(rows[0]) == [
        "seq",
        "at",
        "actor",
        "action",
        "target",
        "tenant",
        "outcome",
        "ip",
        "detail",
        "prev",
        "hash",
    ]
    entries = [
        row | {"seq": int(row["seq"]), "detail": orjson.loads(row["detail"])} for row in rows
    ]
    assert entries == [e.json() for e in written]
    _check_file_chain(entries, ZEROS)


async def test_empty_export(api: httpx.AsyncClient, audit: AuditLog) -> None:
    r = await api.get(f"{A}/export", params={"format": "csv"})
    assert r.status_code == 200
    assert r.content.decode().splitlines() == [
        "seq,at,actor,action,target,tenant,outcome,ip,detail,prev,hash"
    ]
    r = await api.get(f"{A}/export", params={"until": "2000-01-01"})
    assert r.status_code == 200 and r.content == b""
    assert re.search(
        r'filename="cityhub-audit-20000101T000000Z-20000101T000000Z\.jsonl"$',
        r.headers["content-disposition"],
    )
    # the records of those two exports are all the next one holds
    r = await api.get(f"{A}/export")
    first, second = [orjson.loads(line) for line in r.content.splitlines()]
    assert (first["seq"], first["action"], first["prev"]) == (1, "data.export", ZEROS)
    assert second["detail"]["until"] == "2000-01-01T00:00:00.000000Z"
    assert first["detail"] == {
        "dataset": "audit",
        "format": "csv",
        "since": None,
        "until": None,
        "entries": 0,
    }
    assert (await audit.query())[1] == 3


@pytest.mark.parametrize("principal", [SimpleNamespace(name="auditor-choi"), None])
async def test_export_is_recorded_with_the_principal(
    app: Starlette, audit: AuditLog, principal: Any
) -> None:
    """The auth gate leaves the caller in request.state.principal: here a stand-in sets it,
    before the audit routes alone (no gate to replace it), or leaves none (anonymous)."""
    bare = Starlette(routes=audit_routes.routes)
    bare.state.hub = app.state.hub

    async def signed_in(scope: Scope, receive: Receive, send: Send) -> None:
        if principal is not None:
            scope.setdefault("state", {})["principal"] = principal
        await bare(scope, receive, send)

    transport = httpx.ASGITransport(app=signed_in, client=("203.0.113.9", 4711))
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as c:
        r = await c.get(f"{A}/export", params={"format": "csv"})
    assert r.status_code == 200
    (last,), _ = await audit.query(limit=1)
    actor = principal.name if principal else "anonymous"
    assert (last.actor, last.action, last.ip) == (actor, "data.export", "203.0.113.9")


@pytest.mark.parametrize(
    ("path", "params"),
    [
        (A, {"limit": "0"}),
        (A, {"limit": "1001"}),
        (A, {"limit": "ten"}),
        (A, {"offset": "-1"}),
        (A, {"since": "yesterday"}),
        (A, {"until": "2026-02-30T00:00:00Z"}),
        (A, {"since": "2026-01-02", "until": "2026-01-01"}),
        (A, {"action": "Auth.Login"}),
        (A, {"action": "auth.**"}),
        (A, {"action": "*"}),
        (f"{A}/export", {"format": "xml"}),
        (f"{A}/export", {"since": "not-a-time"}),
    ],
)
async def test_bad_parameters(
    api: httpx.AsyncClient, audit: AuditLog, path: str, params: dict[str, str]
) -> None:
    r = await api.get(path, params=params)
    assert_problem(r, "BadRequestData", 400)
    assert (await audit.query())[1] == 0  # a refused export records nothing


async def test_no_route_writes(api: httpx.AsyncClient) -> None:
    for method in ["POST", "PUT", "PATCH", "DELETE"]:
        for path in [A, f"{A}/verify", f"{A}/export"]:
            r = await api.request(method, path, json={"actor": "x", "action": "auth.login"})
            assert r.status_code == 405, (method, path)
            assert "POST" not in r.headers["allow"]


async def test_streams_many_entries(
    api: httpx.AsyncClient, audit: AuditLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cityhub.audit import store

    monkeypatch.setattr(store, "_PAGE", 4)
    written = await _some(audit, 23)
    chunks: list[bytes] = []
    async with api.stream("GET", f"{A}/export") as r:
        async for chunk in _raw(r):
            chunks.append(chunk)
    entries = [orjson.loads(line) for line in b"".join(chunks).splitlines()]
    assert [e["seq"] for e in entries] == [e.seq for e in written]
    _check_file_chain(entries, ZEROS)


async def _raw(r: httpx.Response) -> AsyncIterator[bytes]:
    async for chunk in r.aiter_raw():
        yield chunk


def _compact(at: str) -> str:
    return at[:19].replace("-", "").replace(":", "") + "Z"
