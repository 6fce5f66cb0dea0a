"""The audit log's read-only API under ``/cityhub/v1/audit`` (docs/audit.md).

- ``GET /cityhub/v1/audit?actor=&action=&tenant=&since=&until=&limit=&offset=``: entries,
  newest first (``{"count": total, "entries": [...]}``);
- ``GET /cityhub/v1/audit/verify``: walk the hash chain (``{"ok", "entries", "lastHash"}``,
  and ``brokenAt``, ``reason`` when it is broken);
- ``GET /cityhub/v1/audit/export?format=jsonl|csv&since=&until=``: the entries of a time range
  in seq order, streamed as a file; the export is itself recorded (``data.export``).

There is no route that writes: entries come only from the platform's code
(:func:`record_request` for a request's actor and address).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from cityhub.audit.chain import MEMBERS, canonical, now_at
from cityhub.audit.store import AuditEntry, AuditLog, Span, moment
from cityhub.errors import BadRequestData
from cityhub.ngsild.http import json_response, method_route, parse_int
from cityhub.ngsild.hub import hub_of

BASE = "/cityhub/v1/audit"
_FORMATS = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}


def audit_of(request: Request) -> AuditLog:
    """The audit log of the app serving ``request``."""
    audit: AuditLog = hub_of(request).extras["audit"]
    return audit


def actor_of(request: Request) -> str:
    """Who makes the request: the authenticated principal's name, else ``anonymous``."""
    principal = getattr(request.state, "principal", None)
    name = getattr(principal, "name", None)
    return name if isinstance(name, str) and name else "anonymous"


def client_ip(request: Request) -> str:
    """The peer address of the request ('' when unknown)."""
    return request.client.host if request.client else ""


async def record_request(request: Request, action: str, **fields: Any) -> AuditEntry | None:
    """Record an action taken through ``request``, by its actor from its address (nothing
    when the app has no audit log)."""
    audit: AuditLog | None = hub_of(request).extras.get("audit")
    if audit is None:
        return None
    fields.setdefault("ip", client_ip(request))
    return await audit.record(actor_of(request), action, **fields)


def _param(request: Request, name: str) -> str | None:
    """A text parameter; empty counts as absent."""
    return request.query_params.get(name) or None


async def list_entries(request: Request) -> Response:
    """GET /cityhub/v1/audit."""
    limit = parse_int(request, "limit", 100, minimum=1)
    offset = parse_int(request, "offset", 0)
    entries, total = await audit_of(request).query(
        actor=_param(request, "actor"),
        action=_param(request, "action"),
        tenant=request.query_params.get("tenant"),  # present but empty: the default tenant
        since=_param(request, "since"),
        until=_param(request, "until"),
        limit=limit,
        offset=offset,
    )
    return json_response({"count": total, "entries": [e.json() for e in entries]})


async def verify(request: Request) -> Response:
    """GET /cityhub/v1/audit/verify."""
    return json_response((await audit_of(request).verify()).json())


async def export(request: Request) -> Response:
    """GET /cityhub/v1/audit/export: JSON lines or CSV, streamed, recorded as data.export."""
    fmt = request.query_params.get("format") or "jsonl"
    if fmt not in _FORMATS:
        raise BadRequestData(f"format must be jsonl or csv, got {fmt!r}")
    since, until = (
        moment("since", _param(request, "since")),
        moment("until", _param(request, "until")),
    )
    audit = audit_of(request)
    span = await audit.span(since, until)  # fixed now: later entries are not part of it
    if request.method != "HEAD":
        detail: dict[str, Any] = {"dataset": "audit", "format": fmt, "since": since, "until": until}
        detail |= {"fromSeq": span.first, "toSeq": span.last} if span else {}
        detail["entries"] = span.count if span else 0
        await record_request(request, "data.export", target="audit_log", detail=detail)
    start = since or (span.first_at if span else until or now_at())
    end = until or (span.last_at if span else start)
    name = f"cityhub-audit-{_compact(start)}-{_compact(end)}.{fmt}"
    lines = _csv(audit, span) if fmt == "csv" else _jsonl(audit, span)
    return StreamingResponse(
        lines,
        media_type=_FORMATS[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def _jsonl(audit: AuditLog, span: Span | None) -> AsyncIterator[bytes]:
    if span is None:
        return
    async for page in audit.entries(span.first, span.last):
        yield b"".join(orjson.dumps(e.json()) + b"\n" for e in page)


async def _csv(audit: AuditLog, span: Span | None) -> AsyncIterator[bytes]:
    """One row per entry, the columns of :data:`MEMBERS`; ``detail`` as canonical JSON."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(MEMBERS)
    yield out.getvalue().encode()
    if span is None:
        return
    async for page in audit.entries(span.first, span.last):
        out.seek(0)
        out.truncate()
        for entry in page:
            row = entry.json()
            row["detail"] = canonical(entry.detail).decode()
            writer.writerow([row[m] for m in MEMBERS])
        yield out.getvalue().encode()


def _compact(at: str) -> str:
    """2026-11-22T09:00:00.123456Z -> 20261122T090000Z (for a file name)."""
    return at[:19].replace("-", "").replace(":", "") + "Z"


routes = [
    method_route(BASE, GET=list_entries),
    method_route(BASE + "/verify", GET=verify),
    method_route(BASE + "/export", GET=export),
]
