"""Care API (docs/services/care.md). For the center (``events:read``):

- ``GET /cityhub/v1/care/households``, ``GET .../households/{id}``: enrolled households with
  their state (last activity, temperature, when inactivity is due) and open alerts;
- ``GET /cityhub/v1/care/alerts[?state=open|all&limit=]``: the households' 119 alerts;
- ``GET /cityhub/v1/care/layer``: the map layer (GeoJSON).

Missing persons (missing_routes.py) and safe walks home (walk_routes.py) have their own
modules; ``routes`` holds them all.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cityhub.errors import BadRequestData, ResourceNotFound
from cityhub.ngsild.http import GEO_JSON, json_response, method_route, tenant_of
from cityhub.services.care import missing_routes, walk_routes
from cityhub.services.care.alerts import HouseholdAlerts
from cityhub.services.care.clock import awake_deadline, iso, parse_night, parse_time, shown
from cityhub.services.care.common import geojson_point
from cityhub.services.care.layer import layer
from cityhub.services.care.readings import Household
from cityhub.services.care.service import CareService, care_of, limit_of
from cityhub.services.care.store import Alert

BASE = "/cityhub/v1/care"


def alert_json(alert: Alert) -> dict[str, Any]:
    """The API form of a household alert."""
    return {
        "id": alert.id,
        "household": alert.household,
        "kind": alert.kind,
        "since": shown(alert.episode),
        "requestId": alert.request_id,
        "eventId": alert.event_id,
        "raisedAt": shown(alert.raised_at),
        "endedAt": shown(alert.ended_at),
        "endReason": alert.end_reason,
    }


def household_json(care: CareService, home: Household, alerts: list[Alert]) -> dict[str, Any]:
    """The API form of a household and its state."""
    settings = care.hub.settings
    hours = home.inactivity_hours or settings.care_inactivity_hours
    night = home.night_hours or settings.care_night_hours
    since = parse_time(HouseholdAlerts.episodes(home)["inactivity"])
    due = awake_deadline(since, hours, parse_night(night)) if since is not None else None
    return {
        "id": home.id,
        "code": home.code,
        "monitored": home.located,
        "location": (
            geojson_point((home.lon, home.lat))
            if home.lon is not None and home.lat is not None
            else None
        ),
        "place": home.place or None,
        "inactivityHours": hours,
        "nightHours": night or None,
        "enrolledAt": shown(home.enrolled_at),
        "watchedFrom": shown(home.watched_from),
        "lastActivityAt": shown(home.last_activity),
        "inactivityDueAt": iso(due) if due is not None else None,
        "temperature": home.temperature,
        "temperatureAt": shown(home.temperature_at),
        "coldSince": shown(home.cold_since),
        "hotSince": shown(home.hot_since),
        "emergencyButtonAt": shown(home.button_at),
        "devices": home.devices,
        "alerts": [alert_json(a) for a in alerts if a.household == home.id],
    }


async def households(request: Request) -> Response:
    """GET /cityhub/v1/care/households."""
    care, tenant = care_of(request), tenant_of(request)
    alerts = await care.households.store.alerts(tenant, open_only=True)
    homes = await care.households.store.households(tenant)
    return json_response([household_json(care, h, alerts) for h in homes])


async def household(request: Request) -> Response:
    """GET /cityhub/v1/care/households/{id}."""
    care, tenant, wanted = care_of(request), tenant_of(request), request.path_params["id"]
    found = await care.households.store.households(tenant, [wanted])
    if not found:
        raise ResourceNotFound(f"no enrolled household {wanted}")
    alerts = await care.households.store.alerts(tenant, wanted, open_only=True)
    return json_response(household_json(care, found[0], alerts))


async def alerts(request: Request) -> Response:
    """GET /cityhub/v1/care/alerts."""
    state = request.query_params.get("state", "open")
    if state not in ("open", "all"):
        raise BadRequestData("state is open or all")
    found = await care_of(request).households.store.alerts(
        tenant_of(request), open_only=state == "open", limit=limit_of(request)
    )
    return json_response([alert_json(a) for a in found])


async def care_layer(request: Request) -> Response:
    """GET /cityhub/v1/care/layer."""
    body = await layer(care_of(request), tenant_of(request))
    stamp = iso(datetime.now(UTC))
    return json_response(body | {"generatedAt": stamp}, mt=GEO_JSON)


routes = [
    method_route(f"{BASE}/households", GET=households),
    method_route(f"{BASE}/households/{{id}}", GET=household),
    method_route(f"{BASE}/alerts", GET=alerts),
    method_route(f"{BASE}/layer", GET=care_layer),
    *missing_routes.routes,
    *walk_routes.routes,
]
