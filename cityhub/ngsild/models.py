"""Parsing and validation of incoming NGSI-LD payloads into the stored form (see entity.py).

Accepts the normalized and the concise representations (ETSI GS CIM 009 clause 4.5), expands
names with the request's :class:`ActiveContext`, and rejects anything invalid with a precise
:class:`BadRequestData` before storage sees it, so a bad request changes nothing.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

from cityhub.errors import BadRequestData
from cityhub.ngsild import geo
from cityhub.ngsild.context import NGSI_LD, ActiveContext
from cityhub.ngsild.entity import (
    ATTRIBUTE_TYPES,
    GEO_PROPERTY,
    JSON_PROPERTY,
    LANGUAGE_PROPERTY,
    LIST_PROPERTY,
    LIST_RELATIONSHIP,
    PROPERTY,
    RELATIONSHIP,
    RESERVED_ATTRIBUTE_NAMES,
    VALUE_MEMBER,
    VOCAB_PROPERTY,
    Entity,
    Instance,
)

URI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]*$")
_NAME_RE = re.compile(r"^[^\s<>\"'=;()\\]+$")
_SCOPE_RE = re.compile(r"^/[^\s/#+]+(/[^\s/#+]+)*$")
_GEO_TYPES = geo.GEOMETRY_TYPES
_META_IGNORED = frozenset({"createdAt", "modifiedAt", "deletedAt", "instanceId"})
NULL_URI = "urn:ngsi-ld:null"
_VALUE_KEYS = frozenset(
    {
        "type",
        "value",
        "object",
        "languageMap",
        "json",
        "valueList",
        "objectList",
        "vocab",
        "objectType",
    }
)


_NOW: tuple[int, str] = (0, "")  # the last millisecond formatted, and its text


def now_iso() -> str:
    """The current time as an NGSI-LD DateTime (UTC, milliseconds); formatted once a
    millisecond (every write of a batch asks)."""
    global _NOW
    ms = time.time_ns() // 1_000_000
    last = _NOW
    if last[0] == ms:
        return last[1]
    moment = datetime.fromtimestamp(ms // 1000, UTC).replace(microsecond=ms % 1000 * 1000)
    text = moment.isoformat(timespec="milliseconds")[:-6] + "Z"  # drop "+00:00"
    _NOW = (ms, text)
    return text


def is_uri(value: Any) -> bool:
    """True if ``value`` is an absolute URI (as entity ids and datasetIds must be)."""
    return isinstance(value, str) and bool(URI_RE.match(value))


def check_datetime(value: Any, what: str) -> str:
    """Validate an ISO 8601 date-time string; returns it unchanged."""
    if not isinstance(value, str):
        raise BadRequestData(f"{what} must be a DateTime string")
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as err:
        raise BadRequestData(f"{what} is not a valid DateTime: {value!r}") from err
    return value


def _observed_at(name: str, value: Any) -> str:
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
            return value  # the common case, without building an error message
        except ValueError:
            pass
    return check_datetime(value, f"attribute {name!r}: observedAt")


def check_entity_id(value: Any) -> str:
    """Validate an entity id (an absolute URI)."""
    if not is_uri(value):
        raise BadRequestData(f"entity id must be a URI, got {value!r}")
    return str(value)


def parse_types(value: Any, ctx: ActiveContext) -> list[str]:
    """Entity ``type`` member (string or non-empty array) → expanded type IRIs."""
    items = value if isinstance(value, list) else [value]
    if not items:
        raise BadRequestData("entity type must not be empty")
    out: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item or not _NAME_RE.match(item):
            raise BadRequestData(f"invalid entity type {item!r}")
        iri = ctx.expand(item)
        if iri.startswith("@") or ":" not in iri:
            # a term the @context maps to a keyword (the core context's "type" is @type)
            raise BadRequestData(f"invalid entity type {item!r}: it expands to {iri!r}, not an IRI")
        if iri not in out:
            out.append(iri)
    return out


def parse_scope(value: Any) -> list[str]:
    """Entity ``scope`` member → list of scope paths."""
    items = value if isinstance(value, list) else [value]
    for item in items:
        if not isinstance(item, str) or not _SCOPE_RE.match(item):
            raise BadRequestData(f"invalid scope {item!r}: scopes look like /City/District")
    return list(dict.fromkeys(items))


_GOOD_NAMES: set[str] = set()  # names seen valid already (a city uses a few hundred)


def check_attr_name(name: str) -> None:
    """Reject attribute names NGSI-LD does not allow."""
    if name in _GOOD_NAMES:
        return
    if not name or not _NAME_RE.match(name) or name.startswith("@"):
        # "@..." are JSON-LD keywords, never attribute names (ETSI 055_03_03)
        raise BadRequestData(f"invalid attribute name {name!r}")
    if len(_GOOD_NAMES) < 10_000:
        _GOOD_NAMES.add(name)


def parse_entity(
    body: Any, ctx: ActiveContext, *, require_id: bool = True, require_type: bool = True
) -> Entity:
    """A request body entity → stored form (without system timestamps)."""
    if not isinstance(body, dict):
        raise BadRequestData("an entity must be a JSON object")
    entity: Entity = {}
    if "id" in body or "@id" in body:
        entity["id"] = check_entity_id(body.get("id", body.get("@id")))
    elif require_id:
        raise BadRequestData("entity id is missing")
    if "type" in body or "@type" in body:
        entity["type"] = parse_types(body.get("type", body.get("@type")), ctx)
    elif require_type:
        raise BadRequestData("entity type is missing")
    if "scope" in body:
        entity["scope"] = parse_scope(body["scope"])
    entity["attrs"] = parse_attributes(body, ctx)
    return entity


def parse_attributes(body: dict[str, Any], ctx: ActiveContext) -> dict[str, list[Instance]]:
    """All attribute members of a body (entity or attribute fragment) → expanded instances."""
    attrs: dict[str, list[Instance]] = {}
    for name, raw in body.items():
        if name in RESERVED_ATTRIBUTE_NAMES:
            continue
        check_attr_name(name)
        iri = ctx.expand(name)
        attrs[iri] = parse_attribute(name, iri, raw, ctx)
    return attrs


def parse_attribute(name: str, iri: str, raw: Any, ctx: ActiveContext) -> list[Instance]:
    """One attribute (an instance or an array of instances) → list of instances."""
    items = raw if isinstance(raw, list) and _is_instance_list(raw) else [raw]
    out: list[Instance] = []
    seen: set[str | None] = set()
    for item in items:
        inst = parse_instance(name, iri, item, ctx)
        ds = inst.get("datasetId")
        if ds in seen:
            which = f"datasetId {ds}" if ds else "the default instance (no datasetId)"
            raise BadRequestData(f"attribute {name!r} gives {which} twice")
        seen.add(ds)
        out.append(inst)
    return out


def _is_instance_list(raw: list[Any]) -> bool:
    return bool(raw) and all(isinstance(i, dict) and _looks_like_instance(i) for i in raw)


def _looks_like_instance(item: dict[str, Any]) -> bool:
    t = item.get("type")
    if isinstance(t, str) and t in _KINDS:
        return True
    return any(
        k in item
        for k in ("value", "object", "languageMap", "json", "valueList", "objectList", "vocab")
    )


#: an attribute's ``type`` member (the term, or its IRI) → its attribute type
_KINDS = {**{t: t for t in ATTRIBUTE_TYPES}, **{NGSI_LD + t: t for t in ATTRIBUTE_TYPES}}


def _infer_type(item: dict[str, Any]) -> str:
    for member, kind in (
        ("object", RELATIONSHIP),
        ("languageMap", LANGUAGE_PROPERTY),
        ("json", JSON_PROPERTY),
        ("valueList", LIST_PROPERTY),
        ("objectList", LIST_RELATIONSHIP),
        ("vocab", VOCAB_PROPERTY),
    ):
        if member in item:
            return kind
    value = item.get("value")
    if isinstance(value, dict) and value.get("type") in _GEO_TYPES and "value" in item:
        return GEO_PROPERTY
    return PROPERTY


def parse_instance(name: str, iri: str, raw: Any, ctx: ActiveContext) -> Instance:
    """One attribute instance, normalized or concise → stored instance."""
    if not isinstance(raw, dict):
        if raw is None:
            raise BadRequestData(f"attribute {name!r} has a null value")
        return {"type": PROPERTY, "value": raw}  # concise: a bare value is a Property
    if (
        raw.get("type") in _GEO_TYPES
        and "coordinates" in raw
        or raw.get("type") == ("GeometryCollection")
    ):
        geo.validate_geojson(raw)
        return {"type": GEO_PROPERTY, "value": raw}
    if "type" in raw:
        t = raw["type"]
        found = _KINDS.get(t) if isinstance(t, str) else None
        if found is None:
            raise BadRequestData(
                f"attribute {name!r} has type {t!r}; expected one of "
                + ", ".join(sorted(ATTRIBUTE_TYPES))
            )
        kind = found
    elif _looks_like_instance(raw):
        kind = _infer_type(raw)
    else:
        # concise: a JSON object value without any NGSI-LD member is the value itself
        return {"type": PROPERTY, "value": raw}
    inst: Instance = {"type": kind}
    member = VALUE_MEMBER[kind]
    if member in raw and is_null_value(kind, raw[member]):
        # NGSI-LD Null: kept as a marker the writes turn into a deletion (clause 4.5.5)
        inst[member] = NULL_URI
        if "datasetId" in raw:
            if not is_uri(raw["datasetId"]):
                raise BadRequestData(f"attribute {name!r}: datasetId must be a URI")
            inst["datasetId"] = raw["datasetId"]
        return inst
    _parse_value(name, kind, raw, inst, ctx)
    for key, val in raw.items():
        if key in _VALUE_KEYS:
            continue
        if key == "datasetId":
            if not is_uri(val):
                raise BadRequestData(f"attribute {name!r}: datasetId must be a URI")
            inst["datasetId"] = val
        elif key == "observedAt":
            inst["observedAt"] = _observed_at(name, val)
        elif key == "unitCode":
            if not isinstance(val, str) or not val:
                raise BadRequestData(f"attribute {name!r}: unitCode must be a string")
            inst["unitCode"] = val
        elif key == "lang":
            if not isinstance(val, str):
                raise BadRequestData(f"attribute {name!r}: lang must be a string")
            inst["lang"] = val
        elif key in _META_IGNORED or key.startswith("@"):
            continue
        else:
            check_attr_name(key)
            sub_iri = ctx.expand(key)
            subs = parse_attribute(key, sub_iri, val, ctx)
            inst[sub_iri] = subs[0]
    return inst


def _parse_value(
    name: str, kind: str, raw: dict[str, Any], inst: Instance, ctx: ActiveContext
) -> None:
    if kind in (PROPERTY, GEO_PROPERTY):
        if "value" not in raw or raw["value"] is None:
            raise BadRequestData(f"attribute {name!r}: a {kind} needs a non-null value")
        value = raw["value"]
        if kind == GEO_PROPERTY:
            geo.validate_geojson(value)
        inst["value"] = value
    elif kind == RELATIONSHIP:
        obj = raw.get("object")
        objs = obj if isinstance(obj, list) else [obj]
        if not objs or not all(is_uri(o) for o in objs):
            raise BadRequestData(
                f"attribute {name!r}: a Relationship needs an object that is a URI"
            )
        inst["object"] = obj
        if "objectType" in raw:
            inst["objectType"] = parse_types(raw["objectType"], ctx)[0]
    elif kind == LANGUAGE_PROPERTY:
        lm = raw.get("languageMap")
        if (
            not isinstance(lm, dict)
            or not lm
            or not all(
                isinstance(v, str) or (isinstance(v, list) and all(isinstance(s, str) for s in v))
                for v in lm.values()
            )
        ):
            raise BadRequestData(
                f"attribute {name!r}: languageMap must map language tags to strings"
            )
        inst["languageMap"] = lm
    elif kind == JSON_PROPERTY:
        if "json" not in raw or raw["json"] is None:
            raise BadRequestData(f"attribute {name!r}: a JsonProperty needs a json member")
        inst["json"] = raw["json"]
    elif kind == LIST_PROPERTY:
        vl = raw.get("valueList")
        if not isinstance(vl, list):
            raise BadRequestData(f"attribute {name!r}: valueList must be an array")
        inst["valueList"] = vl
    elif kind == LIST_RELATIONSHIP:
        ol = raw.get("objectList")
        if not isinstance(ol, list):
            raise BadRequestData(f"attribute {name!r}: objectList must be an array")
        objs = [o.get("object") if isinstance(o, dict) else o for o in ol]
        if not all(is_uri(o) for o in objs):
            raise BadRequestData(f"attribute {name!r}: objectList entries must be URIs")
        inst["objectList"] = objs
    elif kind == VOCAB_PROPERTY:
        voc: Any = raw.get("vocab")
        vocs = voc if isinstance(voc, list) else [voc]
        if not vocs or not all(isinstance(v, str) and v for v in vocs):
            raise BadRequestData(
                f"attribute {name!r}: vocab must be a string or an array of strings"
            )
        expanded = [ctx.expand(v) for v in vocs]
        inst["vocab"] = expanded if isinstance(voc, list) else expanded[0]


def is_null_value(kind: str, value: Any) -> bool:
    """True for the NGSI-LD Null of an attribute type's value member (clause 4.5.5).

    ``"urn:ngsi-ld:null"`` for value, object, json and vocab; a languageMap
    ``{"@none": "urn:ngsi-ld:null"}``; a valueList or objectList ``["urn:ngsi-ld:null"]``.
    """
    if value == NULL_URI:
        return True
    if kind == LANGUAGE_PROPERTY:
        return bool(value == {"@none": NULL_URI})
    if kind in (LIST_PROPERTY, LIST_RELATIONSHIP):
        return value in ([NULL_URI], [{"object": NULL_URI}])
    return False


def is_null(inst: Instance) -> bool:
    """True when a parsed instance is an NGSI-LD Null (a deletion in updates and merges)."""
    return bool(inst.get(VALUE_MEMBER.get(inst["type"], "value")) == NULL_URI)


def stamp(instances: list[Instance], now: str, previous: Instance | None = None) -> None:
    """Set createdAt/modifiedAt on new instances (keeping createdAt of a replaced one)."""
    for inst in instances:
        inst["createdAt"] = previous.get("createdAt", now) if previous else now
        inst["modifiedAt"] = now
        for key, sub in inst.items():
            if ":" in key and isinstance(sub, dict):
                sub.setdefault("createdAt", now)
                sub["modifiedAt"] = now
