"""Safe-way-home API (walks.py), for citizens (``care:walk``): a citizen sees and moves their
own walks only (another's is 404); the center's staff (``events:write``) see every walk.

- ``POST /cityhub/v1/care/walks`` ``{"from", "to" (Points), "expectedArrival",
  "route"? (LineString), "contact"?}`` → 201 with the walk;
- ``GET /cityhub/v1/care/walks[?status=active|arrived&limit=]``, ``GET .../walks/{id}``;
- ``POST .../walks/{id}/positions`` ``{"location", "at"?}`` → 200 with the walk (off the route:
  an alert event);
- ``POST .../walks/{id}/arrived`` → 200 with the ended walk (its alerts completed).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cityhub.auth.middleware import principal_of
from cityhub.errors import BadRequestData
from cityhub.ngsild.http import json_response, method_route, read_json, tenant_of
from cityhub.services.care.service import care_of, limit_of

BASE = "/cityhub/v1/care/walks"


def _owner_filter(request: Request) -> str | None:
    """None for the center's staff (every walk); anyone else sees their own."""
    principal = principal_of(request)
    return None if principal.access(tenant_of(request)).allows("events:write") else principal.name


async def start(request: Request) -> Response:
    """POST /cityhub/v1/care/walks."""
    body = await read_json(request, 256 * 1024)
    walk = await care_of(request).walks.start(tenant_of(request), principal_of(request).name, body)
    return json_response(walk.json(), status=201)


async def list_walks(request: Request) -> Response:
    """GET /cityhub/v1/care/walks."""
    status = request.query_params.get("status") or None
    if status not in (None, "active", "arrived"):
        raise BadRequestData("status is active or arrived")
    found = await care_of(request).walks.walks(
        tenant_of(request), _owner_filter(request), status, limit_of(request)
    )
    return json_response([w.json() for w in found])


async def get_walk(request: Request) -> Response:
    """GET /cityhub/v1/care/walks/{id}."""
    walk = await care_of(request).walks.get(
        tenant_of(request), request.path_params["id"], _owner_filter(request)
    )
    return json_response(walk.json())


async def position(request: Request) -> Response:
    """POST /cityhub/v1/care/walks/{id}/positions."""
    body = await read_json(request, 16 * 1024)
    walk = await care_of(request).walks.position(
        tenant_of(request), request.path_params["id"], _owner_filter(request), body
    )
    return json_response(walk.json())


async def arrived(request: Request) -> Response:
    """POST /cityhub/v1/care/walks/{id}/arrived."""
    walk = await care_of(request).walks.arrived(
        tenant_of(request), request.path_params["id"], _owner_filter(request)
    )
    return json_response(walk.json())


routes = [
    method_route(BASE, GET=list_walks, POST=start),
    method_route(f"{BASE}/{{id}}", GET=get_walk),
    method_route(f"{BASE}/{{id}}/positions", POST=position),
    method_route(f"{BASE}/{{id}}/arrived", POST=arrived),
]
