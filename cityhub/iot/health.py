"""Which provisioned devices have gone silent: a device whose entity has not changed for a
while (``after`` seconds) is counted offline, so the operations center sees dead sensors
before their readings are missed. ``GET /cityhub/v1/devices/silent``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cityhub.errors import NonexistentTenant
from cityhub.iot.store import IotStore
from cityhub.ngsild.filters import EntityQuery
from cityhub.ngsild.hub import Hub

_PAGE = 1000  # devices read per page
_IDS = 500  # entities looked up per query


@dataclass(frozen=True)
class Silent:
    device_id: str
    entity_id: str
    last_change: str | None  # the entity's modifiedAt; None: no entity at all

    def json(self) -> dict[str, Any]:
        return {
            "deviceId": self.device_id,
            "entityId": self.entity_id,
            "lastChangeAt": self.last_change,
        }


async def silent_devices(
    hub: Hub, store: IotStore, tenant: str, after_s: int, now: datetime | None = None
) -> tuple[int, list[Silent]]:
    """How many devices the tenant has, and those silent for ``after_s`` seconds or more
    (longest silent first; never heard of first of all)."""
    devices: list[dict[str, Any]] = []
    while True:
        page, count = await store.devices(tenant, None, _PAGE, len(devices))
        devices.extend(page)
        if not page or len(devices) >= count:
            break
    ids = sorted({d["entity_name"] for d in devices if d.get("entity_name")})
    changed: dict[str, str] = {}
    for start in range(0, len(ids), _IDS):
        query = EntityQuery(ids=frozenset(ids[start : start + _IDS]), limit=_IDS)
        try:
            found = (await hub.entities.query(tenant, query)).entities
        except NonexistentTenant:
            break
        changed.update((e["id"], e.get("modifiedAt", "")) for e in found)
    cutoff = (now or datetime.now(UTC)) - timedelta(seconds=after_s)
    silent = [
        Silent(d["device_id"], d.get("entity_name", ""), changed.get(d.get("entity_name", "")))
        for d in devices
        if _older(changed.get(d.get("entity_name", "")), cutoff)
    ]
    silent.sort(key=lambda s: (s.last_change is not None, s.last_change or "", s.device_id))
    return len(devices), silent


def _older(moment: str | None, cutoff: datetime) -> bool:
    if not moment:
        return True
    try:
        return datetime.fromisoformat(moment) <= cutoff
    except ValueError:
        return True
