"""The IoT Agent northbound API (``/iot/services``, ``/iot/devices``) and the HTTP measure
endpoints devices post to (``/iot/json`` for JSON, ``/iot/d`` for UltraLight 2.0).

Tenancy follows the IoT Agent convention: the ``fiware-service`` header names the tenant (the
``NGSILD-Tenant`` header works too; both naming different tenants is refused) and
``fiware-servicepath`` (default ``/``) scopes groups and devices. Errors are NGSI-LD
ProblemDetails like the rest of the API.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from cityhub.errors import BadRequestData, ResourceNotFound, UnsupportedMediaType
from cityhub.iot import measures
from cityhub.iot.health import silent_devices
from cityhub.iot.ingest import JSON, NGSI_LD, UL, Ingest, Message, upsert
from cityhub.iot.model import (
    DEFAULT_RESOURCE,
    UL_RESOURCE,
    parse_device,
    parse_devices,
    parse_groups,
)
from cityhub.iot.store import IotStore, Rejected
from cityhub.ngsild.batch import batch_response, parse_batch, upsert_mutation
from cityhub.ngsild.context import parse_link_header
from cityhub.ngsild.http import (
    json_response,
    method_route,
    parse_int,
    read_json,
    tenant_of,
)
from cityhub.ngsild.hub import hub_of

_MAX_PAGE = 1000
_MAX_SILENCE_S = 366 * 86400
ENTITY_RESOURCE = "/iot/entities"


def _store(request: Request) -> IotStore:
    store: IotStore = hub_of(request).extras["iot"]
    return store


def _tenant(request: Request) -> str:
    """The tenant: ``fiware-service`` or ``NGSILD-Tenant`` (both naming different ones is
    refused, see :func:`cityhub.ngsild.http.tenant_in`)."""
    return tenant_of(request)


def _path(request: Request) -> str:
    """The service path a request provisions or sends in (``fiware-servicepath``, ``/``)."""
    path = request.headers.get("fiware-servicepath", "/").strip() or "/"
    if not path.startswith("/"):
        raise BadRequestData("fiware-servicepath must start with /")
    return path


def _listed_path(request: Request) -> str | None:
    """The service path a listing is about; None (``/*``, the default): every one."""
    path = _path(request) if "fiware-servicepath" in request.headers else "/*"
    return None if path == "/*" else path


def _page(request: Request) -> tuple[int, int]:
    limit = parse_int(request, "limit", 20, minimum=1)
    if limit > _MAX_PAGE:
        raise BadRequestData(f"limit must be at most {_MAX_PAGE}")
    return limit, parse_int(request, "offset", 0)


def _key(request: Request) -> tuple[str, str]:
    apikey, resource = request.query_params.get("apikey"), request.query_params.get("resource")
    if not apikey or not resource:
        raise BadRequestData("give the service group's apikey and resource as query parameters")
    return apikey, resource


# --- service groups -------------------------------------------------------------------------


async def create_groups(request: Request) -> Response:
    """POST /iot/services {"services": [...]}: all or none (409 if one exists)."""
    body = await read_json(request, hub_of(request).settings.max_body_bytes)
    path = _path(request)
    groups = [{**g, "service_path": path} for g in parse_groups(body)]
    await _store(request).add_groups(_tenant(request), path, groups)
    return Response(status_code=201)


async def list_groups(request: Request) -> Response:
    """GET /iot/services: {"count", "services"} of the service path (``/*``: all)."""
    limit, offset = _page(request)
    groups, count = await _store(request).groups(
        _tenant(request), _listed_path(request), limit, offset
    )
    return json_response({"count": count, "services": groups})


async def update_group(request: Request) -> Response:
    """PUT /iot/services?apikey=&resource=: change members of a group."""
    tenant, (apikey, resource) = _tenant(request), _key(request)
    body = await read_json(request, hub_of(request).settings.max_body_bytes)
    store = _store(request)
    current = await store.group(tenant, apikey, resource)
    if current is None:
        raise ResourceNotFound(f"no service group with apikey {apikey} and resource {resource}")
    if not isinstance(body, dict):
        raise BadRequestData("the body must be an object of service group members")
    if body.get("apikey", apikey) != apikey or body.get("resource", resource) != resource:
        raise BadRequestData("the apikey and resource of a service group cannot be changed")
    merged = parse_groups({"services": [{**current, **body}]})[0]
    await store.replace_group(tenant, merged)
    return Response(status_code=204)


async def delete_group(request: Request) -> Response:
    """DELETE /iot/services?apikey=&resource=."""
    apikey, resource = _key(request)
    if not await _store(request).delete_group(_tenant(request), apikey, resource):
        raise ResourceNotFound(f"no service group with apikey {apikey} and resource {resource}")
    return Response(status_code=204)


# --- devices --------------------------------------------------------------------------------


async def create_devices(request: Request) -> Response:
    """POST /iot/devices {"devices": [...]}: all or none; each device's entity gets a
    ``Device`` entity beside it (``urn:ngsi-ld:Device:<device_id>``, ``controlledAsset``)."""
    hub = hub_of(request)
    body = await read_json(request, hub.settings.max_body_bytes)
    tenant, path = _tenant(request), _path(request)
    devices = []
    for raw in parse_devices(body):
        group = await _group_of(request, tenant, raw.get("apikey"), None)
        entity_type, entity_id = measures.entity_of(raw["device_id"], raw, group)
        devices.append({**raw, "entity_name": entity_id, "entity_type": entity_type})
    await _store(request).add_devices(tenant, path, [{**d, "service_path": path} for d in devices])
    await _upsert(request, tenant, [_device_entity(d) for d in devices])
    return Response(status_code=201)


async def list_devices(request: Request) -> Response:
    """GET /iot/devices: {"count", "devices"} of the service path (``/*``: all)."""
    limit, offset = _page(request)
    devices, count = await _store(request).devices(
        _tenant(request), _listed_path(request), limit, offset
    )
    return json_response({"count": count, "devices": devices})


async def get_device(request: Request) -> Response:
    """GET /iot/devices/{device_id}."""
    return json_response(await _device(request, _tenant(request)))


async def update_device(request: Request) -> Response:
    """PUT /iot/devices/{device_id}: change members of a device."""
    tenant = _tenant(request)
    current = await _device(request, tenant)
    body = await read_json(request, hub_of(request).settings.max_body_bytes)
    if not isinstance(body, dict):
        raise BadRequestData("the body must be an object of device members")
    merged = parse_device({**current, **body}, device_id=current["device_id"])
    if "entity_name" in body or "entity_type" in body:
        group = await _group_of(request, tenant, merged.get("apikey"), None)
        merged["entity_type"], merged["entity_name"] = measures.entity_of(
            merged["device_id"], merged, group
        )
    await _store(request).replace_device(tenant, merged)
    await _upsert(request, tenant, [_device_entity(merged)])
    return Response(status_code=204)


async def delete_device(request: Request) -> Response:
    """DELETE /iot/devices/{device_id} (the entities stay: they are city data)."""
    device_id = request.path_params["device_id"]
    if not await _store(request).delete_device(_tenant(request), device_id):
        raise ResourceNotFound(f"no device {device_id}")
    return Response(status_code=204)


async def silent(request: Request) -> Response:
    """GET /cityhub/v1/devices/silent[?after=3600&limit=100]: the tenant's provisioned devices
    whose entity has not changed for ``after`` seconds, longest silent first."""
    after = parse_int(request, "after", 3600, minimum=1)
    if after > _MAX_SILENCE_S:
        raise BadRequestData(f"after must be at most {_MAX_SILENCE_S} (a year, in seconds)")
    limit = parse_int(request, "limit", 100, minimum=0)
    total, found = await silent_devices(hub_of(request), _store(request), tenant_of(request), after)
    return json_response(
        {
            "devices": total,
            "silent": len(found),
            "after_s": after,
            "silentDevices": [s.json() for s in found[:limit]],
        }
    )


async def _device(request: Request, tenant: str) -> dict[str, Any]:
    device_id = request.path_params["device_id"]
    device = await _store(request).device(tenant, device_id)
    if device is None:
        raise ResourceNotFound(f"no device {device_id}")
    return device


async def _group_of(
    request: Request, tenant: str, apikey: str | None, resource: str | None
) -> dict[str, Any] | None:
    if apikey is None:
        return None
    return await _store(request).group(tenant, apikey, resource)


def _device_entity(device: dict[str, Any]) -> dict[str, Any]:
    """The NGSI-LD Device entity (Smart Data Models ``Device``) standing for a device."""
    return {
        "id": f"urn:ngsi-ld:Device:{device['device_id']}",
        "type": "Device",
        "controlledAsset": {"type": "Relationship", "object": device["entity_name"]},
        "deviceState": {"type": "Property", "value": "provisioned"},
        **(
            {"supportedProtocol": {"type": "Property", "value": device["protocol"]}}
            if isinstance(device.get("protocol"), str)
            else {}
        ),
    }


async def _upsert(request: Request, tenant: str, payloads: list[dict[str, Any]]) -> None:
    await upsert(hub_of(request), tenant, payloads)


# --- measures -------------------------------------------------------------------------------


async def json_measures(request: Request) -> Response:
    """POST /iot/json?k=<apikey>&i=<device_id>: an object of measures, or an array of them."""
    hub = hub_of(request)
    mt = request.headers.get("content-type", "").split(";")[0].strip()
    if mt not in ("application/json", ""):
        raise UnsupportedMediaType(f"Content-Type {mt} not supported; use application/json")
    await _take(request, DEFAULT_RESOURCE, JSON, await _body(request, hub.settings.max_body_bytes))
    return Response(status_code=200)


async def ul_measures(request: Request) -> Response:
    """POST /iot/d?k=<apikey>&i=<device_id>: UltraLight 2.0 ``t|25|h|40`` (``#`` between
    measure groups)."""
    hub = hub_of(request)
    mt = request.headers.get("content-type", "text/plain").split(";")[0].strip()
    if mt not in ("text/plain", ""):
        raise UnsupportedMediaType(f"Content-Type {mt} not supported; use text/plain")
    await _take(request, UL_RESOURCE, UL, await _body(request, hub.settings.max_body_bytes))
    return Response(status_code=200)


async def _body(request: Request, max_bytes: int) -> bytes:
    raw = await request.body()
    if len(raw) > max_bytes:
        raise BadRequestData(f"the measures are larger than {max_bytes} bytes")
    return raw


async def _take(request: Request, resource: str, fmt: str, payload: bytes) -> None:
    apikey, device_id = request.query_params.get("k"), request.query_params.get("i")
    if not apikey or not device_id:
        raise BadRequestData("give the API key (k) and the device id (i) as query parameters")
    ingest = _ingest(request)
    tenant, path = _tenant(request), _path(request)
    if "fiware-service" not in request.headers and "ngsild-tenant" not in request.headers:
        # devices send no tenant: their API key's service group tells it (as over MQTT)
        tenant, path = await ingest.tenant_of_key(apikey) or (tenant, path)
    await ingest.take(Message(tenant, path, "http", resource, apikey, device_id, fmt, payload))


def _ingest(request: Request) -> Ingest:
    ingest: Ingest = hub_of(request).extras["ingest"]
    return ingest


async def entity_measures(request: Request) -> Response:
    """POST /iot/entities: NGSI-LD entities from a data source (an array, as for
    ``/entityOperations/upsert?options=update``), held to their types' data models like device
    measures; each refused entity is kept as a dead letter (replayable) and reported (207)."""
    hub = hub_of(request)
    tenant, path = _tenant(request), _path(request)
    body, errors, parsed = await parse_batch(request)
    result = await hub.entities.batch(
        tenant, [upsert_mutation(p, update=True) for p, _, _ in parsed], strict=True
    )
    link = request.headers.get("link")
    sent = {item.get("id"): item for item in body if isinstance(item, dict)}
    ingest = _ingest(request)
    for entity_id, err in errors + result.errors:
        item = sent.get(entity_id)
        if item is None:
            item = {"id": entity_id}  # not even an object: kept for the record
        elif "@context" not in item and link:
            item = {**item, "@context": parse_link_header(link)}
        msg = Message(
            tenant, path, "http", ENTITY_RESOURCE, "", str(entity_id), NGSI_LD, orjson.dumps(item)
        )
        await ingest.reject(msg, err)
    if result.created and not errors and not result.errors:
        return json_response(result.created, status=201)
    return batch_response(result, errors, 204)


# --- dead letters ---------------------------------------------------------------------------


async def list_rejected(request: Request) -> Response:
    """GET /iot/dead-letters[?device_id=]: rejected measure messages, oldest first."""
    limit, offset = _page(request)
    found, count = await _ingest(request).rejected.page(
        _tenant(request), request.query_params.get("device_id"), limit, offset
    )
    return json_response({"count": count, "deadLetters": [r.json() for r in found]})


async def rejected_counts(request: Request) -> Response:
    """GET /iot/dead-letters/counts: how many per device and error type."""
    return json_response(await _ingest(request).rejected.counts(_tenant(request)))


async def get_rejected(request: Request) -> Response:
    """GET /iot/dead-letters/{id}."""
    return json_response((await _rejected(request))[1].json())


async def replay_rejected(request: Request) -> Response:
    """POST /iot/dead-letters/{id}/replay: take the message again (after the device or model
    was fixed); taken, it leaves the list; refused again, the answer says why and a fresh
    dead letter records it."""
    ingest, found = await _rejected(request)
    msg = Message(
        found.tenant,
        found.service_path,
        found.source,
        found.resource,
        found.apikey,
        found.device_id,
        found.format,
        found.payload,
    )
    try:
        await ingest.take(msg)
    finally:
        await ingest.rejected.delete(found.tenant, found.id)
    return Response(status_code=204)


async def discard_rejected(request: Request) -> Response:
    """DELETE /iot/dead-letters/{id}."""
    ingest, found = await _rejected(request)
    await ingest.rejected.delete(found.tenant, found.id)
    return Response(status_code=204)


async def _rejected(request: Request) -> tuple[Ingest, Rejected]:
    raw = request.path_params["ident"]
    if not raw.isdigit():
        raise BadRequestData(f"dead letter id must be a number, got {raw!r}")
    if int(raw) >= 2**63:  # beyond any id the database hands out
        raise ResourceNotFound(f"no dead letter {raw}")
    ingest = _ingest(request)
    found = await ingest.rejected.get(_tenant(request), int(raw))
    if found is None:
        raise ResourceNotFound(f"no dead letter {raw}")
    return ingest, found


routes = [
    method_route(
        "/iot/services", POST=create_groups, GET=list_groups, PUT=update_group, DELETE=delete_group
    ),
    method_route("/iot/devices", POST=create_devices, GET=list_devices),
    method_route(
        "/iot/devices/{device_id}", GET=get_device, PUT=update_device, DELETE=delete_device
    ),
    method_route("/iot/json", POST=json_measures),
    method_route("/iot/d", POST=ul_measures),
    method_route(ENTITY_RESOURCE, POST=entity_measures),
    method_route("/iot/dead-letters", GET=list_rejected),
    method_route("/iot/dead-letters/counts", GET=rejected_counts),
    method_route("/iot/dead-letters/{ident}", GET=get_rejected, DELETE=discard_rejected),
    method_route("/iot/dead-letters/{ident}/replay", POST=replay_rejected),
    method_route("/cityhub/v1/devices/silent", GET=silent),
]
