"""Parking API under ``/cityhub/v1/parking`` (docs/services/parking.md).

Reads need ``entities:read``, writes ``entities:write`` (cityhub/auth/policy.py); an owner
withdraws only their own offers and a driver cancels only their own bookings (by principal
name; ``system`` with auth off).

- ``GET .../lots/nearest?lon=&lat=&minFree=1&limit=3&maxDistance=2000``
- ``GET .../availability``: each lot's numbers, district and tenant totals
- ``GET .../layer``: the lots as GeoJSON, with a ``grade`` free/busy/full
- ``GET .../lots/{id}/forecast?hours=6&weeks=8``
- ``POST|GET .../shared/offers``, ``GET|DELETE .../shared/offers/{id}``
- ``POST|GET .../shared/bookings``, ``GET|DELETE .../shared/bookings/{id}``
- ``GET .../shared/unauthorized``
"""

from __future__ import annotations

import math

from starlette.requests import Request
from starlette.responses import Response

from cityhub.audit.routes import record_request
from cityhub.auth.middleware import principal_of
from cityhub.errors import BadRequestData
from cityhub.ngsild.http import GEO_JSON, json_response, method_route, read_json, tenant_of
from cityhub.ngsild.hub import hub_of
from cityhub.ngsild.models import check_entity_id
from cityhub.services.parking import availability, forecast
from cityhub.services.parking.lots import nearest_free_lots
from cityhub.services.parking.service import ParkingService
from cityhub.services.parking.sharing import SharingService, check_time
from cityhub.temporal.service import TemporalService

BASE = "/cityhub/v1/parking"
_MAX_BODY = 64 * 1024


def _service(request: Request) -> ParkingService:
    found: ParkingService = hub_of(request).extras["parking"]
    return found


def _sharing(request: Request) -> SharingService:
    return _service(request).sharing


def _number(request: Request, name: str, default: float | None = None) -> float:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        if default is None:
            raise BadRequestData(f"give {name}")
        return default
    try:
        value = float(raw)
    except ValueError as err:
        raise BadRequestData(f"{name} must be a number") from err
    if not math.isfinite(value):
        raise BadRequestData(f"{name} must be a finite number")
    return value


def _whole(request: Request, name: str, default: int) -> int:
    value = _number(request, name, default)
    if value != int(value):
        raise BadRequestData(f"{name} must be a whole number")
    return int(value)


def _place(request: Request) -> tuple[float, float] | None:
    """lon and lat, both or neither."""
    given = [request.query_params.get(n) for n in ("lon", "lat")]
    if not any(given):
        return None
    lon, lat = _number(request, "lon"), _number(request, "lat")
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise BadRequestData("lon/lat are out of range")
    return lon, lat


# --- availability --------------------------------------------------------------------------


async def nearest(request: Request) -> Response:
    """GET /cityhub/v1/parking/lots/nearest."""
    found = await nearest_free_lots(
        hub_of(request),
        tenant_of(request),
        _number(request, "lon"),
        _number(request, "lat"),
        min_free=_whole(request, "minFree", 1),
        limit=_whole(request, "limit", 3),
        max_distance=_number(request, "maxDistance", 2000.0),
    )
    return json_response(found)


async def get_availability(request: Request) -> Response:
    """GET /cityhub/v1/parking/availability."""
    return json_response(await availability.availability(hub_of(request), tenant_of(request)))


async def get_layer(request: Request) -> Response:
    """GET /cityhub/v1/parking/layer (application/geo+json)."""
    found = await availability.layer(hub_of(request), tenant_of(request))
    return json_response(found, mt=GEO_JSON)


async def get_forecast(request: Request) -> Response:
    """GET /cityhub/v1/parking/lots/{id}/forecast."""
    lot_id = check_entity_id(request.path_params["id"])
    temporal: TemporalService = request.app.state.temporal
    found = await forecast.forecast(
        hub_of(request),
        temporal,
        tenant_of(request),
        lot_id,
        hours=_whole(request, "hours", 6),
        weeks=_whole(request, "weeks", 8),
    )
    return json_response(found)


# --- shared parking ------------------------------------------------------------------------


async def create_offer(request: Request) -> Response:
    """POST /cityhub/v1/parking/shared/offers."""
    body = await read_json(request, _MAX_BODY)
    tenant = tenant_of(request)
    offer = await _sharing(request).publish(tenant, principal_of(request).name, body)
    detail = {"spot": offer.spot_id, "from": offer.json()["from"], "to": offer.json()["to"]}
    await record_request(request, "parking.offer", target=offer.id, tenant=tenant, detail=detail)
    return json_response(
        offer.json(), status=201, headers={"Location": f"{BASE}/shared/offers/{offer.id}"}
    )


async def search_offers(request: Request) -> Response:
    """GET /cityhub/v1/parking/shared/offers."""
    p = request.query_params
    window = None
    if p.get("from") or p.get("to"):
        if not (p.get("from") and p.get("to")):
            raise BadRequestData("give both from and to, or neither")
        window = (check_time(p["from"], "from"), check_time(p["to"], "to"))
        if window[1] <= window[0]:
            raise BadRequestData("to must be later than from")
    distance = _number(request, "maxDistance", 1000.0)
    limit = _whole(request, "limit", 20)
    if not 0 < distance <= 50_000 or not 1 <= limit <= 500:
        raise BadRequestData("maxDistance is 1-50000 m and limit 1-500")
    found = await _sharing(request).search(
        tenant_of(request),
        near=_place(request),
        max_distance=distance,
        window=window,
        limit=limit,
        viewer=principal_of(request).name,
    )
    return json_response(found)


async def get_offer(request: Request) -> Response:
    """GET /cityhub/v1/parking/shared/offers/{id}."""
    found = await _sharing(request).offer(
        tenant_of(request), request.path_params["id"], principal_of(request).name
    )
    return json_response(found)


async def withdraw_offer(request: Request) -> Response:
    """DELETE /cityhub/v1/parking/shared/offers/{id}: the owner withdraws it."""
    tenant, offer_id = tenant_of(request), request.path_params["id"]
    offer = await _sharing(request).withdraw(tenant, offer_id, principal_of(request).name)
    await record_request(request, "parking.withdraw", target=offer_id, tenant=tenant)
    return json_response(offer.json())


async def create_booking(request: Request) -> Response:
    """POST /cityhub/v1/parking/shared/bookings: 201, or 409 when the time is taken."""
    body = await read_json(request, _MAX_BODY)
    tenant = tenant_of(request)
    booking = await _sharing(request).book(tenant, principal_of(request).name, body)
    detail = {"offer": booking.offer_id, "fee": booking.fee}
    await record_request(request, "parking.book", target=booking.id, tenant=tenant, detail=detail)
    return json_response(
        booking.json(), status=201, headers={"Location": f"{BASE}/shared/bookings/{booking.id}"}
    )


async def list_bookings(request: Request) -> Response:
    """GET /cityhub/v1/parking/shared/bookings: the caller's, and those of their offers."""
    found = await _sharing(request).bookings_of(tenant_of(request), principal_of(request).name)
    return json_response([b.json() for b in found])


async def get_booking(request: Request) -> Response:
    """GET /cityhub/v1/parking/shared/bookings/{id}: for its driver and its offer's owner."""
    found = await _sharing(request).visible_booking(
        tenant_of(request), request.path_params["id"], principal_of(request).name
    )
    return json_response(found.json())


async def cancel_booking(request: Request) -> Response:
    """DELETE /cityhub/v1/parking/shared/bookings/{id}: its driver cancels it."""
    tenant, booking_id = tenant_of(request), request.path_params["id"]
    booking = await _sharing(request).cancel(tenant, booking_id, principal_of(request).name)
    await record_request(
        request, "parking.cancel", target=booking_id, tenant=tenant, detail={"fee": booking.fee}
    )
    return json_response(booking.json())


async def unauthorized(request: Request) -> Response:
    """GET /cityhub/v1/parking/shared/unauthorized."""
    return json_response(await _sharing(request).unauthorized(tenant_of(request)))


routes = [
    method_route(f"{BASE}/lots/nearest", GET=nearest),
    method_route(f"{BASE}/lots/{{id}}/forecast", GET=get_forecast),
    method_route(f"{BASE}/availability", GET=get_availability),
    method_route(f"{BASE}/layer", GET=get_layer),
    method_route(f"{BASE}/shared/offers", GET=search_offers, POST=create_offer),
    method_route(f"{BASE}/shared/offers/{{id}}", GET=get_offer, DELETE=withdraw_offer),
    method_route(f"{BASE}/shared/bookings", GET=list_bookings, POST=create_booking),
    method_route(f"{BASE}/shared/bookings/{{id}}", GET=get_booking, DELETE=cancel_booking),
    method_route(f"{BASE}/shared/unauthorized", GET=unauthorized),
]
