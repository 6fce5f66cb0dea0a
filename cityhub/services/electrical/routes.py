"""The electrical-fire sensing API (docs/services/electrical.md):

- ``GET /cityhub/v1/electrical/panels?grade=``: the distribution panels with their state and
  latest reading, the worst first, and how many there are in each state;
- ``GET /cityhub/v1/electrical/layer``: the same as a GeoJSON FeatureCollection (``color``);
- ``GET|PUT|DELETE /cityhub/v1/electrical/thresholds``: the tenant's threshold table (PUT
  replaces it, DELETE goes back to the defaults; both apply from the next reading).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cityhub.audit.routes import record_request
from cityhub.auth.middleware import principal_of
from cityhub.errors import BadRequestData
from cityhub.ngsild.entity import Entity
from cityhub.ngsild.http import GEO_JSON, json_response, method_route, read_json, tenant_of
from cityhub.ngsild.hub import hub_of
from cityhub.services.electrical.grading import CAUTION, DANGER, NORMAL, RECOVERING
from cityhub.services.electrical.service import PANEL, ElectricalService
from cityhub.services.shared import attributes, entities_of, graded_layer

BASE = "/cityhub/v1/electrical"
STATES = (DANGER, CAUTION, RECOVERING, NORMAL)  # worst first
COLORS = {DANGER: "#c62828", CAUTION: "#f9a825", RECOVERING: "#64b5f6", NORMAL: "#2e7d32"}
UNGRADED = "#9e9e9e"
_READINGS = ("leakageCurrent", "temperature", "arcEvents", "voltage", "current")


def _service(request: Request) -> ElectricalService:
    found: ElectricalService = hub_of(request).extras["electrical"]
    return found


def _row(panel: Entity) -> dict[str, Any]:
    found = attributes(panel)
    state = found.get("anomalyGrade", (None, None, ""))
    row: dict[str, Any] = {
        "id": panel["id"],
        "name": found.get("name", (None,))[0],
        "anomalyGrade": state[0],
        "since": state[1],
        "anomalyReason": found.get("anomalyReason", (None,))[0],
    }
    for name in _READINGS:
        if name in found:
            row[name] = found[name][0]
    stamps = [str(found[n][1]) for n in _READINGS if n in found and found[n][1]]
    row["observedAt"] = max(stamps) if stamps else None
    row["address"] = found.get("address", (None,))[0]
    row["location"] = found.get("location", (None,))[0]
    return row


async def _panels(request: Request) -> list[dict[str, Any]]:
    raw = request.query_params.get("grade")
    wanted = None
    if raw:
        wanted = {g.strip() for g in raw.split(",") if g.strip()}
        if not wanted or wanted - set(STATES):
            raise BadRequestData(f"grade must be a list of {', '.join(STATES)}")
    await _service(request).settle()
    rows = [_row(p) for p in await entities_of(hub_of(request), tenant_of(request), PANEL)]
    rows = [r for r in rows if wanted is None or r["anomalyGrade"] in wanted]
    rank = {s: i for i, s in enumerate(STATES)}
    rows.sort(key=lambda r: (rank.get(r["anomalyGrade"], len(STATES)), r["id"]))
    return rows


async def list_panels(request: Request) -> Response:
    """GET /cityhub/v1/electrical/panels."""
    rows = await _panels(request)
    counts = dict.fromkeys(STATES, 0) | {"ungraded": 0}
    for row in rows:
        counts[row["anomalyGrade"] if row["anomalyGrade"] in counts else "ungraded"] += 1
    return json_response({"panels": rows, "byGrade": counts})


async def layer(request: Request) -> Response:
    """GET /cityhub/v1/electrical/layer."""
    found = graded_layer(await _panels(request), "anomalyGrade", COLORS, UNGRADED)
    return json_response(found, mt=GEO_JSON)


async def get_thresholds(request: Request) -> Response:
    """GET /cityhub/v1/electrical/thresholds."""
    found = await _service(request).thresholds.get(tenant_of(request))
    return json_response(found.json())


async def put_thresholds(request: Request) -> Response:
    """PUT /cityhub/v1/electrical/thresholds."""
    tenant = tenant_of(request)
    body = await read_json(request, hub_of(request).settings.max_body_bytes)
    found = await _service(request).thresholds.put(tenant, body, principal_of(request).name)
    await record_request(request, "electrical.thresholds", target="electrical", tenant=tenant)
    return json_response(found.json())


async def reset_thresholds(request: Request) -> Response:
    """DELETE /cityhub/v1/electrical/thresholds."""
    tenant = tenant_of(request)
    if await _service(request).thresholds.reset(tenant):
        await record_request(
            request, "electrical.thresholds.reset", target="electrical", tenant=tenant
        )
    return Response(status_code=204)


routes = [
    method_route(f"{BASE}/panels", GET=list_panels),
    method_route(f"{BASE}/layer", GET=layer),
    method_route(
        f"{BASE}/thresholds", GET=get_thresholds, PUT=put_thresholds, DELETE=reset_thresholds
    ),
]
