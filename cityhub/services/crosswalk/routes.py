"""The smart crosswalk API (docs/services/crosswalk.md):

- ``GET /cityhub/v1/crosswalks/stats?from=&to=&change=&id=``: per crosswalk and for all,
  violations, vehicles, pedestrians and the violation rate in all, by hour of the day and
  before/after ``change``;
- ``GET /cityhub/v1/crosswalks/layer``: the crosswalks as a GeoJSON FeatureCollection with
  their latest counts and the last 24 hours' violation rate.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response

from cityhub.errors import BadRequestData
from cityhub.ngsild.http import GEO_JSON, json_response, method_route, tenant_of
from cityhub.ngsild.hub import hub_of
from cityhub.services.crosswalk.stats import (
    COUNTS,
    Tally,
    crosswalks,
    hour_ceil,
    stats,
    sums,
)
from cityhub.services.shared import MAX_WINDOW, attributes, feature, parse_moment, window

BASE = "/cityhub/v1/crosswalks"
DEFAULT_WINDOW = timedelta(days=7)
AROUND_CHANGE = timedelta(days=28)  # each side of a change, when from/to are not given
DAY_US = 86_400_000_000


async def get_stats(request: Request) -> Response:
    """GET /cityhub/v1/crosswalks/stats."""
    params = request.query_params
    raw_change = params.get("change") or None
    change = parse_moment("change", raw_change) if raw_change else None
    if change is not None and not params.get("from") and not params.get("to"):
        since, until = change - AROUND_CHANGE, change + AROUND_CHANGE
    else:
        since, until = window(request, DEFAULT_WINDOW)
    if change is not None and not since < change < until:
        raise BadRequestData("change must be between from and to")
    if until - since > MAX_WINDOW:
        raise BadRequestData("from and to are more than 366 days apart")
    ids = [i.strip() for i in params.get("id", "").split(",") if i.strip()] or None
    hub = hub_of(request)
    found = await stats(
        hub, request.app.state.temporal, tenant_of(request), since, until, change, ids
    )
    return json_response(found)


async def layer(request: Request) -> Response:
    """GET /cityhub/v1/crosswalks/layer."""
    hub, tenant = hub_of(request), tenant_of(request)
    until = hour_ceil(datetime.now(UTC))
    since = until - timedelta(days=1)
    found = await crosswalks(hub, tenant)
    day = await sums(hub, request.app.state.temporal, tenant, found, since, until, DAY_US)
    features = []
    for crosswalk in found:
        attrs = attributes(crosswalk)
        props: dict[str, object] = {"name": attrs.get("name", (None,))[0]}
        for name in COUNTS:
            if name in attrs:
                props[name] = attrs[name][0]
        stamps = [str(attrs[n][1]) for n in COUNTS if n in attrs and attrs[n][1]]
        props["observedAt"] = max(stamps) if stamps else None
        tally = Tally()
        for name in COUNTS:
            for _, total, count in day.get((crosswalk["id"], name), []):
                tally.add(name, total, count, "")
        props["last24h"] = {k: v for k, v in tally.json().items() if k != "days"}
        item = feature(crosswalk["id"], attrs.get("location", (None,))[0], props)
        if item is not None:
            features.append(item)
    return json_response({"type": "FeatureCollection", "features": features}, mt=GEO_JSON)


routes = [
    method_route(f"{BASE}/stats", GET=get_stats),
    method_route(f"{BASE}/layer", GET=layer),
]
