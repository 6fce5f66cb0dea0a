"""Device measures → NGSI-LD attributes, as the FIWARE IoT Agents (UltraLight 2.0, JSON) do it.

Pure functions, no I/O. A payload is parsed into measure groups (:func:`parse_ultralight`,
:func:`parse_json_measures`); each group becomes the attributes of one update of the device's
entity (:func:`to_attributes`), in normalized form with compact names for the core @context:

    t|21.5|h|40#TimeInstant|2026-01-01T00:00:00Z|t|21.7      (UltraLight, two groups)
    {"t": 21.5, "h": 40}  or  [{"t": 21.5}, {"t": 21.7}]    (JSON)

    {"temperature": {"type": "Property", "value": 21.5, "unitCode": "CEL",
                     "observedAt": "2026-01-01T00:00:00Z"}}

The measure ``TimeInstant`` is the group's observation time, never an attribute itself.
"""

from __future__ import annotations

import copy
import math
import re
from datetime import datetime
from typing import Any

import orjson

from cityhub.errors import BadRequestData
from cityhub.iot.model import AttrMap, DeviceMapping, entity_type_of
from cityhub.ngsild import geo
from cityhub.ngsild.entity import (
    GEO_PROPERTY,
    INSTANCE_MEMBERS,
    PROPERTY,
    RELATIONSHIP,
    RESERVED_ATTRIBUTE_NAMES,
    Instance,
)
from cityhub.ngsild.models import check_attr_name, is_uri

TIME_INSTANT = "TimeInstant"
NUMBER_TYPES = frozenset({"Number", "Integer", "Float"})

_NUMBER_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$", re.ASCII)
_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})


def parse_ultralight(text: str) -> list[dict[str, str]]:
    """UltraLight 2.0 measures ``k|v|k|v``, groups separated by ``#`` → one dict per group.

    Values stay strings (UltraLight is untyped); a key repeated in a group keeps its last value.
    """
    payload = text.strip()
    if not payload:
        raise BadRequestData("empty UltraLight payload: expected key|value pairs")
    groups: list[dict[str, str]] = []
    for number, raw in enumerate(payload.split("#"), 1):
        group = raw.strip()
        if not group:
            continue
        fields = group.split("|")
        where = f"UltraLight measure group {number} ({group!r})"
        if len(fields) % 2:
            raise BadRequestData(
                f"{where} has an odd number of fields ({len(fields)}); expected key|value pairs"
            )
        measures: dict[str, str] = {}
        for i in range(0, len(fields), 2):
            if not fields[i]:
                raise BadRequestData(f"{where}: pair {i // 2 + 1} has an empty key")
            measures[fields[i]] = fields[i + 1]
        groups.append(measures)
    if not groups:
        raise BadRequestData("UltraLight payload has no measures, only '#' separators")
    return groups


def parse_json_measures(body: Any) -> list[dict[str, Any]]:
    """IoT Agent JSON payload: an object of measures, or a non-empty array of them."""
    if isinstance(body, dict):
        return [_measure_object(body, "JSON measures")]
    if isinstance(body, list):
        if not body:
            raise BadRequestData("JSON measures: the array is empty")
        return [_measure_object(item, f"JSON measures[{i}]") for i, item in enumerate(body)]
    raise BadRequestData(
        f"JSON measures must be an object or an array of objects, got {_kind(body)}"
    )


def _measure_object(item: Any, where: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise BadRequestData(f"{where} must be an object of measures, got {_kind(item)}")
    if not item:
        raise BadRequestData(f"{where} is an empty object: no measures")
    if "" in item:
        raise BadRequestData(f"{where} has a measure with an empty name")
    return item


def to_attributes(
    measures: dict[str, Any], device: DeviceMapping, now: str
) -> dict[str, dict[str, Any]]:
    """One measure group → the NGSI-LD attributes (normalized, compact names) it gives the
    device's entity, static attributes included.

    Measures are mapped by ``object_id`` (the name when absent); unmapped ones keep their key
    as a Property unless ``explicit_attrs``. Every attribute gets ``observedAt`` from the
    ``TimeInstant`` measure, or ``now`` if the device has ``timestamp`` set.
    """
    by_key: dict[str, AttrMap] = {}
    for attr_map in device.attributes:
        lookup = attr_map.object_id if attr_map.object_id is not None else attr_map.name
        by_key.setdefault(lookup, attr_map)
    observed: str | None = None
    attrs: dict[str, dict[str, Any]] = {}
    sources: dict[str, str] = {}
    for key, value in measures.items():
        mapping = by_key.get(key)
        name = mapping.name if mapping is not None else key
        if name == TIME_INSTANT:
            observed = _check_time(value, f"measure {key!r} (TimeInstant)")
            continue
        if mapping is None and device.explicit_attrs:
            continue
        where = f"measure {key!r}"
        _check_name(name, f"{where}: attribute name")
        if name in attrs:
            raise BadRequestData(
                f"measures {sources[name]!r} and {key!r} both give attribute {name!r}"
            )
        if mapping is None:
            attrs[name] = _instance(PROPERTY, value, where)
        else:
            attrs[name] = _instance(mapping.type, value, where)
            _add_metadata(attrs[name], mapping.metadata, name)
        sources[name] = key
    for static in device.static_attributes:
        where = f"static attribute {static.name!r}"
        _check_name(static.name, where)
        if static.name in attrs:
            continue  # a measured value is more current than the configured one
        value = copy.deepcopy(static.value)  # shared by every update of every device
        attrs[static.name] = _instance(static.type, value, where)
        _add_metadata(attrs[static.name], copy.deepcopy(static.metadata), static.name)
    if observed is None and device.timestamp:
        observed = now
    if observed is not None:
        for inst in attrs.values():
            inst["observedAt"] = observed
    return attrs


def entity_of(
    device_id: str, device: dict[str, Any] | None, group: dict[str, Any] | None
) -> tuple[str, str]:
    """A device's entity type and id, from its own settings over its service group's."""
    entity_type = entity_type_of(device, group)
    return entity_type, entity_id_for(device_id, entity_type, (device or {}).get("entity_name"))


def entity_id_for(device_id: str, entity_type: str, entity_name: str | None) -> str:
    """The device's entity id: ``entity_name`` if it is a URI, else prefixed with
    ``urn:ngsi-ld:{entity_type}:``; without a name, ``urn:ngsi-ld:{entity_type}:{device_id}``."""
    if entity_name and is_uri(entity_name):
        return entity_name
    entity_id = f"urn:ngsi-ld:{entity_type}:{entity_name or device_id}"
    if not is_uri(entity_id):
        raise BadRequestData(f"device {device_id!r}: {entity_id!r} is not a valid entity id")
    return entity_id


def _instance(iota_type: str, value: Any, where: str) -> Instance:
    """A value of IoT Agent type ``iota_type`` → a normalized NGSI-LD attribute instance."""
    if value is None:
        raise BadRequestData(f"{where} is null")
    if iota_type in NUMBER_TYPES:
        return {"type": PROPERTY, "value": _number(iota_type, value, where)}
    if iota_type == "Boolean":
        return {"type": PROPERTY, "value": _boolean(value, where)}
    if iota_type == "geo:point":
        return {"type": GEO_PROPERTY, "value": _geo_point(value, where)}
    if iota_type == "geo:json":
        return {"type": GEO_PROPERTY, "value": _geo_json(value, where)}
    if iota_type == "Relationship":
        if not is_uri(value):
            raise BadRequestData(f"{where}: a Relationship needs a URI, got {value!r}")
        return {"type": RELATIONSHIP, "object": value}
    if iota_type == "DateTime":
        stamp = _check_time(value, where)
        return {"type": PROPERTY, "value": {"@type": "DateTime", "@value": stamp}}
    return {"type": PROPERTY, "value": value}  # Text, String, Property and unknown types


def _number(iota_type: str, value: Any, where: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BadRequestData(f"{where}: {iota_type} expected, got {_kind(value)} {value!r}")
    number: int | float
    if isinstance(value, str):
        text = value.strip()
        if not _NUMBER_RE.match(text):
            raise BadRequestData(f"{where}: {iota_type} expected, got {value!r}")
        try:
            number = int(text) if text.lstrip("+-").isdigit() else float(text)
        except ValueError as err:  # more digits than int() takes
            raise BadRequestData(f"{where}: {value!r} is too long for a number") from err
    else:
        number = value
    if isinstance(number, float) and not math.isfinite(number):
        raise BadRequestData(f"{where}: {value!r} is not a finite number")
    if iota_type == "Integer":
        if isinstance(number, float):
            if not number.is_integer():
                raise BadRequestData(f"{where}: Integer expected, got {value!r}")
            return int(number)
        return number
    if iota_type == "Float":
        return float(number)
    return number


def _boolean(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise BadRequestData(f"{where}: Boolean expected (true, false, 1 or 0), got {value!r}")


def _geo_point(value: Any, where: str) -> dict[str, Any]:
    """``"lat,lon"`` (IoT Agent order, latitude first) → a GeoJSON Point ``[lon, lat]``."""
    parts = value.split(",") if isinstance(value, str) else []
    if len(parts) != 2 or not all(_NUMBER_RE.match(p.strip()) for p in parts):
        raise BadRequestData(f"{where}: geo:point expected as 'latitude,longitude', got {value!r}")
    lat, lon = (float(p) for p in parts)
    point = {"type": "Point", "coordinates": [lon, lat]}
    _check_geojson(point, where)
    return point


def _geo_json(value: Any, where: str) -> Any:
    if isinstance(value, str):  # UltraLight carries it as text
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError as err:
            raise BadRequestData(f"{where}: geo:json value is not JSON: {err}") from err
    _check_geojson(value, where)
    return value


def _check_geojson(value: Any, where: str) -> None:
    try:
        geo.validate_geojson(value)
    except BadRequestData as err:
        raise BadRequestData(f"{where}: {err.detail}") from err


def _check_time(value: Any, where: str) -> str:
    """An ISO 8601 DateTime (date and time) string, returned unchanged."""
    if isinstance(value, str) and "T" in value.upper():
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
            return value
        except ValueError:
            pass
    raise BadRequestData(f"{where}: an ISO 8601 DateTime expected, got {value!r}")


def _add_metadata(inst: Instance, metadata: dict[str, Any], attr: str) -> None:
    """IoT Agent attribute metadata → ``unitCode`` member and sub-properties."""
    for key, meta in metadata.items():
        where = f"attribute {attr!r}: metadata {key!r}"
        iota_type, value = PROPERTY, meta
        if isinstance(meta, dict) and "value" in meta:  # IoT Agent form {"type": .., "value": ..}
            iota_type, value = str(meta.get("type", PROPERTY)), meta["value"]
        if key == "unitCode":
            if not isinstance(value, str) or not value:
                raise BadRequestData(f"{where} must be a non-empty string, got {value!r}")
            inst["unitCode"] = value
            continue
        _check_name(key, where)
        if key in INSTANCE_MEMBERS:
            raise BadRequestData(f"{where}: {key!r} is an NGSI-LD member, not a sub-property")
        inst[key] = _instance(iota_type, value, where)


def _check_name(name: str, where: str) -> None:
    if name in RESERVED_ATTRIBUTE_NAMES:
        raise BadRequestData(f"{where}: {name!r} is reserved and cannot be an attribute name")
    try:
        check_attr_name(name)
    except BadRequestData as err:
        raise BadRequestData(f"{where}: {err.detail}") from err


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__
