"""The data-model admin API under ``/cityhub/v1/models``.

- ``GET /cityhub/v1/models``: every model (built-in, custom, extended), without schemas;
- ``GET /cityhub/v1/models/{type}``: one model with its schema (and extension);
- ``PUT /cityhub/v1/models/{type}``: add or replace an operator's model
  (``{"schema": {...}, "extends": false, "enforce": false, "title", "description", "source"}``);
- ``PATCH /cityhub/v1/models/{type}``: switch ``enforce`` (API validation) or retitle;
- ``DELETE /cityhub/v1/models/{type}``: remove the operator's model or changes;
- ``POST /cityhub/v1/models/{type}/validate``: check an NGSI-LD entity against the model,
  writing nothing (``{"valid": bool, "errors": [...]}``).
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from cityhub.datamodels.registry import ModelRegistry
from cityhub.ngsild import merge, models
from cityhub.ngsild.http import body_context, json_response, method_route, read_json
from cityhub.ngsild.hub import hub_of
from cityhub.ngsild.models import now_iso

BASE = "/cityhub/v1/models"


def registry_of(request: Request) -> ModelRegistry:
    """The data-model registry of the app serving ``request``."""
    registry: ModelRegistry = hub_of(request).extras["datamodels"]
    return registry


async def list_models(request: Request) -> Response:
    """GET /cityhub/v1/models."""
    found = await registry_of(request).models()
    return json_response([m.json(schema=False) for m in found])


async def get_model(request: Request) -> Response:
    """GET /cityhub/v1/models/{type}."""
    model = await registry_of(request).model(request.path_params["type"])
    return json_response(model.json())


async def put_model(request: Request) -> Response:
    """PUT /cityhub/v1/models/{type}: 201 when the type had no model, else 204."""
    body = await read_json(request, hub_of(request).settings.max_body_bytes)
    type_name = request.path_params["type"]
    if await registry_of(request).put(type_name, body):
        location = f"{BASE}/{quote(type_name, safe='')}"
        return Response(status_code=201, headers={"Location": location})
    return Response(status_code=204)


async def patch_model(request: Request) -> Response:
    """PATCH /cityhub/v1/models/{type}."""
    body = await read_json(request, hub_of(request).settings.max_body_bytes)
    await registry_of(request).patch(request.path_params["type"], body)
    return Response(status_code=204)


async def delete_model(request: Request) -> Response:
    """DELETE /cityhub/v1/models/{type}."""
    await registry_of(request).delete(request.path_params["type"])
    return Response(status_code=204)


async def validate(request: Request) -> Response:
    """POST /cityhub/v1/models/{type}/validate: an entity as it would be created."""
    hub = hub_of(request)
    registry = registry_of(request)
    await registry.ready()
    checker = registry.checker(request.path_params["type"])
    body = await read_json(request, hub.settings.max_body_bytes)
    ctx = await body_context(request, hub.contexts, body)
    entity = merge.new_entity(models.parse_entity(body, ctx), now_iso())
    errors = checker.errors(None, entity)
    return json_response({"valid": not errors, "errors": errors})


routes = [
    method_route(BASE, GET=list_models),
    method_route(
        BASE + "/{type}", GET=get_model, PUT=put_model, PATCH=patch_model, DELETE=delete_model
    ),
    method_route(BASE + "/{type}/validate", POST=validate),
]
