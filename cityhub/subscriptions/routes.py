"""NGSI-LD subscription endpoints (``/ngsi-ld/v1/subscriptions``, clause 5.8)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from cityhub.errors import BadRequestData, ResourceNotFound
from cityhub.ngsild.http import (
    accepted,
    body_context,
    json_response,
    method_route,
    options,
    parse_int,
    read_json,
    tenant_of,
)
from cityhub.ngsild.hub import Hub, hub_of
from cityhub.ngsild.models import check_entity_id, now_iso
from cityhub.subscriptions.matcher import Matcher
from cityhub.subscriptions.model import (
    Subscription,
    check_endpoint,
    context_terms,
    merge_fragment,
    new_subscription_id,
    validate,
)
from cityhub.subscriptions.outbox import OutboxStore
from cityhub.subscriptions.store import StoredSubscription, SubscriptionStore

BASE = "/ngsi-ld/v1/subscriptions"


def _parts(request: Request) -> tuple[Hub, SubscriptionStore, Matcher]:
    hub = hub_of(request)
    subs = hub.extras["subscriptions"]
    return hub, subs.store, subs.matcher


def _sub_id(request: Request) -> str:
    return check_entity_id(request.path_params["sub_id"])


async def create(request: Request) -> Response:
    """POST /subscriptions."""
    hub, store, matcher = _parts(request)
    tenant = tenant_of(request)
    body = await read_json(request, hub.settings.max_body_bytes)
    ctx = await body_context(request, hub.contexts, body)
    if isinstance(body, dict) and body.get("jsonldContext"):
        ctx = await hub.contexts.resolve(body["jsonldContext"])
    raw = validate(body)
    await check_endpoint(raw, hub.settings)
    raw.setdefault("id", new_subscription_id())
    at = now_iso()
    stored = StoredSubscription(
        tenant,
        raw["id"],
        {
            "raw": raw,
            "context": context_terms(ctx, hub.contexts.core),
            # the log position now: the subscription is about the changes after it
            "sinceSeq": await hub.storage.log_end(),
        },
        at,
        at,
    )
    matcher.compile(stored)  # a bad q or geoQ is refused before anything is stored
    await store.insert(stored)
    await matcher.reload()
    return Response(status_code=201, headers={"Location": f"{BASE}/{quote(raw['id'], safe=':')}"})


async def query(request: Request) -> Response:
    """GET /subscriptions."""
    hub, store, matcher = _parts(request)
    tenant = tenant_of(request)
    mt = accepted(request)
    limit = parse_int(request, "limit", hub.settings.default_limit)
    offset = parse_int(request, "offset", 0)
    if limit > hub.settings.max_limit:
        raise BadRequestData(f"limit {limit} is above the maximum {hub.settings.max_limit}")
    count = request.query_params.get("count") == "true"
    rows, total = await store.page(tenant, limit, offset)
    sys_attrs = "sysAttrs" in options(request)
    outbox = hub.extras["subscriptions"].outbox
    out = [await _render(outbox, matcher, r, sys_attrs) for r in rows]
    headers = {"NGSILD-Results-Count": str(total)} if count else {}
    return json_response(out, ctx=hub.contexts.core, mt=mt, headers=headers)


async def retrieve(request: Request) -> Response:
    """GET /subscriptions/{id}."""
    hub, store, matcher = _parts(request)
    mt = accepted(request)
    stored = await _existing(store, tenant_of(request), _sub_id(request))
    sub = matcher.compile(stored)
    outbox = hub.extras["subscriptions"].outbox
    body = await _render(outbox, matcher, stored, "sysAttrs" in options(request))
    return json_response(body, ctx=sub.ctx, mt=mt)


async def update(request: Request) -> Response:
    """PATCH /subscriptions/{id}: members replace, notification members merge."""
    hub, store, matcher = _parts(request)
    tenant, sub_id = tenant_of(request), _sub_id(request)
    body = await read_json(request, hub.settings.max_body_bytes, allow_merge_patch=True)
    await body_context(request, hub.contexts, body)  # checks the @context convention
    fragment = validate(body, partial=True)
    if not fragment:
        raise BadRequestData("the PATCH body changes nothing")
    stored = await _existing(store, tenant, sub_id)
    raw = merge_fragment(stored.doc["raw"], fragment)
    # the result must be a whole, valid subscription (an expired one may still be patched)
    validate(raw, expired_ok="expiresAt" not in fragment)
    if isinstance(fragment.get("notification"), dict) and "endpoint" in fragment["notification"]:
        await check_endpoint(raw, hub.settings)
    stored.doc = {**stored.doc, "raw": raw}
    if isinstance(body, dict) and body.get("jsonldContext"):
        ctx = await hub.contexts.resolve(body["jsonldContext"])
        stored.doc["context"] = context_terms(ctx, hub.contexts.core)
    stored.modified_at = now_iso()
    matcher.compile(stored)
    if not await store.replace(stored):
        raise ResourceNotFound(f"subscription {sub_id} not found")
    await matcher.reload()
    return Response(status_code=204)


async def delete(request: Request) -> Response:
    """DELETE /subscriptions/{id}."""
    _hub, store, matcher = _parts(request)
    sub_id = _sub_id(request)
    if not await store.delete(tenant_of(request), sub_id):
        raise ResourceNotFound(f"subscription {sub_id} not found")
    await matcher.reload()
    return Response(status_code=204)


async def _existing(store: SubscriptionStore, tenant: str, sub_id: str) -> StoredSubscription:
    stored = await store.get(tenant, sub_id)
    if stored is None:
        raise ResourceNotFound(f"subscription {sub_id} not found")
    return stored


async def _render(
    outbox: OutboxStore, matcher: Matcher, stored: StoredSubscription, sys_attrs: bool
) -> dict[str, Any]:
    sub: Subscription = matcher.compile(stored)
    status = (await outbox.status(stored.tenant, stored.id)).ngsi()
    out = dict(stored.doc["raw"])
    note = dict(out["notification"])
    failed = status.get("lastFailure", "") > status.get("lastSuccess", "")
    note.update(status)
    if status.get("timesSent") or status.get("timesFailed"):
        note["status"] = "failed" if failed else "ok"
    out["notification"] = note
    out["status"] = sub.status(datetime.now(UTC))
    out.setdefault("isActive", sub.is_active)
    if sys_attrs:
        out["createdAt"], out["modifiedAt"] = stored.created_at, stored.modified_at
    return out


routes = [
    method_route(BASE, POST=create, GET=query),
    method_route(BASE + "/", POST=create, GET=query),
    method_route(BASE + "/{sub_id:path}", GET=retrieve, PATCH=update, DELETE=delete),
]
