"""Service groups and devices as the FIWARE IoT Agent provisioning API describes them.

A *service group* (``/iot/services``) holds an API key, the ``resource`` devices post to and
defaults for its devices: entity type, attribute mappings, static attributes, ``timestamp``,
``autoprovision``. A *device* (``/iot/devices``) maps a device id to an entity (id and type)
and its measures (``object_id``) to attributes (name, type, metadata such as ``unitCode``).
The JSON shapes are the IoT Agent's, so existing provisioning scripts work unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from cityhub.errors import BadRequestData

DEFAULT_RESOURCE = "/iot/json"
UL_RESOURCE = "/iot/d"


@dataclass(frozen=True, slots=True)
class AttrMap:
    """One measure → attribute mapping: ``object_id`` in the payload (the name if absent),
    the attribute ``name`` and its IoT Agent ``type`` (Number, Text, Boolean, geo:point,
    geo:json, Relationship, DateTime...), plus attribute ``metadata`` (e.g. unitCode)."""

    name: str
    type: str = "Property"
    object_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StaticAttr:
    """An attribute every update of the device's entity carries (IoT Agent static_attributes)."""

    name: str
    type: str
    value: Any
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeviceMapping:
    """How one device's measures become its entity's attributes (device merged with its
    service group's defaults)."""

    device_id: str
    entity_id: str
    entity_type: str
    attributes: tuple[AttrMap, ...] = ()
    static_attributes: tuple[StaticAttr, ...] = ()
    timestamp: bool = False  # stamp every attribute with observedAt (payload's TimeInstant or now)
    explicit_attrs: bool = False  # only mapped measures become attributes


_ID_CHARS = re.compile(r"^[A-Za-z0-9_.:\-]{1,256}$")
_GROUP_FLAGS = ("timestamp", "explicitAttrs", "autoprovision")
_KNOWN_GROUP = {
    "apikey",
    "resource",
    "entity_type",
    "cbroker",
    "token",
    "attributes",
    "lazy",
    "commands",
    "static_attributes",
    "internal_attributes",
    "protocol",
    "transport",
    "timezone",
    "description",
    "service",
    "subservice",
    "service_path",
    *_GROUP_FLAGS,
}
_KNOWN_DEVICE = (_KNOWN_GROUP - {"resource", "cbroker", "token", "autoprovision"}) | {
    "device_id",
    "entity_name",
    "endpoint",
    "polling",
}


#: members kept as provisioned, which must be text when given
_TEXT = (
    "cbroker",
    "token",
    "protocol",
    "transport",
    "timezone",
    "description",
    "service",
    "subservice",
    "service_path",
    "endpoint",
)


def _string(doc: dict[str, Any], name: str, what: str, *, required: bool = False) -> None:
    value = doc.get(name)
    if value is None:
        if required:
            raise BadRequestData(f"{what} needs {name}")
        return
    if not isinstance(value, str) or not value.strip():
        raise BadRequestData(f"{what}: {name} must be a non-empty string")


def _flags(doc: dict[str, Any], what: str) -> None:
    for flag in _GROUP_FLAGS:
        if flag in doc and not isinstance(doc[flag], bool):
            raise BadRequestData(f"{what}: {flag} must be true or false")


def _attr_list(doc: dict[str, Any], name: str, what: str, *, values: bool) -> None:
    items = doc.get(name)
    if items is None:
        return
    if not isinstance(items, list):
        raise BadRequestData(f"{what}: {name} must be an array")
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise BadRequestData(f"{what}: every entry of {name} needs a name")
        if "type" in item and not isinstance(item["type"], str):
            raise BadRequestData(f"{what}: {name} {item['name']}: type must be a string")
        if "object_id" in item and not isinstance(item["object_id"], str):
            raise BadRequestData(f"{what}: {name} {item['name']}: object_id must be a string")
        if "metadata" in item and not isinstance(item["metadata"], dict):
            raise BadRequestData(f"{what}: {name} {item['name']}: metadata must be an object")
        if values and "value" not in item:
            raise BadRequestData(f"{what}: {name} {item['name']} needs a value")


def _check(doc: Any, what: str, known: set[str]) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise BadRequestData(f"every {what} must be a JSON object")
    unknown = sorted(set(doc) - known)
    if unknown:
        raise BadRequestData(f"{what}: unknown member(s) {', '.join(unknown)}")
    _string(doc, "entity_type", what)
    for name in _TEXT:
        if name in doc and doc[name] is not None and not isinstance(doc[name], str):
            raise BadRequestData(f"{what}: {name} must be a string")
    if "polling" in doc and not isinstance(doc["polling"], bool):
        raise BadRequestData(f"{what}: polling must be true or false")
    _flags(doc, what)
    _attr_list(doc, "attributes", what, values=False)
    _attr_list(doc, "lazy", what, values=False)
    _attr_list(doc, "commands", what, values=False)
    _attr_list(doc, "static_attributes", what, values=True)
    # a text member given as null is one not given (kept, it would be read back as null where
    # clients expect text or nothing)
    return {k: v for k, v in doc.items() if not (v is None and k in _TEXT)}


def parse_groups(body: Any) -> list[dict[str, Any]]:
    """The service groups of a POST /iot/services body ``{"services": [...]}``."""
    if not isinstance(body, dict) or not isinstance(body.get("services"), list):
        raise BadRequestData('the body must be {"services": [...]}')
    if not body["services"]:
        raise BadRequestData("services is empty")
    groups = []
    for raw in body["services"]:
        group = _check(raw, "service group", _KNOWN_GROUP)
        _string(group, "apikey", "service group", required=True)
        group.setdefault("resource", DEFAULT_RESOURCE)
        _string(group, "resource", "service group")
        if not group["resource"].startswith("/"):
            raise BadRequestData("service group: resource must be a path starting with /")
        groups.append(group)
    keys = [(g["apikey"], g["resource"]) for g in groups]
    if len(set(keys)) != len(keys):
        raise BadRequestData("two service groups with the same apikey and resource")
    return groups


def parse_devices(body: Any) -> list[dict[str, Any]]:
    """The devices of a POST /iot/devices body ``{"devices": [...]}``."""
    if not isinstance(body, dict) or not isinstance(body.get("devices"), list):
        raise BadRequestData('the body must be {"devices": [...]}')
    if not body["devices"]:
        raise BadRequestData("devices is empty")
    devices = [parse_device(raw) for raw in body["devices"]]
    ids = [d["device_id"] for d in devices]
    if len(set(ids)) != len(ids):
        raise BadRequestData("two devices with the same device_id")
    return devices


def parse_device(raw: Any, *, device_id: str | None = None) -> dict[str, Any]:
    """One device; ``device_id`` given (PUT /iot/devices/{id}): the body may leave it out."""
    device = _check(raw, "device", _KNOWN_DEVICE)
    if device_id is not None:
        if device.get("device_id", device_id) != device_id:
            raise BadRequestData("the device_id of a device cannot be changed")
        device["device_id"] = device_id
    _string(device, "device_id", "device", required=True)
    if not _ID_CHARS.match(device["device_id"]):
        raise BadRequestData(
            f"device_id {device['device_id']!r}: use letters, digits and _ . : - only"
        )
    for name in ("entity_name", "apikey"):
        _string(device, name, "device")
    return device


def _attr_maps(items: list[dict[str, Any]] | None) -> tuple[AttrMap, ...]:
    return tuple(
        AttrMap(
            name=i["name"],
            type=i.get("type", "Property"),
            object_id=i.get("object_id"),
            metadata=dict(i.get("metadata") or {}),
        )
        for i in items or []
    )


def _statics(items: list[dict[str, Any]] | None) -> tuple[StaticAttr, ...]:
    return tuple(
        StaticAttr(i["name"], i.get("type", "Property"), i["value"], dict(i.get("metadata") or {}))
        for i in items or []
    )


def mapping(
    device_id: str, device: dict[str, Any] | None, group: dict[str, Any] | None, entity_id: str
) -> DeviceMapping:
    """How a device's measures map, its own settings over its group's (attributes of both:
    the device's win on the same object_id or name)."""
    device = device or {}
    group = group or {}
    attrs = {(a.object_id or a.name): a for a in _attr_maps(group.get("attributes"))}
    attrs.update({(a.object_id or a.name): a for a in _attr_maps(device.get("attributes"))})
    statics = {s.name: s for s in _statics(group.get("static_attributes"))}
    statics.update({s.name: s for s in _statics(device.get("static_attributes"))})
    return DeviceMapping(
        device_id=device_id,
        entity_id=entity_id,
        entity_type=entity_type_of(device, group),
        attributes=tuple(attrs.values()),
        static_attributes=tuple(statics.values()),
        timestamp=bool(device.get("timestamp", group.get("timestamp", False))),
        explicit_attrs=bool(device.get("explicitAttrs", group.get("explicitAttrs", False))),
    )


def entity_type_of(device: dict[str, Any] | None, group: dict[str, Any] | None) -> str:
    """The entity type of a device: its own, its group's, else ``Thing`` (the IoT Agent's)."""
    return str((device or {}).get("entity_type") or (group or {}).get("entity_type") or "Thing")
