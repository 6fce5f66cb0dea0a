"""Rows → NGSI-LD entities (normalized), chunk by chunk, with a precise reason per rejected row.

A mapping is compiled once into closures bound to the source's columns (a CSV column index, a
GeoJSON property name), so converting a row is a few calls per attribute. Coordinates of a
whole chunk are projected in one pyproj call.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from cityhub.errors import BadRequestData
from cityhub.importer.errors import RowError
from cityhub.importer.geo import Projector, positions, replace_positions
from cityhub.importer.mapping import Attribute, Cell, Const, Mapping, Node, Obj, Text
from cityhub.ngsild.geo import GEOMETRY_TYPES, validate_geojson

Row = Any  # a CSV row (list of strings) or a GeoJSON feature's properties (dict)
Getter = Callable[[Row], Any]
Value = Callable[[Row], Any]  # returns EMPTY when the value is absent


class _Empty:
    __slots__ = ()

    def __repr__(self) -> str:
        return "EMPTY"


EMPTY: Any = _Empty()
_GROUPED_INT = re.compile(r"^[+-]?\d{1,3}(,\d{3})+$")
_GROUPED_NUM = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_TRUE = frozenset({"true", "t", "yes", "y", "1", "o", "예", "유", "있음", "사용"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "x", "아니오", "무", "없음", "미사용"})
_DATE_FORMATS = ("%Y%m%d", "%Y.%m.%d", "%Y/%m/%d", "%Y. %m. %d")
_DATETIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y%m%d%H%M%S", "%Y/%m/%d %H:%M:%S", "%Y.%m.%d %H:%M:%S")
_URI_UNSAFE = re.compile(r'[\s<>"{}|\\^`]')


@dataclass(slots=True)
class Reject:
    """A row that was not taken."""

    position: int  # CSV: line where the row starts; JSON: 1-based index of the item
    reason: str  # short, shared by rows failing the same way
    detail: str  # precise, for this row
    raw: Any  # the row as read (CSV: list of strings; JSON: the item)


@dataclass(slots=True)
class Converted:
    """One chunk of rows, converted."""

    entities: list[dict[str, Any]] = field(default_factory=list)
    rows: list[tuple[int, Any]] = field(default_factory=list)  # (position, raw) per entity
    rejects: list[Reject] = field(default_factory=list)


# --- values -------------------------------------------------------------------------------


def _is_empty(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def to_integer(column: str, raw: Any) -> int:
    if isinstance(raw, bool):
        raise _bad(column, raw, "an integer")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        if raw.is_integer():
            return int(raw)
        raise _bad(column, raw, "an integer")
    text = str(raw).strip()
    if _GROUPED_INT.match(text):
        text = text.replace(",", "")
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if math.isfinite(number) and number.is_integer():
        return int(number)
    raise _bad(column, raw, "an integer")


def to_number(column: str, raw: Any) -> int | float:
    if isinstance(raw, bool):
        raise _bad(column, raw, "a number")
    if isinstance(raw, int | float):
        number: int | float = raw
    else:
        text = str(raw).strip()
        if _GROUPED_NUM.match(text):
            text = text.replace(",", "")
        try:
            number = int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                raise _bad(column, raw, "a number") from None
    if isinstance(number, float) and not math.isfinite(number):
        raise _bad(column, raw, "a finite number")
    return number


def to_boolean(column: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _bad(column, raw, "a boolean (true/false, yes/no, Y/N, 1/0)")


def to_date(column: str, raw: Any, fmt: str | None) -> dict[str, str]:
    text = str(raw).strip()
    formats = (fmt,) if fmt else _DATE_FORMATS
    parsed: date | None = None
    if not fmt:
        with contextlib.suppress(ValueError):
            parsed = date.fromisoformat(text)
    for f in formats if parsed is None else ():
        try:
            parsed = datetime.strptime(text, f).date()  # noqa: DTZ007 - a date has no zone
            break
        except ValueError:
            continue
    if parsed is None:
        what = f"a date in the format {fmt!r}" if fmt else "a date (YYYY-MM-DD)"
        raise _bad(column, raw, what)
    return {"@type": "Date", "@value": parsed.isoformat()}


def to_datetime(column: str, raw: Any, fmt: str | None, tz: ZoneInfo) -> dict[str, str]:
    text = str(raw).strip()
    parsed: datetime | None = None
    if fmt:
        with contextlib.suppress(ValueError):
            parsed = datetime.strptime(text, fmt)  # noqa: DTZ007 - zone added below
    else:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            for f in _DATETIME_FORMATS:
                try:
                    parsed = datetime.strptime(text, f)  # noqa: DTZ007 - zone added below
                    break
                except ValueError:
                    continue
    if parsed is None:
        what = f"a date-time in the format {fmt!r}" if fmt else "a date-time (ISO 8601)"
        raise _bad(column, raw, what)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    utc = parsed.astimezone(UTC)
    spec = "milliseconds" if utc.microsecond else "seconds"
    return {"@type": "DateTime", "@value": utc.replace(tzinfo=None).isoformat(timespec=spec) + "Z"}


def to_json(column: str, raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        raise _bad(column, raw, "JSON") from None


def to_text(raw: Any) -> str:
    if isinstance(raw, str):
        return raw.strip()
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw)


def _bad(column: str, raw: Any, what: str) -> RowError:
    shown = raw if not isinstance(raw, str) else raw.strip()
    short = what.split(" (")[0].split(" in the format")[0]
    return RowError(f"column {column}: not {short}", f"column {column}: {shown!r} is not {what}")


def _converter(cell: Cell) -> Callable[[Any], Any]:
    col = cell.column
    if cell.type == "integer":
        return lambda v: to_integer(col, v)
    if cell.type == "number":
        return lambda v: to_number(col, v)
    if cell.type == "boolean":
        return lambda v: to_boolean(col, v)
    if cell.type == "date":
        fmt = cell.format
        return _memo(lambda v: to_date(col, v, fmt))
    if cell.type == "datetime":
        fmt, tz = cell.format, ZoneInfo(cell.timezone)
        return _memo(lambda v: to_datetime(col, v, fmt, tz))
    if cell.type == "json":
        return lambda v: to_json(col, v)
    return to_text


def _memo(convert: Callable[[Any], dict[str, str]]) -> Callable[[Any], dict[str, str]]:
    """Dates repeat a lot in a file (a reference date per provider): convert each once.
    The cache is bounded; entries are copied out so an entity never shares one with another."""
    cache: dict[Any, dict[str, str]] = {}

    def memo(raw: Any) -> dict[str, str]:
        hit = cache.get(raw)
        if hit is None:
            hit = convert(raw)  # RowError propagates and caches nothing
            if len(cache) >= 4096:
                cache.clear()
            cache[raw] = hit
        return dict(hit)

    return memo


# --- compiling a mapping ------------------------------------------------------------------


def compile_node(
    node: Node, getter: Callable[[str], Getter], *, uri: bool = False, ident: bool = False
) -> Value:
    """A function row → value (EMPTY when the row has no value for it). ``uri``: templates
    build URIs (characters a URI cannot hold are percent-encoded); ``ident``: the entity id
    (an empty placeholder rejects the row)."""
    if isinstance(node, Const):
        value = node.value
        return lambda _row: value
    if isinstance(node, Text):
        return _compile_text(node, getter, uri=uri or ident, ident=ident)
    if isinstance(node, Cell):
        return _compile_cell(node, getter(node.column))
    if isinstance(node, Obj):
        members = [(k, compile_node(v, getter), isinstance(v, Const)) for k, v in node.members]

        def obj(row: Row) -> Any:
            out: dict[str, Any] = {}
            has_data = False
            for key, fn, constant in members:
                v = fn(row)
                if v is not EMPTY:
                    out[key] = v
                    has_data = has_data or not constant
            return out if has_data else EMPTY

        return obj
    items = [(compile_node(i, getter, uri=uri), isinstance(i, Const)) for i in node.items]

    def arr(row: Row) -> Any:
        out: list[Any] = []
        has_data = False
        for fn, constant in items:
            v = fn(row)
            if v is EMPTY:
                continue
            has_data = has_data or not constant
            if isinstance(v, list):
                out.extend(x for x in v if x not in out)
            elif v not in out:
                out.append(v)
        return out if has_data and out else EMPTY

    return arr


def _compile_text(node: Text, getter: Callable[[str], Getter], *, uri: bool, ident: bool) -> Value:
    parts = [(lit, getter(col) if col is not None else None, col) for lit, col in node.parts]

    def text(row: Row) -> Any:
        out: list[str] = []
        for lit, get, col in parts:
            out.append(lit)
            if get is None:
                continue
            raw = get(row)
            value = raw.strip() if raw.__class__ is str else "" if raw is None else to_text(raw)
            if not value:
                if ident:
                    raise RowError(
                        f"column {col} is empty (the entity id needs it)",
                        f"column {col} is empty, and the entity id is built from it",
                    )
                return EMPTY
            out.append(_URI_UNSAFE.sub(_percent, value) if uri else value)
        return "".join(out)

    return text


def _percent(m: re.Match[str]) -> str:
    return "".join(f"%{b:02X}" for b in m.group(0).encode("utf-8"))


def _compile_cell(cell: Cell, get: Getter) -> Value:
    col, convert, value_map, unknown = cell.column, _converter(cell), cell.map, cell.map_unknown
    split, as_list, required = cell.split, cell.as_list, cell.required
    plain = convert is to_text  # text cells: values are stripped already
    if value_map is None and split is None and not as_list and not required:
        # the common case (a plain or typed cell), without the general path's lists and calls

        def simple(row: Row) -> Any:
            raw = get(row)
            if raw.__class__ is str:
                raw = raw.strip()
                if not raw:
                    return EMPTY
                return raw if plain else convert(raw)
            if raw is None:
                return EMPTY
            if plain and isinstance(raw, list | dict):
                return raw  # a GeoJSON property holding an array or object, kept as it is
            return convert(raw)

        return simple

    def one(item: Any) -> Any:
        if value_map is not None:
            key = item if isinstance(item, str) else to_text(item)
            if key in value_map:
                item = value_map[key]
                if item.__class__ is not str:
                    return item
                if plain:
                    return item
            elif unknown == "omit":
                return EMPTY
            elif unknown == "reject":
                allowed = ", ".join(repr(k) for k in value_map)
                raise RowError(
                    f"column {col}: value not in the map",
                    f"column {col}: {key!r} is not in the map (expected one of {allowed})",
                )
        if plain and item.__class__ is str:
            return item
        return convert(item)

    def cell_value(row: Row) -> Any:
        raw = get(row)
        if isinstance(raw, str):
            raw = raw.strip()
        if raw is None or raw == "":
            if required:
                raise RowError(f"column {col} is empty")
            return EMPTY
        if split is not None and isinstance(raw, str):
            values = [
                v for v in (one(s) for s in map(str.strip, raw.split(split)) if s) if v is not EMPTY
            ]
        elif isinstance(raw, list):
            values = [v for v in (one(s) for s in raw if not _is_empty(s)) if v is not EMPTY]
        else:
            v = one(raw)
            if v is not EMPTY:
                return [v] if as_list else v
            values = []
        if not values:
            if required:
                raise RowError(f"column {col} is empty")
            return EMPTY
        return values if as_list else values[0]

    return cell_value


def _wrap(attr: Attribute) -> Callable[[Any], dict[str, Any]]:
    name = attr.name
    if attr.kind == "Relationship":

        def rel(v: Any) -> dict[str, Any]:
            objs = v if isinstance(v, list) else [v]
            for o in objs:
                if not isinstance(o, str) or not re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$", o):
                    raise RowError(
                        f"attribute {name}: not a URI", f"attribute {name}: {o!r} is not a URI"
                    )
            return {"type": "Relationship", "object": v}

        return rel
    if attr.kind == "LanguageProperty":
        lang = attr.lang or "ko"
        return lambda v: {"type": "LanguageProperty", "languageMap": {lang: v}}
    unit = attr.unit_code
    if unit is not None:
        return lambda v: {"type": "Property", "value": v, "unitCode": unit}
    return lambda v: {"type": "Property", "value": v}


class RowConverter:
    """A mapping compiled for one source's columns: row → entity (without its location)."""

    def __init__(self, mapping: Mapping, getter: Callable[[str], Getter]) -> None:
        self.entity_type = mapping.entity_type
        self.ident = compile_node(mapping.id, getter, ident=True)
        self.attrs: list[tuple[str, Value, Callable[[Any], dict[str, Any]], bool]] = [
            (
                a.name,
                compile_node(a.node, getter, uri=a.kind == "Relationship"),
                _wrap(a),
                a.required,
            )
            for a in mapping.attributes
        ]
        self.context = mapping.context

    def entity(self, row: Row) -> dict[str, Any]:
        """The entity for a row (RowError if the row cannot be taken)."""
        entity: dict[str, Any] = {"id": self.ident(row), "type": self.entity_type}
        for name, value, wrap, required in self.attrs:
            v = value(row)
            if v is EMPTY:
                if required:
                    raise RowError(f"attribute {name} is empty")
                continue
            entity[name] = wrap(v)
        return entity


# --- chunks ---------------------------------------------------------------------------------


def _geo(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}


class TableConverter:
    """CSV rows (lists of strings, ``columns`` from the header) → entities, per chunk."""

    def __init__(self, mapping: Mapping, columns: list[str], projector: Projector | None):
        index = {name: i for i, name in reversed(list(enumerate(columns)))}
        self.ncols = len(columns)
        self.rows = RowConverter(mapping, lambda col: _item(index[col]))
        self.projector = projector
        loc = mapping.location
        self.location = loc
        self.x = _item(index[loc.x]) if loc is not None and loc.x else None
        self.y = _item(index[loc.y]) if loc is not None and loc.y else None

    def convert(self, records: list[tuple[int, Any]]) -> Converted:
        out = Converted()
        pending: list[tuple[dict[str, Any], int, Any, float, float, str]] = []
        for pos, raw in records:
            try:
                if len(raw) != self.ncols and not self._tolerable(raw):
                    raise RowError(
                        "wrong number of fields",
                        f"the row has {len(raw)} fields, the header has {self.ncols}",
                    )
                entity = self.rows.entity(raw)
                xy = self._xy(raw)
            except RowError as err:
                out.rejects.append(Reject(pos, err.reason, err.detail, raw))
                continue
            if xy is None:
                out.entities.append(entity)
                out.rows.append((pos, raw))
            else:
                pending.append((entity, pos, raw, xy[0], xy[1], xy[2]))
        if pending:
            assert self.projector is not None and self.location is not None
            xs = array("d", (p[3] for p in pending))
            ys = array("d", (p[4] for p in pending))
            lons, lats = self.projector.transform(xs, ys)
            attr, rounding = self.location.attribute, not self.projector.identity
            for (entity, pos, raw, _x, _y, shown), lon, lat in zip(
                pending, lons, lats, strict=True
            ):
                try:
                    self.projector.check(lon, lat, shown)
                except RowError as err:
                    out.rejects.append(Reject(pos, err.reason, err.detail, raw))
                    continue
                if rounding:
                    lon, lat = round(lon, 8), round(lat, 8)
                entity[attr] = _geo(lon, lat)
                out.entities.append(entity)
                out.rows.append((pos, raw))
        out.rejects.sort(key=lambda r: r.position)
        return out

    def _tolerable(self, raw: list[str]) -> bool:
        """A row with extra empty trailing fields (a trailing comma) is fine."""
        return len(raw) > self.ncols and not any(f.strip() for f in raw[self.ncols :])

    def _xy(self, raw: list[str]) -> tuple[float, float, str] | None:
        if self.x is None or self.y is None or self.location is None:
            return None
        loc = self.location
        sx, sy = self.x(raw).strip(), self.y(raw).strip()
        if not sx or not sy:
            if not loc.required and not sx and not sy:
                return None
            raise _no_coordinates(loc.x, loc.y, not sx, not sy)
        x = _coordinate(str(loc.x), sx)
        y = _coordinate(str(loc.y), sy)
        return x, y, f"({sx}, {sy})"


def _no_coordinates(x: str | None, y: str | None, no_x: bool, no_y: bool) -> RowError:
    if no_x and no_y:
        return RowError(
            "location: no coordinates", f"location: no coordinates (columns {x} and {y} are empty)"
        )
    return RowError(f"location: column {x if no_x else y} is empty")


def _coordinate(column: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise RowError(
            f"location: column {column} is not a number",
            f"location: column {column}: {text!r} is not a number",
        )
    return value


def _item(i: int) -> Getter:
    return lambda row: row[i]


class FeatureConverter:
    """GeoJSON features → entities: properties through the mapping, the geometry projected."""

    def __init__(self, mapping: Mapping, projector: Projector | None):
        self.rows = RowConverter(mapping, lambda col: lambda props: props.get(col))
        self.projector = projector
        self.location = mapping.location
        loc = mapping.location
        self.use_xy = loc is not None and loc.x is not None

    def convert(self, records: list[tuple[int, Any]]) -> Converted:
        out = Converted()
        # geometries of the chunk: (entity, position, raw, geometry, its positions)
        pending: list[tuple[dict[str, Any], int, Any, dict[str, Any], list[list[Any]]]] = []
        for pos, raw in records:
            try:
                props, geometry = _feature(raw)
                entity = self.rows.entity(props)
                geometry = self._geometry(props, geometry)
            except RowError as err:
                out.rejects.append(Reject(pos, err.reason, err.detail, raw))
                continue
            if geometry is None:
                out.entities.append(entity)
                out.rows.append((pos, raw))
                continue
            points = positions(geometry)
            if not points or not all(_is_position(p) for p in points):
                reason = "location: invalid geometry"
                detail = f"location: the {geometry.get('type')} has a position that is not [x, y]"
                out.rejects.append(Reject(pos, reason, detail, raw))
                continue
            pending.append((entity, pos, raw, geometry, points))
        if pending:
            assert self.projector is not None and self.location is not None
            flat = [p for item in pending for p in item[4]]
            lons, lats = self.projector.transform(
                array("d", (float(p[0]) for p in flat)), array("d", (float(p[1]) for p in flat))
            )
            identity, k = self.projector.identity, 0
            for entity, pos, raw, geometry, points in pending:
                start, k = k, k + len(points)
                try:
                    for j, point in enumerate(points):
                        self.projector.check(lons[start + j], lats[start + j], _shown(point))
                except RowError as err:
                    out.rejects.append(Reject(pos, err.reason, err.detail, raw))
                    continue
                if not identity:
                    moved = iter((round(lons[i], 8), round(lats[i], 8)) for i in range(start, k))
                    geometry = replace_positions(geometry, moved)
                try:
                    validate_geojson(geometry)
                except BadRequestData as err:
                    detail = f"location: {err.detail}"
                    out.rejects.append(Reject(pos, "location: invalid geometry", detail, raw))
                    continue
                entity[self.location.attribute] = {"type": "GeoProperty", "value": geometry}
                out.entities.append(entity)
                out.rows.append((pos, raw))
        out.rejects.sort(key=lambda r: r.position)
        return out

    def _geometry(self, props: dict[str, Any], geometry: Any) -> dict[str, Any] | None:
        loc = self.location
        if loc is None:
            return None
        if self.use_xy:
            sx, sy = props.get(loc.x or ""), props.get(loc.y or "")
            if _is_empty(sx) or _is_empty(sy):
                if not loc.required and _is_empty(sx) and _is_empty(sy):
                    return None
                raise _no_coordinates(loc.x, loc.y, _is_empty(sx), _is_empty(sy))
            x = _coordinate(str(loc.x), to_text(sx))
            y = _coordinate(str(loc.y), to_text(sy))
            return {"type": "Point", "coordinates": [x, y]}
        if geometry is None:
            if not loc.required:
                return None
            raise RowError("location: the feature has no geometry")
        if not isinstance(geometry, dict) or geometry.get("type") not in GEOMETRY_TYPES:
            raise RowError(
                "location: invalid geometry", "location: the geometry is not a GeoJSON geometry"
            )
        return geometry


def _is_position(p: list[Any]) -> bool:
    return len(p) >= 2 and all(
        isinstance(c, int | float) and not isinstance(c, bool) for c in p[:2]
    )


def _shown(point: list[Any]) -> str:
    return f"({point[0]}, {point[1]})"


def _feature(raw: Any) -> tuple[dict[str, Any], Any]:
    if not isinstance(raw, dict) or raw.get("type") != "Feature":
        raise RowError("not a GeoJSON Feature", "the item is not a GeoJSON Feature object")
    props = raw.get("properties") or {}
    if not isinstance(props, dict):
        raise RowError("properties is not an object", "the feature's properties is not an object")
    return props, raw.get("geometry")


class EntityPassThrough:
    """NGSI-LD entities (normalized or keyValues) as they are; only the shape is checked here,
    the hub (or the direct sink) validates the rest and reports per entity."""

    def convert(self, records: list[tuple[int, Any]]) -> Converted:
        out = Converted()
        for pos, raw in records:
            reason = None
            if not isinstance(raw, dict):
                reason = ("not a JSON object", "the item is not a JSON object (an entity)")
            elif not isinstance(raw.get("id", raw.get("@id")), str):
                reason = ("entity has no id", "the entity has no id")
            elif "type" not in raw and "@type" not in raw:
                reason = ("entity has no type", f"entity {raw.get('id')}: no type")
            if reason is not None:
                out.rejects.append(Reject(pos, reason[0], reason[1], raw))
                continue
            out.entities.append(raw)
            out.rows.append((pos, raw))
        return out
