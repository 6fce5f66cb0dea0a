"""The facility safety API (docs/services/facility.md):

- ``GET /cityhub/v1/facilities?grade=&structureType=``: the facilities with their grades, the
  worst first, and how many there are of each grade;
- ``GET /cityhub/v1/facilities/layer``: the same as a GeoJSON FeatureCollection (``color`` by
  grade);
- ``GET /cityhub/v1/facilities/{id}/report?from=&to=``: one facility's report;
- ``GET|PUT|DELETE /cityhub/v1/facilities/thresholds``: the tenant's threshold table (PUT
  replaces it and regrades every facility, DELETE goes back to the defaults).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cityhub.audit.routes import record_request
from cityhub.auth.middleware import principal_of
from cityhub.errors import BadRequestData
from cityhub.ngsild.entity import Entity
from cityhub.ngsild.http import GEO_JSON, json_response, method_route, read_json, tenant_of
from cityhub.ngsild.hub import hub_of
from cityhub.services.facility.grading import GRADES
from cityhub.services.facility.report import report
from cityhub.services.facility.service import FACILITY, FacilityService
from cityhub.services.shared import entities_of, graded_layer, values, window

BASE = "/cityhub/v1/facilities"
#: map colours by grade (green → red), grey for a facility not graded yet
COLORS = {"A": "#2e7d32", "B": "#9ccc65", "C": "#fbc02d", "D": "#f57c00", "E": "#c62828"}
UNGRADED = "#9e9e9e"
_ORDER = {g: i for i, g in enumerate(GRADES)}


def _service(request: Request) -> FacilityService:
    found: FacilityService = hub_of(request).extras["facility"]
    return found


def _wanted(request: Request) -> tuple[set[str] | None, str | None]:
    raw = request.query_params.get("grade")
    grades = None
    if raw:
        grades = {g.strip().upper() for g in raw.split(",") if g.strip()}
        if not grades or grades - set(GRADES):
            raise BadRequestData("grade must be a list of A, B, C, D and E (grade=C,D,E)")
    kind = request.query_params.get("structureType") or None
    return grades, kind


def _row(facility: Entity) -> dict[str, Any]:
    found = values(facility)
    return {
        "id": facility["id"],
        "name": found.get("name"),
        "structureType": found.get("structureType"),
        "safetyGrade": found.get("safetyGrade"),
        "gradeReason": found.get("gradeReason"),
        "gradedAt": found.get("gradedAt"),
        "address": found.get("address"),
        "location": found.get("location"),
    }


async def _facilities(request: Request) -> list[dict[str, Any]]:
    grades, kind = _wanted(request)
    await _service(request).settle()
    rows = [_row(f) for f in await entities_of(hub_of(request), tenant_of(request), FACILITY)]
    rows = [
        r
        for r in rows
        if (grades is None or r["safetyGrade"] in grades)
        and (kind is None or r["structureType"] == kind)
    ]
    rows.sort(key=lambda r: (-_ORDER.get(r["safetyGrade"], -1), r["id"]))
    return rows


async def list_facilities(request: Request) -> Response:
    """GET /cityhub/v1/facilities."""
    rows = await _facilities(request)
    counts = {g: 0 for g in GRADES} | {"ungraded": 0}
    for row in rows:
        counts[row["safetyGrade"] if row["safetyGrade"] in _ORDER else "ungraded"] += 1
    return json_response({"facilities": rows, "byGrade": counts})


async def layer(request: Request) -> Response:
    """GET /cityhub/v1/facilities/layer."""
    found = graded_layer(await _facilities(request), "safetyGrade", COLORS, UNGRADED)
    return json_response(found, mt=GEO_JSON)


async def facility_report(request: Request) -> Response:
    """GET /cityhub/v1/facilities/{id}/report."""
    since, until = window(request, timedelta(days=30))
    await _service(request).settle()
    found = await report(
        _service(request), tenant_of(request), request.path_params["id"], since, until
    )
    return json_response(found)


async def get_thresholds(request: Request) -> Response:
    """GET /cityhub/v1/facilities/thresholds."""
    found = await _service(request).thresholds.get(tenant_of(request))
    return json_response(found.json())


async def put_thresholds(request: Request) -> Response:
    """PUT /cityhub/v1/facilities/thresholds: replace the table and regrade."""
    service, tenant = _service(request), tenant_of(request)
    body = await read_json(request, hub_of(request).settings.max_body_bytes)
    found = await service.thresholds.put(tenant, body, principal_of(request).name)
    graded = await service.regrade_all(tenant)
    await record_request(request, "facility.thresholds", target="facility", tenant=tenant)
    return json_response(found.json() | {"regraded": graded})


async def reset_thresholds(request: Request) -> Response:
    """DELETE /cityhub/v1/facilities/thresholds: back to the defaults, and regrade."""
    service, tenant = _service(request), tenant_of(request)
    if await service.thresholds.reset(tenant):
        await service.regrade_all(tenant)
        await record_request(request, "facility.thresholds.reset", target="facility", tenant=tenant)
    return Response(status_code=204)


routes = [
    method_route(BASE, GET=list_facilities),
    method_route(f"{BASE}/layer", GET=layer),
    method_route(
        f"{BASE}/thresholds", GET=get_thresholds, PUT=put_thresholds, DELETE=reset_thresholds
    ),
    method_route(BASE + "/{id}/report", GET=facility_report),
]
