"""Illegal-parking enforcement API (enforcement.py), per tenant (``NGSILD-Tenant``).

For the center's enforcement officers and the camera systems they run (``events:read`` to
read, ``events:write`` to send sightings):

- ``POST /cityhub/v1/parking/enforcement/sightings``: one sighting ``{"plate", "at",
  "location", "camera": {"id", "kind"}}`` → 201 with its judgement (200 and the first
  answer, ``"duplicate": true``, for one sent before), or a list of up to 1000 → 200 with a
  list of judgements in the same order (judged in time order);
- ``GET .../cases[?plate=&status=&zone=&open=&limit=]``, ``GET .../cases/{id}``: the cases;
- ``GET .../zones?lon=&lat=``: the zones at a place, the one a sighting there is judged in
  first;
- ``GET .../stats[?from=&to=]``: per zone and hour of the day (default: the last 24 hours).

For drivers, any account of the tenant (``entities:read``, citizens included):

- ``POST .../phones`` ``{"plate", "phone", "consent": true}`` → 201 (200 when the plate's
  number changed): opt in to pre-notices; a plate another account registered is that
  account's (409) unless the center's staff change it;
- ``GET .../phones[?plate=]``: one's own registrations (staff: all), numbers masked;
- ``DELETE .../phones/{plate}`` → 204: opt out (one's own; staff: any).

Registrations and opt-outs are in the audit log (``parking.phone``), the number masked.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response

from cityhub.audit.routes import record_request
from cityhub.auth.middleware import principal_of
from cityhub.errors import BadRequestData, Conflict, ResourceNotFound
from cityhub.ngsild.http import json_response, method_route, read_json, tenant_of
from cityhub.ngsild.hub import hub_of
from cityhub.services.parking.enforcement import Enforcement
from cityhub.services.parking.enforcement_model import (
    normalise_plate,
    parse_sightings,
    parse_time,
)
from cityhub.services.parking.enforcement_stats import stats
from cityhub.services.parking.enforcement_store import STATUSES
from cityhub.services.parking.phones import mask_phone, normalise_phone

BASE = "/cityhub/v1/parking/enforcement"
_MAX_BODY = 1024 * 1024
_MAX_WINDOW = timedelta(days=366)


def _service(request: Request) -> Enforcement:
    found: Enforcement = hub_of(request).extras["parking_enforcement"]
    return found


def _staff(request: Request) -> bool:
    """The center's staff (they see and change every registration)."""
    return principal_of(request).access(tenant_of(request)).allows("events:write")


def _coordinate(request: Request, name: str, low: float, high: float) -> float:
    raw = request.query_params.get(name)
    try:
        value = float(raw) if raw is not None else float("nan")
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        raise BadRequestData(f"{name} must be a number from {low:g} to {high:g}, not {raw!r}")
    return value


async def post_sightings(request: Request) -> Response:
    """POST /cityhub/v1/parking/enforcement/sightings."""
    body = await read_json(request, _MAX_BODY)
    sightings, single = parse_sightings(body, datetime.now(UTC))
    results = await _service(request).sight(tenant_of(request), sightings)
    if single:
        return json_response(results[0], status=200 if results[0]["duplicate"] else 201)
    return json_response(results)


async def list_cases(request: Request) -> Response:
    """GET /cityhub/v1/parking/enforcement/cases."""
    params = request.query_params
    plate = normalise_plate(params["plate"]) if params.get("plate") else None
    status = params.get("status") or None
    if status is not None and status not in STATUSES:
        raise BadRequestData(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    open_only = params.get("open", "false")
    if open_only not in ("true", "false"):
        raise BadRequestData("open must be true or false")
    raw = params.get("limit", "100")
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise BadRequestData("limit is 1-1000")
    found = await _service(request).store.cases(
        tenant_of(request),
        plate=plate,
        status=status,
        zone_id=params.get("zone") or None,
        open_only=open_only == "true",
        limit=int(raw),
    )
    return json_response([c.json() for c in found])


async def get_case(request: Request) -> Response:
    """GET /cityhub/v1/parking/enforcement/cases/{id}."""
    case_id = request.path_params["id"]
    found = await _service(request).store.case(tenant_of(request), case_id)
    if found is None:
        raise ResourceNotFound(f"no enforcement case {case_id}")
    return json_response(found.json())


async def zones_at(request: Request) -> Response:
    """GET /cityhub/v1/parking/enforcement/zones?lon=&lat=."""
    lon = _coordinate(request, "lon", -180, 180)
    lat = _coordinate(request, "lat", -90, 90)
    found = await _service(request).zones.at(tenant_of(request), lon, lat)
    return json_response([z.json() | {"distance": z.distance} for z in found])


async def get_stats(request: Request) -> Response:
    """GET /cityhub/v1/parking/enforcement/stats."""
    now = datetime.now(UTC)
    raw_to, raw_from = request.query_params.get("to"), request.query_params.get("from")
    end = parse_time(raw_to, "to") if raw_to else now
    start = parse_time(raw_from, "from") if raw_from else end - timedelta(days=1)
    if not start < end:
        raise BadRequestData("from must be before to")
    if end - start > _MAX_WINDOW:
        raise BadRequestData("the window from-to is at most 366 days")
    service = _service(request)
    expiry = timedelta(minutes=service.settings.parking_case_expiry_minutes)
    found = await stats(service.store, tenant_of(request), start, end, now, expiry)
    return json_response(found)


async def post_phone(request: Request) -> Response:
    """POST /cityhub/v1/parking/enforcement/phones."""
    body = await read_json(request, 4096)
    if not isinstance(body, dict):
        raise BadRequestData('the body is {"plate", "phone", "consent": true}')
    unknown = sorted(set(body) - {"plate", "phone", "consent"})
    if unknown:
        raise BadRequestData(f"unknown members: {', '.join(unknown)}")
    plate = normalise_plate(body.get("plate"))
    phone = normalise_phone(body.get("phone"))
    if body.get("consent") is not True:
        raise BadRequestData(
            "consent must be true: the driver agrees to get parking-enforcement notices for "
            "this plate by SMS"
        )
    tenant, actor = tenant_of(request), principal_of(request).name
    phones = _service(request).phones
    before = await phones.get(tenant, plate)
    if before is not None and before.registered_by != actor and not _staff(request):
        raise Conflict(f"{plate} is registered by another account; the city can change it")
    created, found = await phones.put(tenant, plate, phone, actor)
    await record_request(
        request,
        "parking.phone",
        target=plate,
        tenant=tenant,
        detail={"op": "optIn", "phone": mask_phone(phone)},
    )
    return json_response(found.json(), status=201 if created else 200)


async def list_phones(request: Request) -> Response:
    """GET /cityhub/v1/parking/enforcement/phones."""
    raw = request.query_params.get("plate")
    plate = normalise_plate(raw) if raw else None
    mine = None if _staff(request) else principal_of(request).name
    found = await _service(request).phones.list(tenant_of(request), plate=plate, registered_by=mine)
    return json_response([r.json() for r in found])


async def delete_phone(request: Request) -> Response:
    """DELETE /cityhub/v1/parking/enforcement/phones/{plate}."""
    plate = normalise_plate(request.path_params["plate"])
    tenant, phones = tenant_of(request), _service(request).phones
    found = await phones.get(tenant, plate)
    if found is None or (found.registered_by != principal_of(request).name and not _staff(request)):
        raise ResourceNotFound(f"no phone of yours is registered for {plate}")
    await phones.delete(tenant, plate)
    await record_request(
        request,
        "parking.phone",
        target=plate,
        tenant=tenant,
        detail={"op": "optOut", "phone": mask_phone(found.phone)},
    )
    return Response(status_code=204)


routes = [
    method_route(f"{BASE}/sightings", POST=post_sightings),
    method_route(f"{BASE}/cases", GET=list_cases),
    method_route(f"{BASE}/cases/{{id}}", GET=get_case),
    method_route(f"{BASE}/zones", GET=zones_at),
    method_route(f"{BASE}/stats", GET=get_stats),
    method_route(f"{BASE}/phones", GET=list_phones, POST=post_phone),
    method_route(f"{BASE}/phones/{{plate}}", DELETE=delete_phone),
]
