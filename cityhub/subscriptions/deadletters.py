"""Dead letters over HTTP (a cityhub extension, outside /ngsi-ld): list, retry, delete.

A notification that used up ``notify_max_attempts`` stays in the outbox as a dead letter.
``GET /cityhub/v1/dead-letters?subscription=&limit=&offset=`` lists a tenant's (the
``NGSILD-Tenant`` header), oldest first; ``POST /cityhub/v1/dead-letters/{nid}/retry`` queues one
again with fresh attempts; ``DELETE /cityhub/v1/dead-letters/{nid}`` forgets it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cityhub.errors import BadRequestData, NonexistentTenant, ResourceNotFound
from cityhub.ngsild.http import json_response, method_route, parse_int, tenant_of
from cityhub.ngsild.hub import Hub, hub_of
from cityhub.subscriptions.outbox import DeadLetter, OutboxStore, outbox_store

BASE = "/cityhub/v1/dead-letters"


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def dead_letter_json(letter: DeadLetter) -> dict[str, object]:
    """The JSON form of a dead letter."""
    return {
        "nid": letter.nid,
        "subscriptionId": letter.sub_id,
        "notificationId": letter.notification_id,
        "endpoint": letter.uri,
        "attempts": letter.attempts,
        "lastError": letter.last_error,
        "createdAt": _iso(letter.created_at),
    }


async def _context(request: Request) -> tuple[Hub, OutboxStore, str]:
    hub = hub_of(request)
    tenant = tenant_of(request)
    if not await hub.storage.tenant_exists(tenant):
        raise NonexistentTenant(f"tenant {tenant!r} does not exist")
    return hub, outbox_store(hub.storage), tenant


def _nid(request: Request) -> int:
    raw = request.path_params["nid"]
    try:
        nid = int(raw)
    except ValueError as err:
        raise BadRequestData(f"dead letter ids are integers, not {raw!r}") from err
    if not 0 <= nid < 2**63:
        raise ResourceNotFound(f"no dead letter {raw}")
    return nid


async def list_dead_letters(request: Request) -> Response:
    """GET: a page of the tenant's dead letters."""
    hub, store, tenant = await _context(request)
    limit = parse_int(request, "limit", hub.settings.default_limit, minimum=1)
    if limit > hub.settings.max_limit:
        raise BadRequestData(f"limit must be at most {hub.settings.max_limit}")
    offset = parse_int(request, "offset", 0)
    sub_id = request.query_params.get("subscription") or None
    letters = await store.dead_letters(tenant, sub_id, limit, offset)
    return json_response([dead_letter_json(d) for d in letters])


async def retry_dead_letter(request: Request) -> Response:
    """POST: queue a dead letter again (204), waking the deliverer."""
    hub, store, tenant = await _context(request)
    nid = _nid(request)
    if not await store.retry_dead(tenant, nid, time.time()):
        raise ResourceNotFound(f"no dead letter {nid}")
    deliverer = hub.extras.get("deliverer")
    if deliverer is not None:
        deliverer.wake()
    return Response(status_code=204)


async def delete_dead_letter(request: Request) -> Response:
    """DELETE: forget a dead letter (204)."""
    _hub, store, tenant = await _context(request)
    nid = _nid(request)
    if not await store.delete_dead(tenant, nid):
        raise ResourceNotFound(f"no dead letter {nid}")
    return Response(status_code=204)


routes: list[Route] = [
    method_route(BASE, GET=list_dead_letters),
    method_route(BASE + "/{nid}", DELETE=delete_dead_letter),
    method_route(BASE + "/{nid}/retry", POST=retry_dead_letter),
]
