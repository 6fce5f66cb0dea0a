"""The operations center's event API under ``/cityhub/v1/events``.

- ``POST /cityhub/v1/events``: raise an event (201 new; 200 when it counted another
  occurrence of the open event with the same ``dedupeKey``);
- ``GET /cityhub/v1/events?state=open|closed&status=&severity=&eventCode=&limit=&offset=``;
- ``GET /cityhub/v1/events/{id}``;
- ``POST /cityhub/v1/events/{id}/transitions`` ``{"to", "reason", "assignee"}``;
- ``GET /cityhub/v1/events/stream?eventCode=&category=&minSeverity=&bbox=``: live changes
  (server-sent events).

Events are ``CityEvent`` entities: the NGSI-LD API, subscriptions and the temporal API (their
``status`` history: who moved them, when and why) work on them as on any entity.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from cityhub.audit.routes import record_request
from cityhub.auth.middleware import principal_of
from cityhub.errors import BadRequestData
from cityhub.ngsild.http import json_response, method_route, parse_int, read_json, tenant_of
from cityhub.ngsild.hub import hub_of
from cityhub.ops.events import (
    CLOSED,
    CODES,
    OPEN,
    SEVERITIES,
    EventService,
    EventSpec,
    status_term,
)
from cityhub.ops.live import LiveFeed, StreamFilter, key_values

BASE = "/cityhub/v1/events"


def _service(request: Request) -> EventService:
    found: EventService = hub_of(request).extras["events"]
    return found


async def raise_event(request: Request) -> Response:
    """POST /cityhub/v1/events."""
    body = await read_json(request, hub_of(request).settings.max_body_bytes)
    spec = EventSpec.from_json(body)
    tenant = tenant_of(request)
    event_id, created = await _service(request).raise_event(
        tenant, spec, principal_of(request).name
    )
    event = key_values(await _service(request).get(tenant, event_id))
    if not created:
        return json_response(event)
    return json_response(event, status=201, headers={"Location": f"{BASE}/{event_id}"})


def _choice(raw: str | None, allowed: tuple[str, ...], name: str) -> list[str] | None:
    if raw is None:
        return None
    values = [v for v in raw.split(",") if v]
    bad = [v for v in values if v not in allowed]
    if bad:
        raise BadRequestData(f"{name} must be among {', '.join(allowed)}, not {', '.join(bad)}")
    return values


async def list_events(request: Request) -> Response:
    """GET /cityhub/v1/events."""
    hub = hub_of(request)
    params = request.query_params
    statuses = _choice(params.get("status"), tuple(CODES), "status")
    state = params.get("state")
    if state not in (None, "open", "closed"):
        raise BadRequestData("state must be open or closed")
    if state is not None:
        wanted = OPEN if state == "open" else CLOSED
        statuses = [s for s in statuses or wanted if s in wanted]
    terms = []
    if statuses is not None:
        terms.append(status_term(statuses or ["none"]))
    severities = _choice(params.get("severity"), SEVERITIES, "severity")
    if severities:
        terms.append("severity==" + ",".join(f'"{s}"' for s in severities))
    code = params.get("eventCode")
    if code:
        if '"' in code or "\\" in code:
            raise BadRequestData("eventCode must not contain quotes or backslashes")
        terms.append(f'eventCode=="{code}"')
    result = await _service(request).select(
        tenant_of(request),
        terms,
        limit=min(parse_int(request, "limit", 100, minimum=1), hub.settings.max_limit),
        offset=parse_int(request, "offset", 0),
        count=True,
    )
    events = sorted(
        (key_values(e) for e in result.entities),
        key=lambda e: str(e.get("occurredAt", "")),
        reverse=True,
    )
    return json_response(events, headers={"NGSILD-Results-Count": str(result.count or 0)})


async def get_event(request: Request) -> Response:
    """GET /cityhub/v1/events/{id}."""
    event = await _service(request).get(tenant_of(request), request.path_params["id"])
    return json_response(key_values(event))


async def transition(request: Request) -> Response:
    """POST /cityhub/v1/events/{id}/transitions."""
    body = await read_json(request, 64 * 1024)
    if not isinstance(body, dict) or not isinstance(body.get("to"), str):
        raise BadRequestData('a transition is {"to": status, "reason"?, "assignee"?}')
    reason, assignee = body.get("reason", ""), body.get("assignee")
    if not isinstance(reason, str) or (assignee is not None and not isinstance(assignee, str)):
        raise BadRequestData("reason and assignee must be strings")
    tenant, event_id = tenant_of(request), request.path_params["id"]
    actor = principal_of(request).name
    event = await _service(request).transition(
        tenant, event_id, body["to"], actor, reason, assignee
    )
    detail = {"to": body["to"], "reason": reason} | ({"assignee": assignee} if assignee else {})
    await record_request(request, "event.transition", target=event_id, tenant=tenant, detail=detail)
    return json_response(key_values(event))


async def stream(request: Request) -> Response:
    """GET /cityhub/v1/events/stream: server-sent events of event changes."""
    params = request.query_params
    bbox = None
    if params.get("bbox"):
        try:
            parts = tuple(float(p) for p in params["bbox"].split(","))
        except ValueError as err:
            raise BadRequestData("bbox is minLon,minLat,maxLon,maxLat") from err
        if len(parts) != 4:
            raise BadRequestData("bbox is minLon,minLat,maxLon,maxLat")
        bbox = (parts[0], parts[1], parts[2], parts[3])
    least = params.get("minSeverity")
    if least is not None and least not in SEVERITIES:
        raise BadRequestData(f"minSeverity must be one of {', '.join(SEVERITIES)}")
    wanted = StreamFilter(
        tenant_of(request),
        frozenset(params["eventCode"].split(",")) if params.get("eventCode") else None,
        frozenset(params["category"].split(",")) if params.get("category") else None,
        SEVERITIES.index(least) if least else 0,
        bbox,
    )
    feed: LiveFeed = hub_of(request).extras["live_events"]
    return StreamingResponse(
        feed.stream(wanted),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


routes = [
    method_route(BASE, GET=list_events, POST=raise_event),
    method_route(f"{BASE}/stream", GET=stream),
    method_route(f"{BASE}/{{id}}", GET=get_event),
    method_route(f"{BASE}/{{id}}/transitions", POST=transition),
]
