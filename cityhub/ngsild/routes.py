"""NGSI-LD entity and attribute endpoints (``/ngsi-ld/v1/entities``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from cityhub.errors import BadRequestData, ResourceNotFound
from cityhub.ngsild import models
from cityhub.ngsild.entity import RESERVED_ATTRIBUTE_NAMES
from cityhub.ngsild.http import (
    GEO_JSON,
    JSON_LD,
    accepted,
    body_context,
    json_response,
    method_route,
    options,
    query_context,
    read_json,
    tenant_of,
)
from cityhub.ngsild.hub import Hub, hub_of
from cityhub.ngsild.join import FLAT, Join, Linked, fetch_linked, join_of
from cityhub.ngsild.params import entity_query, make_view
from cityhub.ngsild.render import View, to_feature

BASE = "/ngsi-ld/v1"


def _no_content() -> Response:
    return Response(status_code=204)


def _entity_id(request: Request) -> str:
    return models.check_entity_id(request.path_params["entity_id"])


async def create_entity(request: Request) -> Response:
    """POST /entities."""
    hub = hub_of(request)
    tenant = tenant_of(request)
    body = await read_json(request, hub.settings.max_body_bytes)
    ctx = await body_context(request, hub.contexts, body)
    parsed = models.parse_entity(body, ctx)
    await hub.entities.create(tenant, parsed)
    location = f"{BASE}/entities/{quote(parsed['id'], safe=':')}"
    return Response(status_code=201, headers={"Location": location})


async def query_entities(request: Request) -> Response:
    """GET /entities."""
    hub = hub_of(request)
    tenant = tenant_of(request)
    mt = accepted(request, allow_geo=True)
    ctx = await query_context(request, hub.contexts)
    query = entity_query(request, ctx, hub.settings)
    # ids alone do not make a query (clause 5.7.2.4): an id list is a filter on a selection
    if not query.selects_anything(ids=False) and request.query_params.get("local") != "true":
        raise BadRequestData(
            "give at least one of type, idPattern, attrs, q, geoQ, scopeQ (or local=true)"
        )
    view = make_view(request, ctx)
    join = join_of(request.query_params)
    result = await hub.entities.query(tenant, query)
    headers = {"NGSILD-Results-Count": str(result.count)} if result.count is not None else {}
    return await render_joined_list(
        hub,
        tenant,
        result.entities,
        view,
        mt,
        headers,
        geometry=request.query_params.get("geometryProperty"),
        join=join,
    )


async def render_joined_list(
    hub: Hub,
    tenant: str,
    entities: list[dict[str, Any]],
    view: View,
    mt: str,
    headers: dict[str, str],
    *,
    geometry: str | None = None,
    join: Join | None = None,
) -> Response:
    """:func:`render_list` after fetching the entities ``join`` links them to."""
    linked = await fetch_linked(hub.entities, tenant, entities, view, join)
    return render_list(entities, view, mt, headers, geometry=geometry, linked=linked)


def render_list(
    entities: list[dict[str, Any]],
    view: View,
    mt: str,
    headers: dict[str, str],
    *,
    geometry: str | None = None,
    linked: Linked | None = None,
) -> Response:
    """A list of entities as JSON / JSON-LD / GeoJSON FeatureCollection (of ``geometry``),
    with their linked entities inline or appended (flat) when ``linked`` holds a join."""
    linked = linked or Linked()
    listing = linked.listing(entities, view)
    if mt == GEO_JSON:
        geom = view.ctx.expand(geometry or "location")
        features = [to_feature(e, v, geom, linked.render(e, v)) for e, v in listing]
        return json_response(
            {"type": "FeatureCollection", "features": features},
            ctx=view.ctx,
            mt=mt,
            headers=headers,
        )
    return json_response(
        [linked.render(e, v) for e, v in listing], ctx=view.ctx, mt=mt, headers=headers
    )


async def retrieve_entity(request: Request) -> Response:
    """GET /entities/{id}."""
    hub = hub_of(request)
    tenant = tenant_of(request)
    mt = accepted(request, allow_geo=True)
    entity_id = _entity_id(request)
    ctx = await query_context(request, hub.contexts)
    view = make_view(request, ctx)
    join = join_of(request.query_params)
    entity = await hub.entities.get(tenant, entity_id)
    if view.attrs is not None and not any(a in entity["attrs"] for a in view.attrs):
        raise ResourceNotFound(f"entity {entity_id} has none of the requested attributes")
    linked = await fetch_linked(hub.entities, tenant, [entity], view, join)
    rendered = linked.render(entity, view)
    if not rendered:
        raise ResourceNotFound(f"pick/omit leave nothing of entity {entity_id}")
    geometry = request.query_params.get("geometryProperty")
    if join is not None and join.mode == FLAT and len(linked.listing([entity], view)) > 1:
        # flat: the entity and the entities it links to, as a list (or FeatureCollection)
        return render_list([entity], view, mt, {}, geometry=geometry, linked=linked)
    if mt == GEO_JSON:
        geom = ctx.expand(geometry or "location")
        return json_response(to_feature(entity, view, geom, rendered), ctx=ctx, mt=mt)
    return json_response(rendered, ctx=ctx, mt=mt)


async def replace_entity(request: Request) -> Response:
    """PUT /entities/{id}."""
    hub, tenant, entity_id, body, ctx = await _write_request(request)
    if not isinstance(body, dict):
        raise BadRequestData("the body must be an entity object")
    if "id" in body and body["id"] != entity_id:
        raise BadRequestData("the body's id differs from the id in the URL")
    parsed = models.parse_entity(body, ctx, require_id=False, require_type=False)
    await hub.entities.replace(tenant, entity_id, parsed)
    return _no_content()


async def merge_entity(request: Request) -> Response:
    """PATCH /entities/{id} (merge-patch)."""
    hub, tenant, entity_id, body, ctx = await _write_request(request, merge_patch=True)
    if not isinstance(body, dict):
        raise BadRequestData("the body must be an entity fragment object")
    if "id" in body and body["id"] != entity_id:
        raise BadRequestData("the body's id differs from the id in the URL")
    if "type" in body:
        models.parse_types(body["type"], ctx)  # validated here, merged by merge.merge_entity
    if "scope" in body and body["scope"] != models.NULL_URI:
        models.parse_scope(body["scope"])
    attrs, names = _parse_fragment(body, ctx)
    await hub.entities.merge(tenant, entity_id, body, attrs, names, ctx)
    return _no_content()


async def delete_entity(request: Request) -> Response:
    """DELETE /entities/{id}."""
    hub = hub_of(request)
    await hub.entities.delete(tenant_of(request), _entity_id(request))
    return _no_content()


async def _write_request(
    request: Request, *, merge_patch: bool = False
) -> tuple[Hub, str, str, Any, Any]:
    hub = hub_of(request)
    tenant = tenant_of(request)
    entity_id = _entity_id(request)
    body = await read_json(request, hub.settings.max_body_bytes, allow_merge_patch=merge_patch)
    ctx = await body_context(request, hub.contexts, body)
    return hub, tenant, entity_id, body, ctx


def _parse_fragment(body: dict[str, Any], ctx: Any) -> tuple[dict[str, Any], dict[str, str]]:
    attrs = models.parse_attributes(body, ctx)
    names = {ctx.expand(n): n for n in body if n not in RESERVED_ATTRIBUTE_NAMES}
    return attrs, names


def _fragment_types_and_scope(
    body: dict[str, Any], ctx: Any
) -> tuple[list[str] | None, list[str] | None]:
    """Entity types and scope an append/update fragment carries (clauses 4.16, 4.18)."""
    types = models.parse_types(body["type"], ctx) if "type" in body else None
    scope = models.parse_scope(body["scope"]) if "scope" in body else None
    return types, scope


def _attr_name(request: Request) -> str:
    """The {attr} of an attribute URL; id, type, scope... are not attributes (400)."""
    name: str = request.path_params["attr"]
    models.check_attr_name(name)
    if name in RESERVED_ATTRIBUTE_NAMES:
        raise BadRequestData(f"{name} is not an attribute and cannot be addressed as one")
    return name


def _fragment_object(body: Any, what: str) -> dict[str, Any]:
    """The body of a single-attribute write: one non-empty JSON object (without @context)."""
    if not isinstance(body, dict):
        raise BadRequestData(
            f"the body must be {what} (a JSON object); an instance is selected by its datasetId"
        )
    fragment = {k: v for k, v in body.items() if k != "@context"}
    if not fragment:
        raise BadRequestData(f"the body must be {what}, not an empty object")
    return fragment


def _report_response(report: Any, ctx: Any) -> Response:
    if not report.not_updated:
        return _no_content()
    return json_response(
        {
            # expanded names, as the ETSI suite expects (010_04_01)
            "updated": list(report.updated),
            "notUpdated": [{"attributeName": i, "reason": r} for i, r in report.not_updated],
        },
        status=207,
    )


async def append_attrs(request: Request) -> Response:
    """POST /entities/{id}/attrs (options=noOverwrite)."""
    hub, tenant, entity_id, body, ctx = await _write_request(request)
    if not isinstance(body, dict):
        raise BadRequestData("the body must be an object of attributes")
    types, scope = _fragment_types_and_scope(body, ctx)
    attrs, _ = _parse_fragment(body, ctx)
    report = await hub.entities.upsert_attrs(
        tenant,
        entity_id,
        attrs,
        overwrite="noOverwrite" not in options(request),
        types=types,
        scope=scope,
    )
    return _report_response(report, ctx)


async def update_attrs(request: Request) -> Response:
    """PATCH /entities/{id}/attrs."""
    hub, tenant, entity_id, body, ctx = await _write_request(request)
    if not isinstance(body, dict):
        raise BadRequestData("the body must be an object of attributes")
    types, scope = _fragment_types_and_scope(body, ctx)
    attrs, _ = _parse_fragment(body, ctx)
    report = await hub.entities.upsert_attrs(
        tenant, entity_id, attrs, update=True, types=types, scope=scope
    )
    return _report_response(report, ctx)


async def partial_update_attr(request: Request) -> Response:
    """PATCH /entities/{id}/attrs/{attr} (one instance; NGSI-LD Null deletes it)."""
    hub, tenant, entity_id, body, ctx = await _write_request(request)
    name = _attr_name(request)
    fragment = _fragment_object(body, "one attribute fragment")
    await hub.entities.partial_update(tenant, entity_id, ctx.expand(name), name, fragment, ctx)
    return _no_content()


async def replace_attr(request: Request) -> Response:
    """PUT /entities/{id}/attrs/{attr} (the instances with the given datasetIds)."""
    hub, tenant, entity_id, body, ctx = await _write_request(request)
    name = _attr_name(request)
    iri = ctx.expand(name)
    instances = models.parse_attribute(
        name, iri, _fragment_object(body, "an attribute in normalized form"), ctx
    )
    if any(models.is_null(i) for i in instances):
        raise BadRequestData(f"use DELETE to remove attribute {name}; PUT needs a value")
    await hub.entities.replace_attr(tenant, entity_id, iri, name, instances)
    return _no_content()


async def delete_attr(request: Request) -> Response:
    """DELETE /entities/{id}/attrs/{attr} (datasetId, deleteAll)."""
    hub = hub_of(request)
    tenant = tenant_of(request)
    entity_id = _entity_id(request)
    ctx = await query_context(request, hub.contexts)
    name = request.path_params["attr"]
    dataset = request.query_params.get("datasetId")
    if dataset is not None and not models.is_uri(dataset):
        raise BadRequestData("datasetId must be a URI")
    delete_all = request.query_params.get("deleteAll", "false") == "true"
    await hub.entities.delete_attr(tenant, entity_id, ctx.expand(name), name, dataset, delete_all)
    return _no_content()


async def purge_entities(request: Request) -> Response:
    """DELETE /entities?type=... (purge matching entities)."""
    hub = hub_of(request)
    tenant = tenant_of(request)
    ctx = await query_context(request, hub.contexts)
    query = entity_query(request, ctx, hub.settings, paged=False)
    if query.types is None:
        raise BadRequestData("purging entities needs a type")
    await hub.entities.purge(tenant, query)
    return _no_content()


async def _no_entity_id(request: Request) -> Response:
    raise BadRequestData("the entity id is missing from the URL /entities/{entityId}")


_ENTITY = f"{BASE}/entities/{{entity_id:path}}"

_COLLECTION = {"POST": create_entity, "GET": query_entities, "DELETE": purge_entities}
# NGSI-LD has no operation for the other methods on .../attrs (without these routes they would
# reach the entity route, entity ids may contain "/"), nor a Retrieve Attribute (clause 5.7)
_ATTRS = {"POST": append_attrs, "PATCH": update_attrs}

routes = [
    # the collection URLs also answer with a trailing slash, as clients (and the ETSI
    # conformance suite) write them: /entities/, /entities/{id}/attrs/
    method_route(f"{BASE}/entities", **_COLLECTION),
    # PUT/PATCH /entities/ name an entity with an empty id: 400 (ETSI 054_02_02, 056_02_02)
    method_route(f"{BASE}/entities/", **_COLLECTION, PUT=_no_entity_id, PATCH=_no_entity_id),
    *(method_route(f"{_ENTITY}/attrs{s}", **_ATTRS) for s in ("", "/")),
    method_route(
        f"{_ENTITY}/attrs/{{attr}}", PATCH=partial_update_attr, PUT=replace_attr, DELETE=delete_attr
    ),
    method_route(
        _ENTITY, GET=retrieve_entity, PUT=replace_entity, PATCH=merge_entity, DELETE=delete_entity
    ),
]

__all__ = ["routes", "JSON_LD", "render_list", "render_joined_list"]
