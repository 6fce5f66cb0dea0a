"""NGSI-LD temporal endpoints (``/ngsi-ld/v1/temporal/entities``, GS CIM 009 clauses 5.6.11-
5.6.16, 5.7.3, 5.7.4)."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import Response

from cityhub.errors import BadRequestData, ResourceNotFound
from cityhub.ngsild import models
from cityhub.ngsild.context import ActiveContext
from cityhub.ngsild.entity import RESERVED_ATTRIBUTE_NAMES
from cityhub.ngsild.http import (
    accepted,
    body_context,
    json_response,
    method_route,
    query_context,
    read_json,
    tenant_of,
)
from cityhub.ngsild.hub import hub_of
from cityhub.ngsild.render import CONCISE, NORMALIZED, View
from cityhub.temporal.model import EntityRow, InstanceRow, micros_of
from cityhub.temporal.params import params_of_query, temporal_query
from cityhub.temporal.recorder import instance_row
from cityhub.temporal.render import render_temporal
from cityhub.temporal.service import TemporalResult, TemporalService, now_iso

BASE = "/ngsi-ld/v1/temporal/entities"


def _service(request: Request) -> TemporalService:
    service: TemporalService = request.app.state.temporal
    return service


def _entity_id(request: Request) -> str:
    return models.check_entity_id(request.path_params["entity_id"])


def _attr_name(request: Request) -> str:
    name: str = request.path_params["attr"]
    models.check_attr_name(name)
    if name in RESERVED_ATTRIBUTE_NAMES:
        raise BadRequestData(f"{name} is not an attribute")
    return name


def _instances(
    body: dict[str, Any], ctx: ActiveContext, entity_id: str, now: str
) -> list[InstanceRow]:
    """The attribute instances of a temporal payload: each attribute an instance or an array."""
    at = micros_of(now, 0)
    rows = []
    for name, raw in body.items():
        if name in RESERVED_ATTRIBUTE_NAMES:
            continue
        models.check_attr_name(name)
        iri = ctx.expand(name)
        items = raw if isinstance(raw, list) else [raw]
        if not items:
            raise BadRequestData(f"attribute {name!r} has no instance")
        for item in items:
            if not isinstance(item, dict):
                raise BadRequestData(f"attribute {name!r}: every instance must be a JSON object")
            inst = models.parse_instance(name, iri, item, ctx)
            if models.is_null(inst):
                raise BadRequestData(f"attribute {name!r}: an instance cannot be NGSI-LD Null")
            models.stamp([inst], now)
            rows.append(instance_row(entity_id, iri, inst, at))
    return rows


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while rendering (no await inside, so nothing else
    runs meanwhile): a long history renders into millions of small lists, all kept until the
    response is sent, and the collector would rescan them many times over (it doubles the
    rendering time); they hold no reference cycles."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _render(
    result: TemporalResult, request: Request, ctx: ActiveContext, query: Any, *, one: bool
) -> Response:
    mt = accepted(request)
    with _no_gc():
        return _render_body(result, query, mt, ctx, one=one)


def _render_body(
    result: TemporalResult, query: Any, mt: str, ctx: ActiveContext, *, one: bool
) -> Response:
    view = View(
        ctx=ctx, sys_attrs=query.sys_attrs, fmt=CONCISE if query.fmt == CONCISE else NORMALIZED
    )
    bodies = [render_temporal(e, query, view, result.period_of) for e in result.entities]
    headers: dict[str, str] = {}
    if result.count is not None:
        headers["NGSILD-Results-Count"] = str(result.count)
    status = 200
    if result.content_range is not None:
        status = 206
        headers["Content-Range"] = result.content_range
    body: Any = bodies[0] if one else bodies
    return json_response(body, status=status, ctx=ctx, mt=mt, headers=headers)


async def query_temporal(request: Request) -> Response:
    """GET /temporal/entities."""
    hub = hub_of(request)
    ctx = await query_context(request, hub.contexts)
    return await _query(request, request, ctx)


async def _query(request: Request, params: Request, ctx: ActiveContext) -> Response:
    query = temporal_query(params, ctx, hub_of(request).settings, one_entity=False)
    accepted(request)
    result = await _service(request).query(tenant_of(request), query)
    return _render(result, request, ctx, query, one=False)


async def query_temporal_post(request: Request) -> Response:
    """POST /temporal/entityOperations/query: the query of GET /temporal/entities as a
    ``Query`` body (URL parameters such as ``options``, ``limit``, ``count`` still apply)."""
    hub = hub_of(request)
    body = await read_json(request, hub.settings.max_body_bytes)
    ctx = await body_context(request, hub.contexts, body)
    params = {**request.query_params, **params_of_query(body)}
    scope = {**request.scope, "query_string": urlencode(params).encode()}
    return await _query(request, Request(scope), ctx)  # the body's members as GET parameters


async def retrieve_temporal(request: Request) -> Response:
    """GET /temporal/entities/{id}."""
    hub = hub_of(request)
    entity_id = _entity_id(request)
    ctx = await query_context(request, hub.contexts)
    query = temporal_query(request, ctx, hub.settings, one_entity=True)
    accepted(request)
    result = await _service(request).retrieve(tenant_of(request), entity_id, query)
    return _render(result, request, ctx, query, one=True)


async def create_temporal(request: Request) -> Response:
    """POST /temporal/entities: create (201) or add to (204) a temporal representation."""
    hub = hub_of(request)
    tenant = tenant_of(request)
    body = await read_json(request, hub.settings.max_body_bytes)
    ctx = await body_context(request, hub.contexts, body)
    if not isinstance(body, dict):
        raise BadRequestData("the body must be a temporal entity object")
    entity_id = models.check_entity_id(body.get("id"))
    if "type" not in body:
        raise BadRequestData("entity type is missing")
    now = now_iso()
    row = EntityRow(
        entity_id,
        models.parse_types(body["type"], ctx),
        models.parse_scope(body["scope"]) if "scope" in body else None,
        now,
        now,
    )
    instances = _instances(body, ctx, entity_id, now)
    created = await _service(request).upsert(tenant, row, instances)
    if not created:
        return Response(status_code=204)
    location = f"{BASE}/{quote(entity_id, safe=':')}"
    return Response(status_code=201, headers={"Location": location})


async def append_temporal(request: Request) -> Response:
    """POST /temporal/entities/{id}/attrs: add attribute instances."""
    hub = hub_of(request)
    tenant = tenant_of(request)
    entity_id = _entity_id(request)
    body = await read_json(request, hub.settings.max_body_bytes)
    ctx = await body_context(request, hub.contexts, body)
    if not isinstance(body, dict):
        raise BadRequestData("the body must be an object of attributes")
    instances = _instances(body, ctx, entity_id, now_iso())
    await _service(request).append(tenant, entity_id, instances)
    return Response(status_code=204)


async def delete_temporal(request: Request) -> Response:
    """DELETE /temporal/entities/{id}: the whole temporal representation."""
    entity_id = _entity_id(request)
    if not await _service(request).store.delete_entity(tenant_of(request), entity_id):
        raise ResourceNotFound(f"no temporal representation of entity {entity_id}")
    return Response(status_code=204)


async def delete_temporal_attr(request: Request) -> Response:
    """DELETE /temporal/entities/{id}/attrs/{attr} (``datasetId``, ``deleteAll``)."""
    hub = hub_of(request)
    service = _service(request)
    entity_id = _entity_id(request)
    name = _attr_name(request)
    ctx = await query_context(request, hub.contexts)
    dataset = request.query_params.get("datasetId")
    if dataset is not None and not models.is_uri(dataset):
        raise BadRequestData("datasetId must be a URI")
    delete_all = request.query_params.get("deleteAll", "false")
    if delete_all not in ("true", "false"):
        raise BadRequestData("deleteAll must be true or false")
    series = await service.series_of(tenant_of(request), entity_id, ctx.expand(name))
    if delete_all != "true":
        series = [s for s in series if s.dataset == (dataset or "")]
        if not series:
            which = f"datasetId {dataset}" if dataset else "the default instance"
            raise ResourceNotFound(f"attribute {name} has no history of {which}")
    await service.store.delete_series([s.sid for s in series])
    return Response(status_code=204)


async def _instance(request: Request) -> tuple[TemporalService, ActiveContext, Any, str]:
    hub = hub_of(request)
    service = _service(request)
    entity_id = _entity_id(request)
    name = _attr_name(request)
    ctx = await query_context(request, hub.contexts)
    series = await service.series_of(tenant_of(request), entity_id, ctx.expand(name))
    instance_id = request.path_params["instance_id"]
    stored = await service.store.find_instance([s.sid for s in series], instance_id)
    if stored is None:
        raise ResourceNotFound(f"attribute {name} of {entity_id} has no instance {instance_id}")
    return service, ctx, stored, name


async def modify_instance(request: Request) -> Response:
    """PATCH /temporal/entities/{id}/attrs/{attr}/{instanceId}: replace one instance."""
    hub = hub_of(request)
    body = await read_json(request, hub.settings.max_body_bytes)
    service, _, stored, name = await _instance(request)
    ctx = await body_context(request, hub.contexts, body)
    if not isinstance(body, dict):
        raise BadRequestData("the body must be an attribute fragment object")
    fragment = body.get(name, body) if name in body else body
    if isinstance(fragment, list) and len(fragment) == 1:
        fragment = fragment[0]
    if not isinstance(fragment, dict) or not fragment:
        raise BadRequestData(f"the body must give one instance of attribute {name}")
    fragment = {k: v for k, v in fragment.items() if k != "@context"}
    inst = models.parse_instance(name, ctx.expand(name), fragment, ctx)
    if models.is_null(inst):
        raise BadRequestData("an instance cannot be replaced by NGSI-LD Null")
    inst.pop("datasetId", None)  # the instance stays in its series
    now = now_iso()
    modified = micros_of(now, 0)
    created = micros_of(stored.doc.get("createdAt"), modified)
    inst["createdAt"] = stored.doc.get("createdAt", now)
    inst["modifiedAt"] = now
    if "observedAt" not in inst and "observedAt" in stored.doc:
        inst["observedAt"] = stored.doc["observedAt"]
    observed = micros_of(inst.get("observedAt"), stored.time)
    row = instance_row("", "", inst, modified)
    await service.store.replace_instance(
        stored, observed, modified, created, row.doc, row.num, row.val
    )
    return Response(status_code=204)


async def delete_instance(request: Request) -> Response:
    """DELETE /temporal/entities/{id}/attrs/{attr}/{instanceId}."""
    service, _, stored, _ = await _instance(request)
    await service.store.delete_instance(stored)
    return Response(status_code=204)


_ENTITY = f"{BASE}/{{entity_id:path}}"
QUERY = "/ngsi-ld/v1/temporal/entityOperations/query"
_COLLECTION = {"POST": create_temporal, "GET": query_temporal}

routes = [
    method_route(QUERY, POST=query_temporal_post),
    method_route(BASE, **_COLLECTION),
    method_route(f"{BASE}/", **_COLLECTION),
    method_route(
        f"{_ENTITY}/attrs/{{attr}}/{{instance_id}}", PATCH=modify_instance, DELETE=delete_instance
    ),
    method_route(f"{_ENTITY}/attrs/{{attr}}", DELETE=delete_temporal_attr),
    *(method_route(f"{_ENTITY}/attrs{s}", POST=append_temporal) for s in ("", "/")),
    method_route(_ENTITY, GET=retrieve_temporal, DELETE=delete_temporal),
]
