"""The mapping file (TOML): how the rows of a CSV or GeoJSON file become NGSI-LD entities.

docs/import.md is the reference. In short::

    type = "OffStreetParking"                              # entity type (required)
    id = "urn:ngsi-ld:OffStreetParking:{주차장관리번호}"     # id template (required)
    tenant = ""                                            # NGSI-LD tenant
    context = "https://.../context.jsonld"                 # @context of the names below
    timezone = "Asia/Seoul"                                # of datetimes without an offset

    [location]                                             # -> a GeoProperty "location"
    x = "경도"; y = "위도"; crs = "EPSG:4326"; bounds = [124, 33, 132, 39]

    [attributes.totalSpotNumber]                           # one table per attribute
    column = "주차구획수"; type = "integer"; required = true

An attribute's value comes from exactly one of ``column`` (a cell, converted by ``type``),
``template`` (a string with ``{column}`` placeholders, an array or a table of templates and
column specs) or ``value`` (a constant). Loading checks everything it can before any row is
read, and every error names the file, the table and the key.
"""

from __future__ import annotations

import hashlib
import re
import string
import tomllib
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from cityhub.importer.errors import MappingError

VALUE_TYPES = ("text", "integer", "number", "boolean", "date", "datetime", "json")
KINDS = ("Property", "Relationship", "LanguageProperty")
MAP_UNKNOWN = ("keep", "omit", "reject")
_TOP_KEYS = ("type", "id", "tenant", "context", "timezone", "location", "attributes")
_LOCATION_KEYS = ("x", "y", "crs", "attribute", "required", "bounds")
_CELL_KEYS = ("column", "type", "format", "map", "map_unknown", "split", "list", "required")
_CELL_KEYS_TZ = (*_CELL_KEYS, "timezone")
_ATTR_KEYS = (*_CELL_KEYS_TZ, "template", "value", "kind", "unitCode", "lang")
_NAME_RE = re.compile(r"^[^\s<>\"'=;()\\{}]+$")
_TENANT_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_RESERVED = frozenset({"id", "type", "scope", "@context", "createdAt", "modifiedAt", "deletedAt"})


# --- the parsed mapping ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Const:
    """A constant value."""

    value: Any


@dataclass(frozen=True, slots=True)
class Text:
    """A string template: literal text and ``{column}`` placeholders, as (literal, column)
    pairs (column None for the trailing literal)."""

    source: str
    parts: tuple[tuple[str, str | None], ...]

    @property
    def columns(self) -> list[str]:
        return [c for _, c in self.parts if c is not None]


@dataclass(frozen=True, slots=True)
class Cell:
    """One column's value, converted."""

    column: str
    type: str = "text"
    format: str | None = None
    map: dict[str, Any] | None = None
    map_unknown: str = "keep"
    split: str | None = None
    as_list: bool = False
    required: bool = False
    timezone: str = "UTC"


@dataclass(frozen=True, slots=True)
class Obj:
    """A JSON object whose members are values."""

    members: tuple[tuple[str, Node], ...]


@dataclass(frozen=True, slots=True)
class Arr:
    """A JSON array of values (items that come out empty are dropped)."""

    items: tuple[Node, ...]


Node = Const | Text | Cell | Obj | Arr


@dataclass(frozen=True, slots=True)
class Attribute:
    """One NGSI-LD attribute of the entities."""

    name: str
    node: Node
    kind: str = "Property"
    unit_code: str | None = None
    lang: str | None = None
    required: bool = False


@dataclass(frozen=True, slots=True)
class Location:
    """Where the GeoProperty comes from: x/y columns (or, for GeoJSON, the geometry)."""

    x: str | None = None
    y: str | None = None
    crs: str = "EPSG:4326"
    attribute: str = "location"
    required: bool = True
    bounds: tuple[float, float, float, float] | None = None
    crs_given: bool = False  # crs written in the mapping (else GeoJSON's own crs may apply)


@dataclass(frozen=True, slots=True)
class Mapping:
    """A loaded, checked mapping file."""

    path: str
    sha256: str
    entity_type: str
    id: Text
    tenant: str | None
    context: str | None
    timezone: str
    location: Location | None
    attributes: tuple[Attribute, ...]

    def columns(self) -> list[str]:
        """Every column the mapping reads, in order of first use."""
        out: list[str] = list(self.id.columns)
        if self.location is not None:
            out += [c for c in (self.location.x, self.location.y) if c]
        for attr in self.attributes:
            out += list(_node_columns(attr.node))
        return list(dict.fromkeys(out))


def _node_columns(node: Node) -> Iterator[str]:
    if isinstance(node, Cell):
        yield node.column
    elif isinstance(node, Text):
        yield from node.columns
    elif isinstance(node, Obj):
        for _, member in node.members:
            yield from _node_columns(member)
    elif isinstance(node, Arr):
        for item in node.items:
            yield from _node_columns(item)


# --- loading -----------------------------------------------------------------------------


def load_mapping(path: str) -> Mapping:
    """Read and check a mapping file (MappingError with a precise one-line message)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as err:
        raise MappingError(f"cannot read mapping file {path}: {err.strerror}") from err
    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as err:
        raise MappingError(f"mapping file {path} is not UTF-8 text") from err
    except tomllib.TOMLDecodeError as err:
        raise MappingError(f"mapping file {path} is not valid TOML: {err}") from err
    return parse_mapping(data, path, hashlib.sha256(raw).hexdigest())


class _Where:
    """Builds error messages that say where in the file the problem is."""

    def __init__(self, path: str) -> None:
        self.path = path

    def error(self, table: str, message: str) -> MappingError:
        where = f" [{table}]" if table else ""
        return MappingError(f"{self.path}:{where} {message}")


def parse_mapping(data: dict[str, Any], path: str = "mapping", sha256: str = "") -> Mapping:
    """Check a parsed TOML document and build the Mapping."""
    w = _Where(path)
    _unknown_keys(w, "", data, _TOP_KEYS, "at the top level")
    entity_type = data.get("type")
    if not isinstance(entity_type, str) or not entity_type:
        raise w.error("", 'needs type = "EntityType" (the NGSI-LD type of the entities)')
    if not _NAME_RE.match(entity_type):
        raise w.error("", f"type {entity_type!r} is not a valid NGSI-LD type name")
    id_template = data.get("id")
    if not isinstance(id_template, str) or not id_template:
        raise w.error("", 'needs id = "urn:ngsi-ld:Type:{key column}" (how entity ids are built)')
    ident = _text(w, "", "id", id_template)
    if not ident.columns:
        raise w.error(
            "",
            f"id {id_template!r} has no {{column}} placeholder: every row would write the "
            "same entity",
        )
    probe = "".join(lit + ("x" if col else "") for lit, col in ident.parts)
    if not re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S*$", probe):
        raise w.error("", f"id {id_template!r} does not build a URI (urn:ngsi-ld:Type:...)")
    tenant = data.get("tenant")
    if tenant is not None:
        if not isinstance(tenant, str):
            raise w.error("", "tenant must be a string")
        if tenant and not _TENANT_RE.match(tenant):
            raise w.error("", f"tenant {tenant!r}: use letters, digits, '_', '-', '.'")
    context = data.get("context")
    if context is not None and (
        not isinstance(context, str) or not context.startswith(("http://", "https://"))
    ):
        raise w.error("", "context must be the http(s) URL of a JSON-LD @context")
    timezone = _timezone(w, "", data.get("timezone", "UTC"))
    location = _location(w, data["location"]) if "location" in data else None
    raw_attrs = data.get("attributes", {})
    if not isinstance(raw_attrs, dict):
        raise w.error("", "attributes must be a table of tables: [attributes.name]")
    attributes: list[Attribute] = []
    for name, spec in raw_attrs.items():
        table = f"attributes.{name}"
        if not _NAME_RE.match(name) or name.startswith("@"):
            raise w.error(table, f"{name!r} is not a valid NGSI-LD attribute name")
        if name in _RESERVED:
            raise w.error(table, f"{name!r} is reserved by NGSI-LD (give it at the top level)")
        if location is not None and name == location.attribute:
            raise w.error(table, f"{name!r} is also the [location] attribute")
        attributes.append(_attribute(w, table, name, spec, timezone))
    if location is None and not attributes:
        raise w.error("", "maps no attribute: add [location] or [attributes.name] tables")
    return Mapping(
        path=path,
        sha256=sha256,
        entity_type=entity_type,
        id=ident,
        tenant=tenant,
        context=context,
        timezone=timezone,
        location=location,
        attributes=tuple(attributes),
    )


def _unknown_keys(
    w: _Where, table: str, spec: dict[str, Any], allowed: tuple[str, ...], what: str
) -> None:
    for key in spec:
        if key not in allowed:
            raise w.error(
                table, f"unknown key {key!r} {what} (expected one of: {', '.join(allowed)})"
            )


def _timezone(w: _Where, table: str, value: Any) -> str:
    if not isinstance(value, str):
        raise w.error(table, "timezone must be a string such as 'Asia/Seoul' or 'UTC'")
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as err:
        raise w.error(table, f"unknown timezone {value!r} (e.g. 'Asia/Seoul', 'UTC')") from err
    return value


def _location(w: _Where, spec: Any) -> Location:
    table = "location"
    if not isinstance(spec, dict):
        raise w.error("", "location must be a table: [location]")
    _unknown_keys(w, table, spec, _LOCATION_KEYS, "in [location]")
    x, y = spec.get("x"), spec.get("y")
    for key, value in (("x", x), ("y", y)):
        if value is not None and (not isinstance(value, str) or not value):
            raise w.error(table, f"{key} must be the name of a column")
    if (x is None) != (y is None):
        raise w.error(table, "give both x (longitude/easting) and y (latitude/northing)")
    crs = spec.get("crs", "EPSG:4326")
    if isinstance(crs, int):
        crs = f"EPSG:{crs}"
    if not isinstance(crs, str):
        raise w.error(table, "crs must be a string such as 'EPSG:5186'")
    from cityhub.importer.geo import check_crs

    problem = check_crs(crs)
    if problem:
        raise w.error(table, f"crs {crs!r}: {problem}")
    attribute = spec.get("attribute", "location")
    if not isinstance(attribute, str) or not _NAME_RE.match(attribute) or attribute in _RESERVED:
        raise w.error(table, f"attribute {attribute!r} is not a valid attribute name")
    required = spec.get("required", True)
    if not isinstance(required, bool):
        raise w.error(table, "required must be true or false")
    bounds = spec.get("bounds")
    if bounds is not None:
        if (
            not isinstance(bounds, list)
            or len(bounds) != 4
            or not all(isinstance(b, int | float) and not isinstance(b, bool) for b in bounds)
        ):
            raise w.error(table, "bounds must be [min longitude, min latitude, max lon, max lat]")
        if not (bounds[0] < bounds[2] and bounds[1] < bounds[3]):
            raise w.error(table, "bounds must be [min lon, min lat, max lon, max lat], min < max")
        bounds = tuple(float(b) for b in bounds)
    return Location(x, y, crs, attribute, required, bounds, "crs" in spec)


def _attribute(w: _Where, table: str, name: str, spec: Any, timezone: str) -> Attribute:
    if not isinstance(spec, dict):
        raise w.error(table, "must be a table with column, template or value")
    _unknown_keys(w, table, spec, _ATTR_KEYS, f"in [{table}]")
    sources = [k for k in ("column", "template", "value") if k in spec]
    if len(sources) != 1:
        given = " and ".join(sources) if sources else "none"
        raise w.error(table, f"give exactly one of column, template, value (given: {given})")
    kind = spec.get("kind", "Property")
    if kind not in KINDS:
        raise w.error(table, f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    unit_code = spec.get("unitCode")
    if unit_code is not None and (not isinstance(unit_code, str) or not unit_code):
        raise w.error(table, "unitCode must be a UN/CEFACT code string such as 'MIN'")
    if unit_code is not None and kind != "Property":
        raise w.error(table, "unitCode applies to a Property only")
    lang = spec.get("lang")
    if kind == "LanguageProperty":
        if not isinstance(lang, str) or not lang:
            raise w.error(table, 'a LanguageProperty needs lang = "ko" (the language tag)')
    elif lang is not None:
        raise w.error(table, 'lang applies to kind = "LanguageProperty" only')
    required = spec.get("required", False)
    if not isinstance(required, bool):
        raise w.error(table, "required must be true or false")
    node: Node
    if "column" in spec:
        cell_spec = {k: v for k, v in spec.items() if k in _CELL_KEYS_TZ}
        node = _cell(w, table, cell_spec, timezone)
    else:
        misplaced = [k for k in _CELL_KEYS_TZ if k in spec and k != "required"]
        if misplaced:
            raise w.error(
                table,
                f"{misplaced[0]!r} applies with column only (inside a template write "
                '{ column = "...", type = "..." })',
            )
        if "template" in spec:
            node = _template(w, table, spec["template"], timezone, "template")
        else:
            node = Const(_constant(spec["value"]))
    return Attribute(name, node, kind, unit_code, lang, required)


def _template(w: _Where, table: str, value: Any, timezone: str, where: str) -> Node:
    if isinstance(value, str):
        text = _text(w, table, where, value)
        return text if text.columns else Const(value)
    if isinstance(value, list):
        if not value:
            raise w.error(table, f"{where} is an empty array")
        return Arr(
            tuple(
                _template(w, table, item, timezone, f"{where}[{i}]") for i, item in enumerate(value)
            )
        )
    if isinstance(value, dict):
        if "column" in value:
            _unknown_keys(w, table, value, _CELL_KEYS_TZ, f"in {where}")
            return _cell(w, table, value, timezone, where)
        if not value:
            raise w.error(table, f"{where} is an empty table")
        return Obj(
            tuple(
                (str(k), _template(w, table, v, timezone, f"{where}.{k}")) for k, v in value.items()
            )
        )
    return Const(_constant(value))


def _constant(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list):
        return [_constant(v) for v in value]
    if isinstance(value, dict):
        return {k: _constant(v) for k, v in value.items()}
    return value


def _text(w: _Where, table: str, where: str, source: str) -> Text:
    parts: list[tuple[str, str | None]] = []
    try:
        parsed = list(string.Formatter().parse(source))
    except ValueError as err:
        raise w.error(
            table, f"{where} {source!r}: {err} (write a literal brace as {{{{ or }}}})"
        ) from err
    for literal, column, spec, conversion in parsed:
        if column is None:
            parts.append((literal, None))
            continue
        if spec or conversion:
            raise w.error(
                table, f"{where} {source!r}: write placeholders as {{column}}, with no ':' or '!'"
            )
        if not column.strip():
            raise w.error(table, f"{where} {source!r} has an empty placeholder {{}}")
        parts.append((literal, column.strip()))
    return Text(source, tuple(parts))


def _cell(
    w: _Where, table: str, spec: dict[str, Any], timezone: str, where: str | None = None
) -> Cell:
    at = f"{where}: " if where else ""
    column = spec["column"]
    if not isinstance(column, str) or not column.strip():
        raise w.error(table, f"{at}column must be the name of a column")
    vtype = spec.get("type", "text")
    if vtype not in VALUE_TYPES:
        raise w.error(table, f"{at}type must be one of {', '.join(VALUE_TYPES)}, not {vtype!r}")
    fmt = spec.get("format")
    if fmt is not None:
        if vtype not in ("date", "datetime"):
            raise w.error(table, f"{at}format applies to type date or datetime only")
        if not isinstance(fmt, str) or "%" not in fmt:
            raise w.error(table, f"{at}format must be a strptime format such as '%Y-%m-%d'")
    value_map = spec.get("map")
    if value_map is not None:
        if not isinstance(value_map, dict) or not value_map:
            raise w.error(table, f'{at}map must be a table such as {{ "공영" = "public" }}')
        value_map = {str(k): _constant(v) for k, v in value_map.items()}
    map_unknown = spec.get("map_unknown", "keep")
    if map_unknown not in MAP_UNKNOWN:
        raise w.error(table, f"{at}map_unknown must be one of {', '.join(MAP_UNKNOWN)}")
    if "map_unknown" in spec and value_map is None:
        raise w.error(table, f"{at}map_unknown needs a map")
    split = spec.get("split")
    if split is not None and (not isinstance(split, str) or not split):
        raise w.error(table, f"{at}split must be a separator string such as '+'")
    as_list = spec.get("list", False)
    required = spec.get("required", False)
    for key, flag in (("list", as_list), ("required", required)):
        if not isinstance(flag, bool):
            raise w.error(table, f"{at}{key} must be true or false")
    tz = timezone
    if "timezone" in spec:
        if vtype != "datetime":
            raise w.error(table, f"{at}timezone applies to type datetime only")
        tz = _timezone(w, table, spec["timezone"])
    return Cell(
        column.strip(),
        vtype,
        fmt,
        value_map,
        map_unknown,
        split,
        as_list or split is not None,
        required,
        tz,
    )
