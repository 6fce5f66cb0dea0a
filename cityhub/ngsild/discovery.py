"""Discovery (``/types``, ``/attributes``) and stored @contexts (``/jsonldContexts``)."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cityhub.errors import BadRequestData, ResourceNotFound
from cityhub.ngsild.filters import EntityQuery
from cityhub.ngsild.http import accepted, json_response, query_context, read_json, tenant_of
from cityhub.ngsild.hub import hub_of

BASE = "/ngsi-ld/v1"


def _details(request: Request) -> bool:
    raw = request.query_params.get("details", "false")
    if raw not in ("true", "false"):
        raise BadRequestData("details must be true or false")
    return raw == "true"


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
    if not isinstance(body, dict) or not isinstance(body.get("@context"), dict | list | str):
        raise BadRequestData('the body must be an object with an "@context" member')
    await hub.contexts.resolve(body["@context"])  # reject contexts that cannot be used
    ident = str(uuid.uuid4())
    url = context_url(request, ident)
    await hub.storage.context_put(
        tenant_of(request), ident, url, "Hosted", {"@context": body["@context"]}
    )
    return Response(status_code=201, headers={"Location": f"{BASE}/jsonldContexts/{ident}"})


async def list_contexts(request: Request) -> Response:
    """GET /jsonldContexts (details=true for kind and dates)."""
    hub = hub_of(request)
    rows = await hub.storage.context_list()
    if _details(request):
        body: Any = [
            {"URL": r["url"], "localId": r["id"], "kind": r["kind"], "createdAt": r["createdAt"]}
            for r in rows
        ]
    else:
        body = [r["url"] for r in rows]
    return json_response(body)


async def serve_context(request: Request) -> Response:
    """GET /jsonldContexts/{id}: the stored context document."""
    hub = hub_of(request)
    row = await hub.storage.context_get(request.path_params["ident"])
    if row is None:
        raise ResourceNotFound(f"no @context with id {request.path_params['ident']}")
    return json_response(row["body"], mt="application/ld+json")


async def delete_context(request: Request) -> Response:
    """DELETE /jsonldContexts/{id}."""
    hub = hub_of(request)
    ident = request.path_params["ident"]
    row = await hub.storage.context_get(ident)
    if row is None or not await hub.storage.context_delete(ident):
        raise ResourceNotFound(f"no @context with id {ident}")
    hub.contexts.forget(row["url"])
    return Response(status_code=204)


routes = [
    Route(f"{BASE}/types", list_types, methods=["GET"]),
    Route(f"{BASE}/types/{{type:path}}", get_type, methods=["GET"]),
    Route(f"{BASE}/attributes", list_attributes, methods=["GET"]),
    Route(f"{BASE}/attributes/{{attr:path}}", get_attribute, methods=["GET"]),
    Route(f"{BASE}/jsonldContexts", add_context, methods=["POST"]),
    Route(f"{BASE}/jsonldContexts", list_contexts, methods=["GET"]),
    Route(f"{BASE}/jsonldContexts/{{ident}}", serve_context, methods=["GET"]),
    Route(f"{BASE}/jsonldContexts/{{ident}}", delete_context, methods=["DELETE"]),
]
