"""Taking measures in: one path for HTTP, MQTT and dead-letter replay.

A message names an API key, a device id and a payload (IoT Agent JSON or UltraLight 2.0).
The device's mapping (its own settings over its service group's) turns each measure group into
attribute updates of the device's entity, written as one batch (one transaction). A message
that cannot be taken (unknown key or device, malformed payload, a value the mapping refuses) is
kept as a dead letter with the precise reason, and the error goes back to the sender.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from cityhub.errors import BadRequestData, NgsiError, ResourceNotFound
from cityhub.iot import measures
from cityhub.iot.model import mapping
from cityhub.iot.store import IotStore, Rejected, RejectedStore
from cityhub.ngsild import models
from cityhub.ngsild.batch import upsert_mutation
from cityhub.ngsild.hub import Hub
from cityhub.ngsild.models import now_iso

JSON, UL, NGSI_LD = "json", "ul", "ngsi-ld"
_CACHE_S = 2.0
_CACHE_MAX = 100_000


@dataclass(frozen=True, slots=True)
class Message:
    """One measure message as received."""

    tenant: str
    service_path: str
    source: str  # http or mqtt
    resource: str  # /iot/json, /iot/d, or the MQTT topic
    apikey: str
    device_id: str
    format: str  # JSON, UL, or NGSI_LD (one NGSI-LD entity, with its @context if not core)
    payload: bytes


class Ingest:
    """Measures → entity updates, with dead letters."""

    def __init__(self, hub: Hub, registry: IotStore, rejected: RejectedStore) -> None:
        self.hub = hub
        self.registry = registry
        self.rejected = rejected
        self._cache: dict[tuple[str, ...], tuple[float, Any]] = {}
        registry.on_change.append(self.forget)

    def forget(self) -> None:
        """Drop what was read of the registry (it was just changed in this process)."""
        self._cache.clear()

    async def _cached(self, key: tuple[str, ...], read: Callable[[], Awaitable[Any]]) -> Any:
        """Registry reads, kept ``_CACHE_S``: a busy device is looked up once, not per message;
        another worker's provisioning is seen within that time."""
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < _CACHE_S:
            return hit[1]
        if len(self._cache) > _CACHE_MAX:
            self._cache.clear()
        value = await read()
        self._cache[key] = (now, value)
        return value

    async def tenant_of_key(self, apikey: str) -> tuple[str, str] | None:
        """The tenant and service path of an API key's service group."""
        found: tuple[str, str] | None = await self._cached(
            ("key", apikey), lambda: self.registry.tenant_of_key(apikey)
        )
        return found

    async def take(self, msg: Message) -> int:
        """Apply a message; returns how many measure groups it held. On a NgsiError the
        message is kept as a dead letter first, then the error is raised."""
        try:
            parsed = await self._prepare(msg)
            await _write(self.hub, msg.tenant, parsed)
            return len(parsed)
        except NgsiError as err:
            await self._reject(msg, err)
            raise

    async def take_many(self, msgs: list[Message]) -> None:
        """Apply messages in order, every tenant's in one batch (one transaction); a message
        that cannot be taken is kept as a dead letter and the others go on."""
        by_tenant: dict[str, list[tuple[Message, list[dict[str, Any]]]]] = {}
        for msg in msgs:
            try:
                by_tenant.setdefault(msg.tenant, []).append((msg, await self._prepare(msg)))
            except NgsiError as err:
                await self._reject(msg, err)
        for tenant, prepared in by_tenant.items():
            mutations = [upsert_mutation(p, update=True) for _, ps in prepared for p in ps]
            result = await self.hub.entities.batch(tenant, mutations, strict=True)
            failed = {entity_id for entity_id, _ in result.errors}
            for msg, parsed in prepared:  # alone again: taken, or a dead letter saying why
                if any(p["id"] in failed for p in parsed):
                    with contextlib.suppress(NgsiError):
                        await self.take(msg)

    async def _reject(self, msg: Message, err: NgsiError) -> None:
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

    async def _prepare(self, msg: Message) -> list[dict[str, Any]]:
        """The parsed entity updates of a message (NgsiError if it cannot be taken)."""
        if msg.format == NGSI_LD:
            return [await self._entity(msg.payload)]
        groups = _parse(msg)
        registry, tenant = self.registry, msg.tenant
        resource = msg.resource if msg.source == "http" else None
        group = None
        if resource is not None:
            group = await self._cached(
                ("group", tenant, msg.apikey, resource),
                lambda: registry.group(tenant, msg.apikey, resource),
            )
        if group is None:
            group = await self._cached(
                ("group", tenant, msg.apikey), lambda: registry.group(tenant, msg.apikey, None)
            )
        device = await self._cached(
            ("device", tenant, msg.device_id), lambda: registry.device(tenant, msg.device_id)
        )
        if device is not None and device.get("apikey") not in (None, msg.apikey):
            raise ResourceNotFound(
                f"device {msg.device_id} is not provisioned under API key {msg.apikey}"
            )
        if device is None:
            if group is None:
                raise ResourceNotFound(f"no service group for API key {msg.apikey}")
            if not group.get("autoprovision", True):
                raise ResourceNotFound(f"device {msg.device_id} is not provisioned")
        _, entity_id = measures.entity_of(msg.device_id, device, group)
        how = mapping(msg.device_id, device, group, entity_id)
        now = now_iso()
        core = self.hub.contexts.core
        return [
            models.parse_entity(
                {"id": entity_id, "type": how.entity_type, **measures.to_attributes(g, how, now)},
                core,
            )
            for g in groups
        ]

    async def _entity(self, payload: bytes) -> dict[str, Any]:
        try:
            item = orjson.loads(payload)
        except orjson.JSONDecodeError as err:
            raise BadRequestData(f"the entity is not valid JSON: {err}") from err
        if not isinstance(item, dict):
            raise BadRequestData("an NGSI-LD entity must be a JSON object")
        ctx = await self.hub.contexts.resolve(item.pop("@context", None))
        return models.parse_entity(item, ctx)

    async def reject(self, msg: Message, err: NgsiError) -> None:
        """Keep a message that could not be taken as a dead letter."""
        await self._reject(msg, err)


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
    await _write(hub, tenant, [models.parse_entity(p, hub.contexts.core) for p in payloads])


async def _write(hub: Hub, tenant: str, parsed: list[dict[str, Any]]) -> None:
    mutations = [upsert_mutation(p, update=True) for p in parsed]
    result = await hub.entities.batch(tenant, mutations, strict=True)
    if result.errors:
        raise result.errors[0][1]
