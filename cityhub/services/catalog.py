"""The service catalog: what each city service declares, and setting a service up in a tenant.

A service module declares a :class:`Service`: its id and names, the default situation rules it
ships (rule documents, docs/rules.md) and its SOP templates (docs/operations-center.md). The
catalog API lists them and installs them into a tenant:

- ``GET /cityhub/v1/services``: every service, with its default rules and templates;
- ``POST /cityhub/v1/services/{id}/setup``: create the service's default rules that the tenant
  does not have yet (a rule of the same id is left as the operator changed it) and put its SOP
  templates the same way; the answer lists what was created and what was kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cityhub.audit.routes import record_request
from cityhub.auth.middleware import principal_of
from cityhub.errors import AlreadyExists, ResourceNotFound
from cityhub.ngsild.http import json_response, method_route, tenant_of
from cityhub.ngsild.hub import Hub, hub_of


@dataclass(frozen=True)
class Service:
    """A city service as the catalog knows it."""

    id: str
    name: str  # Korean, as the city calls it
    title: str  # English
    description: str
    rules: tuple[dict[str, Any], ...] = ()
    sops: tuple[dict[str, Any], ...] = ()
    models: tuple[str, ...] = ()  # entity types it works with
    layers: tuple[str, ...] = ()  # its map layer URLs (GeoJSON)
    extra: dict[str, Any] = field(default_factory=dict)

    def json(self) -> dict[str, Any]:
        """The catalog entry."""
        return {
            "id": self.id,
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "models": list(self.models),
            "layers": list(self.layers),
            "rules": [r["id"] for r in self.rules],
            "sops": [s["id"] for s in self.sops],
        }


SERVICES: dict[str, Service] = {}


def register(service: Service) -> Service:
    """Add a service to the catalog (its module does this when imported)."""
    SERVICES[service.id] = service
    return service


async def install_defaults(
    hub: Hub, tenant: str, service: Service, actor: str
) -> tuple[list[str], list[str]]:
    """Create the service's default rules and SOP templates the tenant lacks; (created,
    kept) as ``rule:<id>`` / ``sop:<id>``. One created meanwhile by someone else is kept."""
    rules = hub.extras["rules"]
    templates = hub.extras["sops"].templates
    have = {r.id for r in await rules.list(tenant)}
    created, kept = [], []
    for doc in service.rules:
        if doc["id"] in have:
            kept.append(f"rule:{doc['id']}")
            continue
        try:
            await rules.create(tenant, dict(doc))
        except AlreadyExists:
            kept.append(f"rule:{doc['id']}")
            continue
        created.append(f"rule:{doc['id']}")
    own = {t["id"] for t in await templates.every(tenant) if not t.get("builtin")}
    for doc in service.sops:
        if doc["id"] in own:
            kept.append(f"sop:{doc['id']}")
            continue
        await templates.put(tenant, dict(doc), actor)
        created.append(f"sop:{doc['id']}")
    return created, kept


async def setup(request: Request) -> Response:
    """POST /cityhub/v1/services/{id}/setup."""
    service = SERVICES.get(request.path_params["id"])
    if service is None:
        raise ResourceNotFound(f"no city service {request.path_params['id']}")
    hub, tenant = hub_of(request), tenant_of(request)
    created, kept = await install_defaults(hub, tenant, service, principal_of(request).name)
    await record_request(
        request, "service.setup", target=service.id, tenant=tenant, detail={"created": created}
    )
    return json_response({"service": service.id, "created": created, "kept": kept})


async def catalog(request: Request) -> Response:
    """GET /cityhub/v1/services."""
    return json_response([s.json() for s in SERVICES.values()])


routes = [
    method_route("/cityhub/v1/services", GET=catalog),
    method_route("/cityhub/v1/services/{id}/setup", POST=setup),
]
