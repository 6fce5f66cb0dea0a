"""``GET /cityhub/v1/kpis[?start=&end=&format=csv]``: the operations center's KPIs over a window
(default: the last 24 hours), computed from the city events and the video-share grants
(cityhub/ops/kpis.py). Targets are settings: ``kpi_answer_target_s`` (a linked-service request
acknowledged within it counts as answered in time) and ``kpi_dispatch_target_minutes`` (a 119
unit on the scene within it counts as a dispatch in time)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cityhub.errors import BadRequestData, NonexistentTenant
from cityhub.ngsild.http import json_response, method_route, tenant_of
from cityhub.ngsild.hub import hub_of
from cityhub.ops.cctv import CctvService
from cityhub.ops.events import EventService, _value
from cityhub.ops.kpis import compute, csv_rows, parse_window

_FIELDS = (
    "eventCode",
    "eventName",
    "category",
    "severity",
    "status",
    "statusCode",
    "occurredAt",
    "acknowledgedAt",
    "endedAt",
    "linkedService",
    "requestedBy",
    "arrivedAt",
)
_PAGE = 1000


async def _events(events: EventService, tenant: str, start: str, end: str) -> list[dict[str, Any]]:
    terms = [f'occurredAt>="{start}"', f'occurredAt<"{end}"']
    rows: list[dict[str, Any]] = []
    while True:
        try:
            page = (await events.select(tenant, terms, limit=_PAGE, offset=len(rows))).entities
        except NonexistentTenant:
            return rows
        rows.extend({"id": e["id"]} | {f: _value(e, f) for f in _FIELDS} for e in page)
        if len(page) < _PAGE:
            return rows


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


async def kpis(request: Request) -> Response:
    """GET /cityhub/v1/kpis."""
    hub = hub_of(request)
    fmt = request.query_params.get("format", "json")
    if fmt not in ("json", "csv"):
        raise BadRequestData("format is json or csv")
    window = parse_window(
        request.query_params.get("start"), request.query_params.get("end"), datetime.now(UTC)
    )
    tenant = tenant_of(request)
    events = await _events(hub.extras["events"], tenant, _iso(window[0]), _iso(window[1]))
    cctv: CctvService = hub.extras["cctv"]
    ids = {e["id"] for e in events}
    grants = [
        {
            "eventId": g.event_id,
            "agency": g.agency,
            "cameraId": g.camera_id,
            "grantedAt": g.granted_at,
            "revokedAt": g.revoked_at,
            "expiresAt": g.expires_at,
        }
        for g in await cctv.grants(tenant, None)
        if g.event_id in ids
    ]
    found = compute(
        events,
        grants,
        window,
        answer_target_s=hub.settings.kpi_answer_target_s,
        dispatch_target_minutes=hub.settings.kpi_dispatch_target_minutes,
    )
    if fmt == "json":
        return json_response(found)
    out = io.StringIO()
    csv.writer(out).writerows(csv_rows(found))
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="cityhub-kpis.csv"'},
    )


routes = [method_route("/cityhub/v1/kpis", GET=kpis)]
