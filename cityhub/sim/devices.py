"""The demo city's sensors as devices of the ingest gateway: one service group (API key) per
kind of sensor, one device per sensor-bearing entity of :mod:`cityhub.sim.city`.

Each device's ``entity_name`` is the demo entity it measures, so a measure updates that entity
(and thereby its history, the rules and the city services), exactly as a real sensor
provisioned through ``/iot/services`` and ``/iot/devices`` would. :func:`provision` writes the
groups and devices through the same registry and entity service the routes use; it keeps what
is provisioned already, so it runs on every start of ``cityhub demo``. The simulator
(:mod:`cityhub.sim.stream`) sends its measures with the API keys and measure names below.

=============  ===========================  ======================================  =========
kind           entity (device id)           measures (object_id → attribute)        API key
=============  ===========================  ======================================  =========
spot           ParkingSpot (spot-N-K)       s → status                              demo-spot
lot            OffStreetParking (lot-N)     f → availableSpotNumber,                demo-lot
                                            o → occupiedSpotNumber
air            AirQualityObserved (aq-N)    p10, p25, o3, no2, co, so2              demo-air
structure      StructuralHealthObserved     t → tilt, c → crackWidth,               demo-shm
               (shm-N)                      v → vibrationVelocity
motion         Device (motion-N), the       m → motionDetected, t → temperature     demo-care
               household's motion sensor
crosswalk      CrosswalkObserved (cw-N)     v → vehicleCount, p → pedestrianCount,  demo-cw
                                            x → stopLineViolations
gauge          FloodMonitoring (gauge-N)    l → currentLevel                        demo-gauge
panel          ElectricalPanel (efp-N)      l → leakageCurrent, t → temperature,    demo-efp
                                            a → arcEvents
=============  ===========================  ======================================  =========

Device ids carry the ``demo-`` prefix of the entities (``demo-spot-3-7``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cityhub.iot.ingest import upsert
from cityhub.iot.model import parse_devices, parse_groups
from cityhub.iot.store import IotStore
from cityhub.ngsild.hub import Hub

SERVICE_PATH = "/"


def _attr(object_id: str, name: str, kind: str, unit: str | None = None) -> dict[str, Any]:
    attr: dict[str, Any] = {"object_id": object_id, "name": name, "type": kind}
    if unit:
        attr["metadata"] = {"unitCode": {"type": "Text", "value": unit}}
    return attr


@dataclass(frozen=True, slots=True)
class Kind:
    """A kind of demo sensor: its service group and the entities that carry it."""

    name: str
    apikey: str
    entity_type: str
    device_prefix: str  # device id = "demo-" + prefix + the entity id's number part
    attributes: tuple[dict[str, Any], ...]

    def group(self) -> dict[str, Any]:
        """The service group, as ``POST /iot/services`` takes it."""
        return {
            "apikey": self.apikey,
            "resource": "/iot/json",
            "entity_type": self.entity_type,
            "timestamp": True,
            "explicitAttrs": True,
            "autoprovision": False,
            "attributes": list(self.attributes),
            "description": f"cityhub demo city: {self.name} sensors",
            "service_path": SERVICE_PATH,
        }


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("spot", "demo-spot", "ParkingSpot", "spot", (_attr("s", "status", "Text"),)),
        Kind(
            "lot",
            "demo-lot",
            "OffStreetParking",
            "lot",
            (
                _attr("f", "availableSpotNumber", "Integer"),
                _attr("o", "occupiedSpotNumber", "Integer"),
            ),
        ),
        Kind(
            "air",
            "demo-air",
            "AirQualityObserved",
            "aq",
            (
                _attr("p10", "pm10", "Number", "GQ"),
                _attr("p25", "pm25", "Number", "GQ"),
                _attr("o3", "o3", "Number", "GQ"),
                _attr("no2", "no2", "Number", "GQ"),
                _attr("co", "co", "Number", "GP"),
                _attr("so2", "so2", "Number", "GQ"),
            ),
        ),
        Kind(
            "structure",
            "demo-shm",
            "StructuralHealthObserved",
            "shm",
            (
                _attr("t", "tilt", "Number", "DD"),
                _attr("c", "crackWidth", "Number", "MMT"),
                _attr("v", "vibrationVelocity", "Number", "C16"),
            ),
        ),
        Kind(
            "motion",
            "demo-care",
            "Device",
            "motion",
            (_attr("m", "motionDetected", "Boolean"), _attr("t", "temperature", "Number", "CEL")),
        ),
        Kind(
            "crosswalk",
            "demo-cw",
            "CrosswalkObserved",
            "cw",
            (
                _attr("v", "vehicleCount", "Integer"),
                _attr("p", "pedestrianCount", "Integer"),
                _attr("x", "stopLineViolations", "Integer"),
            ),
        ),
        Kind(
            "gauge",
            "demo-gauge",
            "FloodMonitoring",
            "gauge",
            (_attr("l", "currentLevel", "Number", "MTR"),),
        ),
        Kind(
            "panel",
            "demo-efp",
            "ElectricalPanel",
            "efp",
            (
                _attr("l", "leakageCurrent", "Number", "4K"),
                _attr("t", "temperature", "Number", "CEL"),
                _attr("a", "arcEvents", "Integer"),
            ),
        ),
    )
}
#: the entity type whose entities carry each kind of sensor
_CARRIER = {
    "ParkingSpot": "spot",
    "OffStreetParking": "lot",
    "AirQualityObserved": "air",
    "StructuralHealthObserved": "structure",
    "CrosswalkObserved": "crosswalk",
    "FloodMonitoring": "gauge",
    "ElectricalPanel": "panel",
}


@dataclass(frozen=True, slots=True)
class Device:
    """One demo sensor: its kind, device id and the entity its measures update."""

    kind: str
    device_id: str
    entity_id: str

    @property
    def apikey(self) -> str:
        """The API key of its service group."""
        return KINDS[self.kind].apikey

    def json(self) -> dict[str, Any]:
        """The device, as ``POST /iot/devices`` takes it."""
        return {
            "device_id": self.device_id,
            "apikey": self.apikey,
            "entity_name": self.entity_id,
            "entity_type": KINDS[self.kind].entity_type,
            "protocol": "IoTA-JSON",
            "transport": "MQTT",
            "service_path": SERVICE_PATH,
        }


def _number_part(entity_id: str) -> str:
    """``urn:ngsi-ld:ParkingSpot:demo-3-7`` → ``3-7``."""
    return entity_id.rsplit(":", 1)[-1].removeprefix("demo-")


def devices_of(city: Iterable[dict[str, Any]]) -> list[Device]:
    """The sensors of the demo city, in the city's order."""
    found: list[Device] = []
    for entity in city:
        kind = _CARRIER.get(entity["type"])
        if kind is not None:
            prefix = KINDS[kind].device_prefix
            device_id = f"demo-{prefix}-{_number_part(entity['id'])}"
            found.append(Device(kind, device_id, entity["id"]))
        elif entity["type"] == "Device" and "motion" in entity.get("controlledProperty", {}).get(
            "value", []
        ):
            # the household's motion sensor is a Device entity of its own: it is its own entity
            found.append(Device("motion", entity["id"].rsplit(":", 1)[-1], entity["id"]))
    return found


def _device_entity(device: Device) -> dict[str, Any]:
    """The NGSI-LD Device standing for a provisioned device (as ``/iot/devices`` writes it);
    a motion sensor is that Device already, naming its household: only its state is added."""
    state = {
        "deviceState": {"type": "Property", "value": "provisioned"},
        "supportedProtocol": {"type": "Property", "value": "IoTA-JSON"},
    }
    if device.kind == "motion":
        return {"id": device.entity_id, "type": "Device", **state}
    return {
        "id": f"urn:ngsi-ld:Device:{device.device_id}",
        "type": "Device",
        "controlledAsset": {"type": "Relationship", "object": device.entity_id},
        **state,
    }


async def provision(hub: Hub, tenant: str, city: list[dict[str, Any]]) -> tuple[int, int]:
    """Provision the service groups and devices of the demo city that are not there yet;
    how many groups and devices were added (0, 0 on a second start)."""
    store: IotStore = hub.extras["iot"]
    have_groups = {(g["apikey"], g["resource"]) for g in await _all(store.groups, tenant)}
    groups = [k.group() for k in KINDS.values()]
    new_groups = [g for g in groups if (g["apikey"], g["resource"]) not in have_groups]
    if new_groups:  # checked as POST /iot/services checks them
        await store.add_groups(tenant, SERVICE_PATH, parse_groups({"services": new_groups}))
    have = {d["device_id"] for d in await _all(store.devices, tenant)}
    new = [d for d in devices_of(city) if d.device_id not in have]
    for start in range(0, len(new), 500):
        chunk = new[start : start + 500]
        docs = parse_devices({"devices": [d.json() for d in chunk]})
        await store.add_devices(tenant, SERVICE_PATH, docs)
        await upsert(hub, tenant, [_device_entity(d) for d in chunk])
    return len(new_groups), len(new)


async def _all(page: Any, tenant: str) -> list[dict[str, Any]]:
    """Every row of a registry listing (all service paths), page by page."""
    rows: list[dict[str, Any]] = []
    while True:
        found, count = await page(tenant, None, 1000, len(rows))
        rows += found
        if not found or len(rows) >= count:
            return rows
