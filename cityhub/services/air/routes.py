"""Air-quality API under ``/cityhub/v1/air`` (docs/services/air.md); reads need
``entities:read`` (cityhub/auth/policy.py).

- ``GET .../stations[?district=<id>]``: each station's CAI, grade, sub-indices, 24-h PM
  averages, latest measures and district;
- ``GET .../districts``: each district's CAI (its worst station), latest hourly PM values and
  the 주의보/경보 in force;
- ``GET .../layer[?district=<id>]``: the stations as a GeoJSON FeatureCollection coloured by
  grade, for the map.

Reads first wait (up to 2 s) for the ``air`` consumer to handle the changes made so far.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cityhub.errors import ResourceNotFound
from cityhub.ngsild.entity import Entity
from cityhub.ngsild.http import GEO_JSON, json_response, method_route, tenant_of
from cityhub.ngsild.hub import hub_of
from cityhub.services.air.alerting import district_hours, open_alerts
from cityhub.services.air.places import District, district_of
from cityhub.services.air.service import AirService
from cityhub.services.air.views import district_json, feature, station_json

BASE = "/cityhub/v1/air"


def _service(request: Request) -> AirService:
    found: AirService = hub_of(request).extras["air"]
    return found


async def _stations(request: Request) -> list[tuple[Entity, District | None]]:
    """The tenant's stations with their districts (``district``: only that one's)."""
    air = _service(request)
    await air.settle()
    stations, known = await air.places(tenant_of(request))
    wanted = request.query_params.get("district")
    if wanted is not None and wanted not in {d.id for d in known}:
        raise ResourceNotFound(f"no district {wanted} (a District entity with an area)")
    placed = [(s, district_of(s, known)) for s in stations]
    return [(s, d) for s, d in placed if wanted is None or (d is not None and d.id == wanted)]


async def stations(request: Request) -> Response:
    """GET /cityhub/v1/air/stations."""
    return json_response([station_json(s, d) for s, d in await _stations(request)])


async def layer(request: Request) -> Response:
    """GET /cityhub/v1/air/layer."""
    features = [f for s, d in await _stations(request) if (f := feature(s, d)) is not None]
    return json_response({"type": "FeatureCollection", "features": features}, mt=GEO_JSON)


async def districts(request: Request) -> Response:
    """GET /cityhub/v1/air/districts."""
    air = _service(request)
    tenant = tenant_of(request)
    await air.settle()
    stations, known = await air.places(tenant)
    members: dict[str, list[Entity]] = {d.id: [] for d in known}
    for station in stations:
        district = district_of(station, known)
        if district is not None:
            members[district.id].append(station)
    alerts = await open_alerts(air.events, tenant)
    body = []
    for district in known:
        mine = members[district.id]
        hours = await district_hours(air.temporal.store, tenant, mine, air.basis)
        body.append(district_json(district, mine, hours, alerts, air.basis))
    return json_response(body)


routes = [
    method_route(f"{BASE}/stations", GET=stations),
    method_route(f"{BASE}/districts", GET=districts),
    method_route(f"{BASE}/layer", GET=layer),
]
