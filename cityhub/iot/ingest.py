"""Taking measures in: one path for HTTP, MQTT and dead-letter replay.

A message names an API key, a device id and a payload (IoT Agent JSON or UltraLight 2.0).
The device's mapping (its own settings over its service group's) turns each measure group into
attribute updates of the device's entity, written as one batch (one transaction). A message
that cannot be taken (unknown key or device, malformed payload, a value the mapping refuses) is
kept as a dead letter with the precise reason, and the error goes back to the sender.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from cityhub.errors import BadRequestData, NgsiError, ResourceNotFound
from cityhub.iot import measures
from cityhub.iot.model import entity_type_of, mapping
from cityhub.iot.store import IotStore, Rejected, RejectedStore
from cityhub.ngsild import models
from cityhub.ngsild.batch import upsert_mutation
from cityhub.ngsild.hub import Hub
from cityhub.ngsild.models import now_iso

JSON, UL = "json", "ul"


@dataclass(frozen=True, slots=True)
class Message:
    """One measure message as received."""

    tenant: str
    service_path: str
    source: str  # http or mqtt
    resource: str  # /iot/json, /iot/d, or the MQTT topic
    apikey: str
    device_id: str
    format: str  # JSON or UL
    payload: bytes


class Ingest:
    """Measures → entity updates, with dead letters."""

    def __init__(self, hub: Hub, registry: IotStore, rejected: RejectedStore) -> None:
        self.hub = hub
        self.registry = registry
        self.rejected = rejected

    async def take(self, msg: Message) -> int:
        """Apply a message; returns how many measure groups it held. On a NgsiError the
        message is kept as a dead letter first, then the error is raised."""
        try:
            return await self._apply(msg)
        except NgsiError as err:
            await self.rejected.add(
                Rejected(
                    msg.tenant,
                    msg.service_path,
                    msg.source,
                    msg.resource,
                    msg.apikey,
                    msg.device_id,
                    msg.format,
                    msg.payload,
                    err.detail,
                    err.problem,
                    now_iso(),
                )
            )
            raise

    async def _apply(self, msg: Message) -> int:
        groups = _parse(msg)
        registry, tenant = self.registry, msg.tenant
        resource = msg.resource if msg.source == "http" else None
        group = None
        if resource is not None:
            group = await registry.group(tenant, msg.apikey, resource)
        if group is None:
            group = await registry.group(tenant, msg.apikey, None)
        device = await registry.device(tenant, msg.device_id)
        if device is not None and device.get("apikey") not in (None, msg.apikey):
            raise ResourceNotFound(
                f"device {msg.device_id} is not provisioned under API key {msg.apikey}"
            )
        if device is None:
            if group is None:
                raise ResourceNotFound(f"no service group for API key {msg.apikey}")
            if not group.get("autoprovision", True):
                raise ResourceNotFound(f"device {msg.device_id} is not provisioned")
        entity_type = entity_type_of(device, group)
        entity_id = (device or {}).get("entity_name") or measures.entity_id_for(
            msg.device_id, entity_type, None
        )
        how = mapping(msg.device_id, device, group, entity_id)
        now = now_iso()
        payloads = [
            {"id": entity_id, "type": how.entity_type, **measures.to_attributes(g, how, now)}
            for g in groups
        ]
        await upsert(self.hub, tenant, payloads)
        return len(groups)


def _parse(msg: Message) -> list[dict[str, Any]]:
    if msg.format == UL:
        try:
            text = msg.payload.decode("utf-8")
        except UnicodeDecodeError as err:
            raise BadRequestData("UltraLight measures must be UTF-8 text") from err
        return measures.parse_ultralight(text)
    try:
        body = orjson.loads(msg.payload)
    except orjson.JSONDecodeError as err:
        raise BadRequestData(f"the measures are not valid JSON: {err}") from err
    return measures.parse_json_measures(body)


async def upsert(hub: Hub, tenant: str, payloads: list[dict[str, Any]]) -> None:
    """Create or update entities in one batch (attributes added or replaced, others kept);
    the first failure is raised."""
    parsed = [models.parse_entity(p, hub.contexts.core) for p in payloads]
    result = await hub.entities.batch(tenant, [upsert_mutation(p, update=True) for p in parsed])
    if result.errors:
        raise result.errors[0][1]
