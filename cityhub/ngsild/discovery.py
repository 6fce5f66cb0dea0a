"""Discovery (``/types``, ``/attributes``) and @contexts (``/jsonldContexts``).

@contexts are not tenant data (clause 5.13): a context is named by its URL, which every tenant
and other brokers resolve alike, so hosted contexts are stored once for the whole hub and the
NGSILD-Tenant header is ignored here. ``Hosted`` contexts live in storage; ``Cached`` ones are
the remote contexts the @context loader holds (clause 5.13.3 kinds).
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cityhub.errors import BadRequestData, InvalidRequest, ResourceNotFound
from cityhub.ngsild.filters import EntityQuery
from cityhub.ngsild.http import accepted, json_response, query_context, read_json, tenant_of
from cityhub.ngsild.hub import hub_of

BASE = "/ngsi-ld/v1"


HOSTED, CACHED, IMPLICITLY_CREATED = "Hosted", "Cached", "ImplicitlyCreated"


def _flag(request: Request, name: str) -> bool:
    raw = request.query_params.get(name) or "false"
    if raw not in ("true", "false"):
        raise BadRequestData(f"{name} must be true or false")
    return raw == "true"


def _details(request: Request) -> bool:
    return _flag(request, "details")


async def list_types(request: Request) -> Response:
    """GET /types (details=true for attribute names)."""
    hub = hub_of(request)
    mt = accepted(request)
    ctx = await query_context(request, hub.contexts)
    infos = await hub.entities.types(tenant_of(request))
    if _details(request):
        body: Any = [
            {
                "id": i.type,
                "type": "EntityType",
                "typeName": ctx.compact(i.type),
                "attributeNames": sorted(ctx.compact(a) for a in i.attrs),
            }
            for i in infos
        ]
    else:
        body = {
            "id": f"urn:ngsi-ld:EntityTypeList:{uuid.uuid4()}",
            "type": "EntityTypeList",
            "typeList": [ctx.compact(i.type) for i in infos],
        }
    return json_response(body, ctx=ctx, mt=mt)


async def get_type(request: Request) -> Response:
    """GET /types/{type}."""
    hub = hub_of(request)
    mt = accepted(request)
    ctx = await query_context(request, hub.contexts)
    iri = ctx.expand(request.path_params["type"])
    info = next((i for i in await hub.entities.types(tenant_of(request)) if i.type == iri), None)
    if info is None:
        raise ResourceNotFound(f"no entities of type {request.path_params['type']}")
    return json_response(
        {
            "id": iri,
            "type": "EntityTypeInfo",
            "typeName": ctx.compact(iri),
            "entityCount": info.count,
            "attributeDetails": [
                {
                    "id": a,
                    "type": "Attribute",
                    "attributeName": ctx.compact(a),
                    "attributeTypes": sorted(kinds),
                }
                for a, kinds in sorted(info.attrs.items())
            ],
        },
        ctx=ctx,
        mt=mt,
    )


def _attributes(infos: list[Any]) -> dict[str, dict[str, Any]]:
    attrs: dict[str, dict[str, Any]] = {}
    for info in infos:
        for name, kinds in info.attrs.items():
            a = attrs.setdefault(name, {"kinds": set(), "types": set()})
            a["kinds"] |= kinds
            a["types"].add(info.type)
    return attrs


async def list_attributes(request: Request) -> Response:
    """GET /attributes."""
    hub = hub_of(request)
    mt = accepted(request)
    ctx = await query_context(request, hub.contexts)
    attrs = _attributes(await hub.entities.types(tenant_of(request)))
    if _details(request):
        body: Any = [
            {
                "id": name,
                "type": "Attribute",
                "attributeName": ctx.compact(name),
                "typeNames": sorted(ctx.compact(t) for t in a["types"]),
            }
            for name, a in sorted(attrs.items())
        ]
    else:
        body = {
            "id": f"urn:ngsi-ld:AttributeList:{uuid.uuid4()}",
            "type": "AttributeList",
            "attributeList": sorted(ctx.compact(n) for n in attrs),
        }
    return json_response(body, ctx=ctx, mt=mt)


async def get_attribute(request: Request) -> Response:
    """GET /attributes/{attr}."""
    hub = hub_of(request)
    mt = accepted(request)
    ctx = await query_context(request, hub.contexts)
    iri = ctx.expand(request.path_params["attr"])
    tenant = tenant_of(request)
    a = _attributes(await hub.entities.types(tenant)).get(iri)
    if a is None:
        raise ResourceNotFound(f"no entity has attribute {request.path_params['attr']}")
    # count the entities holding the attribute: per-type counts would count entities of a
    # type that lack it, and multi-typed entities once per type
    having = EntityQuery(attrs=frozenset({iri}), limit=0, count=True)
    counted = await hub.entities.query(tenant, having)
    return json_response(
        {
            "id": iri,
            "type": "Attribute",
            "attributeName": ctx.compact(iri),
            "attributeCount": counted.count,
            "attributeTypes": sorted(a["kinds"]),
            "typeNames": sorted(ctx.compact(t) for t in a["types"]),
        },
        ctx=ctx,
        mt=mt,
    )


def context_url(request: Request, ident: str) -> str:
    """The URL under which this hub serves a stored context."""
    return str(request.base_url).rstrip("/") + f"{BASE}/jsonldContexts/{ident}"


async def add_context(request: Request) -> Response:
    """POST /jsonldContexts: host a user @context."""
    hub = hub_of(request)
    body = await read_json(request, hub.settings.max_body_bytes)
    if not isinstance(body, dict) or "@context" not in body:
        # no @context member: the request is not an add-@context request (the conformance
        # suite, 050_02, expects InvalidRequest); a bad @context value is BadRequestData
        raise InvalidRequest('the body must be an object with an "@context" member')
    if not isinstance(body["@context"], dict | list | str):
        raise BadRequestData("@context must be a URL, an object or an array of them")
    await hub.contexts.resolve(body["@context"])  # reject contexts that cannot be used
    ident = str(uuid.uuid4())
    url = context_url(request, ident)
    await hub.storage.context_put("", ident, url, HOSTED, {"@context": body["@context"]})
    return Response(status_code=201, headers={"Location": f"{BASE}/jsonldContexts/{ident}"})


async def _context_infos(hub: Any) -> list[dict[str, Any]]:
    """Every @context the hub holds: hosted ones (storage), then the cached remote ones."""
    rows = [
        {"URL": r["url"], "localId": r["id"], "kind": r["kind"], "createdAt": r["createdAt"]}
        for r in await hub.storage.context_list()
    ]
    rows += [
        {"URL": url, "localId": url, "kind": CACHED, "createdAt": at}
        for url, at in hub.contexts.cached()
    ]
    return rows


async def list_contexts(request: Request) -> Response:
    """GET /jsonldContexts (details=true for kind and dates; kind= to filter)."""
    hub = hub_of(request)
    details = _details(request)
    kind = request.query_params.get("kind")
    if kind is not None and kind not in (HOSTED, CACHED, IMPLICITLY_CREATED):
        raise BadRequestData(f"kind must be {HOSTED}, {CACHED} or {IMPLICITLY_CREATED}")
    rows = [r for r in await _context_infos(hub) if kind is None or r["kind"] == kind]
    return json_response(rows if details else [r["URL"] for r in rows])


async def serve_context(request: Request) -> Response:
    """GET /jsonldContexts/{id}: a hosted context (by id) or a cached one (by URL)."""
    hub = hub_of(request)
    ident = request.path_params["ident"]
    details = _details(request)
    info = next((r for r in await _context_infos(hub) if r["localId"] == ident), None)
    if info is None:
        raise ResourceNotFound(f"no @context with id {ident}")
    if details:
        return json_response(info)
    if info["kind"] == CACHED:
        return json_response(hub.contexts.cached_document(ident))
    row = await hub.storage.context_get(ident)
    if row is None:
        raise ResourceNotFound(f"no @context with id {ident}")
    return json_response(row["body"])


async def delete_context(request: Request) -> Response:
    """DELETE /jsonldContexts/{id} (reload=true: fetch a cached context again)."""
    hub = hub_of(request)
    ident = request.path_params["ident"]
    reload = _flag(request, "reload")
    if hub.contexts.cached_document(ident) is not None:
        if reload:
            await hub.contexts.reload(ident)  # LdContextNotAvailable (503) keeps the old copy
        else:
            hub.contexts.forget(ident)
        return Response(status_code=204)
    if reload:
        raise BadRequestData("reload applies to cached @contexts only (named by their URL)")
    row = await hub.storage.context_get(ident)
    if row is None or not await hub.storage.context_delete(ident):
        raise ResourceNotFound(f"no @context with id {ident}")
    hub.contexts.forget(row["url"])
    return Response(status_code=204)


routes = [
    # the lists also answer with a trailing slash (/types/), as the conformance suite asks
    *(Route(f"{BASE}/types{s}", list_types, methods=["GET"]) for s in ("", "/")),
    Route(f"{BASE}/types/{{type:path}}", get_type, methods=["GET"]),
    *(Route(f"{BASE}/attributes{s}", list_attributes, methods=["GET"]) for s in ("", "/")),
    Route(f"{BASE}/attributes/{{attr:path}}", get_attribute, methods=["GET"]),
    *(Route(f"{BASE}/jsonldContexts{s}", add_context, methods=["POST"]) for s in ("", "/")),
    *(Route(f"{BASE}/jsonldContexts{s}", list_contexts, methods=["GET"]) for s in ("", "/")),
    # {ident:path}: a cached context is named by its (percent-encoded) URL
    Route(f"{BASE}/jsonldContexts/{{ident:path}}", serve_context, methods=["GET"]),
    Route(f"{BASE}/jsonldContexts/{{ident:path}}", delete_context, methods=["DELETE"]),
]
