"""Missing-person API (missing.py), for agency accounts and the center (``linked:request`` to
report, ``events:read`` to look); an agency sees the cases it reported or that share cameras
with it, the center's staff (``events:write``) every case:

- ``POST /cityhub/v1/care/missing`` ``{"kind": "child" | "dementia", "description",
  "location", "accuracy"?, "place"?, "at"?, "reference"?, "agency"? (staff only)}`` → 201 with
  the case, its cameras and grants; 200 with the case when the same ``reference`` was reported;
- ``GET /cityhub/v1/care/missing[?limit=]``, ``GET .../missing/{id}``;
- ``POST .../missing/{id}/locations`` ``{"location", "accuracy"?, "at"?, "place"?}`` → 200
  with the case, the cameras near the new location and the grants it added;
- ``POST .../missing/{id}/found`` ``{"note"?}`` → 200 with the case and the grants revoked.

Every share and revoke is in the audit log (``cctv.grant``, ``cctv.revoke``), as are the
report (``linked.request``), each location (``care.missing.locate``) and the end
(``care.missing.found``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from cityhub.audit.routes import record_request
from cityhub.auth.middleware import principal_of
from cityhub.errors import BadRequestData
from cityhub.ngsild.http import json_response, method_route, read_json, tenant_of
from cityhub.services.care.clock import stamp
from cityhub.services.care.common import body_object, grant_detail, text
from cityhub.services.care.service import care_of, limit_of

BASE = "/cityhub/v1/care/missing"


def _staff(request: Request) -> bool:
    return principal_of(request).access(tenant_of(request)).allows("events:write")


def _agency_filter(request: Request) -> str | None:
    """None for the center's staff (every case); an agency sees its own."""
    return None if _staff(request) else principal_of(request).name


async def report(request: Request) -> Response:
    """POST /cityhub/v1/care/missing."""
    body = await read_json(request, 64 * 1024)
    care, tenant = care_of(request), tenant_of(request)
    reporter = principal_of(request).name
    agency = reporter
    named = body.get("agency") if isinstance(body, dict) else None
    if named is not None:
        # the center's staff report for an agency (a call taken by phone)
        if not isinstance(named, str) or not named:
            raise BadRequestData("agency must be an account name")
        if not _staff(request):
            raise BadRequestData("agency: only the center's staff report for another agency")
        agency = named
    elif _staff(request):
        agency = care.hub.settings.care_missing_agency
    case, filed, new = await care.missing.report(tenant, body, reporter, agency)
    if new:
        detail = {"request": filed.id, "service": filed.service, "agency": agency, "case": case.id}
        await record_request(
            request, "linked.request", target=filed.event_id, tenant=tenant, detail=detail
        )
        for grant in filed.response.get("grants", []):
            await record_request(
                request,
                "cctv.grant",
                target=grant["cameraId"],
                tenant=tenant,
                detail=grant_detail(grant, filed.event_id, filed.id),
            )
    view = await care.missing.view(case) | {"cameras": filed.response.get("cameras", [])}
    return json_response(view, status=201 if new else 200)


async def list_cases(request: Request) -> Response:
    """GET /cityhub/v1/care/missing."""
    care = care_of(request)
    found = await care.missing.cases(tenant_of(request), _agency_filter(request), limit_of(request))
    return json_response([c.json() for c in found])


async def get_case(request: Request) -> Response:
    """GET /cityhub/v1/care/missing/{id}."""
    care = care_of(request)
    case = await care.missing.get(
        tenant_of(request), request.path_params["id"], _agency_filter(request)
    )
    return json_response(await care.missing.view(case))


async def locate(request: Request) -> Response:
    """POST /cityhub/v1/care/missing/{id}/locations."""
    body = await read_json(request, 16 * 1024)
    care, tenant = care_of(request), tenant_of(request)
    case, cameras, grants = await care.missing.locate(
        tenant,
        request.path_params["id"],
        _agency_filter(request),
        body,
        principal_of(request).name,
    )
    now = stamp(datetime.now(UTC))
    added = [g.json(now) for g in grants]
    for grant in added:
        await record_request(
            request,
            "cctv.grant",
            target=grant["cameraId"],
            tenant=tenant,
            detail=grant_detail(grant, case.event_id, case.request_id),
        )
    await record_request(
        request,
        "care.missing.locate",
        target=case.id,
        tenant=tenant,
        detail={"event": case.event_id, "grants": [g["id"] for g in added]},
    )
    view = await care.missing.view(case)
    return json_response(view | {"cameras": cameras, "newGrants": added})


async def found(request: Request) -> Response:
    """POST /cityhub/v1/care/missing/{id}/found."""
    raw = (await request.body()).strip()
    body = body_object(await read_json(request, 4096), "the body") if raw else {}
    note = text(body, "note", 500)
    care, tenant = care_of(request), tenant_of(request)
    actor = principal_of(request).name
    case, revoked = await care.missing.found(
        tenant, request.path_params["id"], _agency_filter(request), note, actor
    )
    for grant in revoked:
        await record_request(
            request,
            "cctv.revoke",
            target=grant.camera_id,
            tenant=tenant,
            detail={"grant": grant.id, "event": case.event_id, "reason": "found"},
        )
    await record_request(
        request, "care.missing.found", target=case.id, tenant=tenant, detail={"note": note}
    )
    now = stamp(datetime.now(UTC))
    view = await care.missing.view(case)
    return json_response(view | {"revoked": [g.json(now) for g in revoked]})


routes = [
    method_route(BASE, GET=list_cases, POST=report),
    method_route(f"{BASE}/{{id}}", GET=get_case),
    method_route(f"{BASE}/{{id}}/locations", POST=locate),
    method_route(f"{BASE}/{{id}}/found", POST=found),
]
