"""Batch endpoints: ``/entityOperations/create|upsert|update|merge|delete|query``."""

from __future__ import annotations

import dataclasses
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cityhub.errors import BadRequestData, NgsiError
from cityhub.ngsild import merge, models
from cityhub.ngsild.context import ActiveContext
from cityhub.ngsild.entity import RESERVED_ATTRIBUTE_NAMES
from cityhub.ngsild.http import (
    JSON_LD,
    accepted,
    body_context,
    json_response,
    media_type,
    options,
    query_context,
    read_json,
    tenant_of,
)
from cityhub.ngsild.hub import hub_of
from cityhub.ngsild.join import join_of
from cityhub.ngsild.models import now_iso
from cityhub.ngsild.params import make_view, page, query_from_body
from cityhub.ngsild.routes import render_joined_list
from cityhub.ngsild.service import BatchResult, existing
from cityhub.storage.base import Mutation

BASE = "/ngsi-ld/v1/entityOperations"


#: parsed entity, its @context, and the item as sent (without @context)
Parsed = list[tuple[dict[str, Any], ActiveContext, dict[str, Any]]]


async def parse_batch(
    request: Request, *, require_type: bool = True
) -> tuple[list[Any], list[tuple[str, NgsiError]], Parsed]:
    """Parse a batch body: (raw items, per-item parse errors, parsed entities)."""
    hub = hub_of(request)
    body = await read_json(request, hub.settings.max_body_bytes)
    if not isinstance(body, list) or not body:
        raise BadRequestData("the body must be a non-empty array of entities")
    errors: list[tuple[str, NgsiError]] = []
    parsed: Parsed = []
    ld = media_type(request) == JSON_LD
    if ld and request.headers.get("link"):
        raise BadRequestData(
            "application/ld+json requests carry @context in the body, not in a Link header"
        )
    # with application/json the Link header (or the core context) holds for every entity; an
    # entity carrying its own @context fails alone, in the 207 report (ETSI 003_06_01)
    link_ctx = None if ld else await query_context(request, hub.contexts)
    for item in body:
        entity_id = item.get("id", "") if isinstance(item, dict) else ""
        try:
            if link_ctx is None:
                if not isinstance(item, dict) or "@context" not in item:
                    raise BadRequestData("each entity needs an @context with application/ld+json")
                ctx = await hub.contexts.resolve(item["@context"])
            elif isinstance(item, dict) and "@context" in item:
                raise BadRequestData("@context in the body needs Content-Type application/ld+json")
            else:
                ctx = link_ctx
            entity = models.parse_entity(item, ctx, require_type=require_type)
            parsed.append((entity, ctx, {k: v for k, v in item.items() if k != "@context"}))
        except NgsiError as err:
            errors.append((str(entity_id), err))
    return body, errors, parsed


def batch_response(
    result: BatchResult,
    parse_errors: list[tuple[str, NgsiError]],
    ok_status: int,
    ok_body: Any = None,
) -> Response:
    errors = parse_errors + result.errors
    if errors:
        return json_response(
            {
                "success": result.success,
                "errors": [{"entityId": eid, "error": err.to_problem()} for eid, err in errors],
            },
            status=207,
        )
    if ok_status == 204 or ok_body is None:
        return Response(status_code=204)
    return json_response(ok_body, status=ok_status)


async def batch_create(request: Request) -> Response:
    """POST /entityOperations/create."""
    hub = hub_of(request)
    _, errors, parsed = await parse_batch(request)
    mutations = [Mutation(e["id"], _creator(e), create_only=True) for e, _, _ in parsed]
    result = await hub.entities.batch(tenant_of(request), mutations)
    return batch_response(result, errors, 201, result.success)


def _creator(parsed: dict[str, Any]) -> Any:
    return lambda _cur: merge.new_entity(parsed, now_iso())


def upsert_mutation(p: dict[str, Any], *, update: bool) -> Mutation:
    """Create the parsed entity ``p``, or replace an existing one (``update``: add or replace
    its attributes and add its types, keeping the others)."""

    def run(cur: dict[str, Any] | None) -> dict[str, Any]:
        now = now_iso()
        if cur is None:
            return merge.new_entity(p, now)
        if update:
            updated = merge.upsert_attrs(cur, p["attrs"], now)
            if p["type"] != cur["type"]:
                updated["type"] = list(dict.fromkeys(cur["type"] + p["type"]))
            return updated
        return merge.replace_entity(cur, p, now)

    return Mutation(p["id"], run)


async def batch_upsert(request: Request) -> Response:
    """POST /entityOperations/upsert (options=replace|update)."""
    hub = hub_of(request)
    opts = options(request)
    update_mode = "update" in opts
    _, errors, parsed = await parse_batch(request)

    result = await hub.entities.batch(
        tenant_of(request), [upsert_mutation(p, update=update_mode) for p, _, _ in parsed]
    )
    if result.created and not errors and not result.errors:
        return json_response(result.created, status=201)
    return batch_response(result, errors, 204)


async def batch_update(request: Request) -> Response:
    """POST /entityOperations/update (options=noOverwrite)."""
    hub = hub_of(request)
    overwrite = "noOverwrite" not in options(request)
    _, errors, parsed = await parse_batch(request)

    def updater(p: dict[str, Any]) -> Any:
        # each entity as by Update Entity Attributes (clause 5.6.9): its types are added too
        return existing(
            p["id"],
            lambda cur: merge.upsert_attrs(
                cur, p["attrs"], now_iso(), overwrite=overwrite, types=p["type"]
            ),
        )

    result = await hub.entities.batch(
        tenant_of(request), [Mutation(p["id"], updater(p)) for p, _, _ in parsed]
    )
    return batch_response(result, errors, 204)


async def batch_merge(request: Request) -> Response:
    """POST /entityOperations/merge: each entity merge-patched (clause 5.6.20)."""
    hub = hub_of(request)
    _, errors, parsed = await parse_batch(request, require_type=False)

    def merger(p: dict[str, Any], ctx: ActiveContext, body: dict[str, Any]) -> Any:
        names = {ctx.expand(n): n for n in body if n not in RESERVED_ATTRIBUTE_NAMES}
        return existing(
            p["id"], lambda cur: merge.merge_entity(cur, body, p["attrs"], names, ctx, now_iso())
        )

    result = await hub.entities.batch(
        tenant_of(request), [Mutation(p["id"], merger(p, ctx, body)) for p, ctx, body in parsed]
    )
    return batch_response(result, errors, 204)


async def batch_delete(request: Request) -> Response:
    """POST /entityOperations/delete (body: array of entity ids)."""
    hub = hub_of(request)
    body = await read_json(request, hub.settings.max_body_bytes)
    if not isinstance(body, list) or not body:
        raise BadRequestData("the body must be a non-empty array of entity ids")
    errors: list[tuple[str, NgsiError]] = []
    ids: list[str] = []
    for item in body:
        try:
            ids.append(models.check_entity_id(item))
        except NgsiError as err:
            errors.append((str(item), err))
    result = await hub.entities.batch(
        tenant_of(request), [Mutation(i, existing(i, lambda _c: None)) for i in ids]
    )
    return batch_response(result, errors, 204)


async def batch_query(request: Request) -> Response:
    """POST /entityOperations/query."""
    hub = hub_of(request)
    tenant = tenant_of(request)
    mt = accepted(request, allow_geo=True)
    body = await read_json(request, hub.settings.max_body_bytes)
    ctx = await body_context(request, hub.contexts, body)
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k != "@context"}
    query = query_from_body(body, ctx)
    # the same rule as GET /entities: Query Entities (clause 5.7.2) needs some selector
    if not query.selects_anything() and request.query_params.get("local") != "true":
        raise BadRequestData(
            "give at least one of entities, attrs, q, geoQ, scopeQ (or local=true)"
        )
    page(request, query, hub.settings)
    view = make_view(request, ctx)
    if view.attrs is None and query.attrs is not None:
        view = dataclasses.replace(view, attrs=query.attrs)  # attrs select and project
    if body.get("lang") and view.lang is None:
        view = dataclasses.replace(view, lang=str(body["lang"]))
    result = await hub.entities.query(tenant, query)
    headers = {"NGSILD-Results-Count": str(result.count)} if result.count is not None else {}
    geometry = body.get("geometryProperty") or request.query_params.get("geometryProperty")
    join = join_of({**request.query_params, **body})  # join, joinLevel: body or URL
    return await render_joined_list(
        hub, tenant, result.entities, view, mt, headers, geometry=geometry, join=join
    )


routes = [
    Route(f"{BASE}/create", batch_create, methods=["POST"]),
    Route(f"{BASE}/upsert", batch_upsert, methods=["POST"]),
    Route(f"{BASE}/update", batch_update, methods=["POST"]),
    Route(f"{BASE}/merge", batch_merge, methods=["POST"]),
    Route(f"{BASE}/delete", batch_delete, methods=["POST"]),
    Route(f"{BASE}/query", batch_query, methods=["POST"]),
]
