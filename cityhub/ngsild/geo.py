"""GeoJSON validation and NGSI-LD geo-queries (ETSI GS CIM 009, clause 4.10).

:func:`validate_geojson` checks a GeoProperty value or a query geometry (RFC 7946, WGS 84
lon/lat). :func:`parse_geoquery` turns the ``georel``/``geometry``/``coordinates``/
``geoproperty`` parameters (query string or a ``geoQ`` object of a POST body) into a
:class:`GeoQuery`, which storage backends use twice: :meth:`GeoQuery.search_bbox` gives a
lon/lat window for an R-tree/GiST prefilter, :meth:`GeoQuery.matches` is the exact test.

georel grammar (clause 4.10, plus both distances at once)::

    near;maxDistance==<metres>   near;minDistance==<metres>   near;maxDistance==X;minDistance==Y
    within | contains | intersects | disjoint | overlaps | equals

Distances are in metres: haversine on the mean Earth radius for Point/MultiPoint values, a local
equirectangular projection centred on the query point for other geometries.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
import shapely
from shapely.errors import GEOSException
from shapely.geometry import shape

from cityhub.errors import BadRequestData

EARTH_RADIUS_M: Final = 6_371_008.8
_M_PER_DEG: Final = EARTH_RADIUS_M * math.pi / 180

#: geometry names allowed in a geo-query (``geometry`` parameter)
QUERY_GEOMETRIES: Final = (
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
)
GEOMETRY_TYPES: Final = frozenset((*QUERY_GEOMETRIES, "GeometryCollection"))
GEORELS: Final = ("near", "within", "contains", "intersects", "disjoint", "overlaps", "equals")

# Exact tests with the (prepared) query geometry as first argument, so GEOS can use the
# preparation: "stored within query" is "query contains stored" and vice versa.
_PREDICATES: Final[dict[str, Callable[[Any, Any], Any]]] = {
    "within": shapely.contains,
    "contains": shapely.within,
    "intersects": shapely.intersects,
    "disjoint": shapely.disjoint,
    "overlaps": shapely.overlaps,
    "equals": shapely.equals,
}

# ---------------------------------------------------------------------------------------------
# GeoJSON validation


def validate_geojson(value: object) -> None:
    """Raise BadRequestData unless ``value`` is a valid GeoJSON geometry object."""
    _check_geometry(value, "GeoJSON geometry")


def _check_geometry(value: object, where: str) -> None:
    if not isinstance(value, dict):
        raise BadRequestData(f"{where} must be a JSON object, got {_kind(value)}")
    gtype = value.get("type")
    if gtype not in GEOMETRY_TYPES:
        allowed = ", ".join(sorted(GEOMETRY_TYPES))
        raise BadRequestData(f"{where} has type {gtype!r}; expected one of {allowed}")
    if gtype == "GeometryCollection":
        geometries = value.get("geometries")
        if not isinstance(geometries, list):
            raise BadRequestData(f"{where}: GeometryCollection needs a 'geometries' array")
        for i, member in enumerate(geometries):
            _check_geometry(member, f"{where}.geometries[{i}]")
        return
    if "coordinates" not in value:
        raise BadRequestData(f"{where}: {gtype} has no 'coordinates' member")
    coords = value["coordinates"]
    path = f"{where} ({gtype}) coordinates"
    if gtype == "Point":
        _position(coords, path)
    elif gtype == "MultiPoint":
        _array(coords, path, 1, _position)
    elif gtype == "LineString":
        _line(coords, path)
    elif gtype == "MultiLineString":
        _array(coords, path, 1, _line)
    elif gtype == "Polygon":
        _polygon(coords, path)
    else:
        _array(coords, path, 1, _polygon)
    if gtype in ("Polygon", "MultiPolygon"):
        # Structure is fine; let GEOS judge the topology (self-intersections, holes outside
        # the shell, overlapping parts), which would otherwise make predicates unreliable.
        try:
            geom = shape(value)
            reason = None if shapely.is_valid(geom) else shapely.is_valid_reason(geom)
        except (ValueError, TypeError, GEOSException) as err:
            raise BadRequestData(f"{where}: {gtype} cannot be built: {err}") from err
        if reason is not None:
            raise BadRequestData(f"{where}: {gtype} is not a valid polygon: {reason}")


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _array(value: object, path: str, minimum: int, each: Callable[[object, str], None]) -> None:
    if not isinstance(value, list | tuple):
        raise BadRequestData(f"{path} must be an array, got {_kind(value)}")
    for i, item in enumerate(value):  # items first: a missing nesting level shows up here
        each(item, f"{path}[{i}]")
    if len(value) < minimum:
        raise BadRequestData(f"{path} must have at least {minimum} element(s), got {len(value)}")


def _position(value: object, path: str) -> None:
    if not isinstance(value, list | tuple) or not 2 <= len(value) <= 3:
        raise BadRequestData(f"{path} must be a position: an array of 2 or 3 numbers")
    for i, n in enumerate(value):
        if isinstance(n, bool) or not isinstance(n, int | float):
            raise BadRequestData(f"{path}[{i}] must be a number, got {n!r}")
        if isinstance(n, float) and not math.isfinite(n):
            raise BadRequestData(f"{path}[{i}] must be a finite number, got {n!r}")
        if i == 2 and abs(n) > 1e9:  # altitude in metres; also keeps huge ints out of GEOS
            raise BadRequestData(f"{path}[2] altitude {n!r} is out of range")
    lon, lat = value[0], value[1]
    if not -180 <= lon <= 180:
        raise BadRequestData(f"{path}[0] longitude {lon!r} is outside [-180, 180]")
    if not -90 <= lat <= 90:
        raise BadRequestData(f"{path}[1] latitude {lat!r} is outside [-90, 90]")


def _line(value: object, path: str) -> None:
    _array(value, path, 2, _position)


def _ring(value: object, path: str) -> None:
    _array(value, path, 4, _position)
    assert isinstance(value, list | tuple)  # checked by _array
    if list(value[0]) != list(value[-1]):
        raise BadRequestData(f"{path} is not a closed ring: first and last positions differ")


def _polygon(value: object, path: str) -> None:
    _array(value, path, 1, _ring)


def bbox_of(value: dict[str, Any]) -> tuple[float, float, float, float]:
    """The (minx, miny, maxx, maxy) lon/lat bounding box of a valid GeoJSON geometry."""
    xs: list[float] = []
    ys: list[float] = []
    for pos in _positions_of(value):
        xs.append(float(pos[0]))
        ys.append(float(pos[1]))
    if not xs:
        raise BadRequestData("GeoJSON geometry has no positions to bound")
    return min(xs), min(ys), max(xs), max(ys)


def _positions_of(value: dict[str, Any]) -> Iterator[Any]:
    if value.get("type") == "GeometryCollection":
        for member in value.get("geometries") or ():
            yield from _positions_of(member)
        return

    def walk(coords: Any) -> Iterator[Any]:
        if coords and isinstance(coords[0], int | float):
            yield coords
        else:
            for item in coords:
                yield from walk(item)

    yield from walk(value.get("coordinates") or ())


# ---------------------------------------------------------------------------------------------
# Geo-queries


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres between two lon/lat points (haversine formula)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlam = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlam / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class GeoQuery:
    """A parsed NGSI-LD geo-query; construction validates it (BadRequestData)."""

    georel: str
    geometry: dict[str, Any]
    max_distance: float | None = None
    min_distance: float | None = None
    geoproperty: str = "location"
    # Derived in __post_init__: the prepared query geometry, reused for every entity tested.
    _shape: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.georel not in GEORELS:
            raise BadRequestData(f"unknown georel {self.georel!r}; expected one of {GEORELS}")
        validate_geojson(self.geometry)
        distances = (self.max_distance, self.min_distance)
        if self.georel == "near":
            if self.geometry["type"] != "Point":
                raise BadRequestData(
                    f"georel near needs geometry Point, got {self.geometry['type']}"
                )
            if distances == (None, None):
                raise BadRequestData("georel near needs maxDistance and/or minDistance")
            for d in distances:
                if d is not None and not (math.isfinite(d) and d >= 0):
                    raise BadRequestData(f"near distance must be a number >= 0, got {d!r}")
            low, high = self.min_distance, self.max_distance
            if low is not None and high is not None and low > high:
                raise BadRequestData("near: minDistance is greater than maxDistance")
        elif distances != (None, None):
            raise BadRequestData(f"maxDistance/minDistance only apply to near, not {self.georel}")
        geom = shape(self.geometry)
        shapely.prepare(geom)
        object.__setattr__(self, "_shape", geom)

    @property
    def _point(self) -> tuple[float, float]:
        coords = self.geometry["coordinates"]
        return float(coords[0]), float(coords[1])

    def matches(self, value: object) -> bool:
        """Whether a stored GeoJSON geometry satisfies the query; False if it is unusable."""
        if self.georel == "near":
            d = self.distance_m(value)
            if d is None:
                return False
            if self.max_distance is not None and d > self.max_distance:
                return False
            return self.min_distance is None or d >= self.min_distance
        try:
            stored = _stored_shape(value)
            return bool(_PREDICATES[self.georel](self._shape, stored))
        except Exception:  # a broken stored value never fails the whole query
            return False

    def distance_m(self, value: object) -> float | None:
        """Metres from the near-query point to a stored geometry; None if not near or unusable."""
        if self.georel != "near":
            return None
        lon0, lat0 = self._point
        try:
            points: list[Any] = []
            if isinstance(value, dict) and value.get("type") == "Point":
                points = [value["coordinates"]]
            elif isinstance(value, dict) and value.get("type") == "MultiPoint":
                points = list(value["coordinates"])
            if points:
                d = min(haversine_m(lon0, lat0, float(p[0]), float(p[1])) for p in points)
            else:
                kx = _M_PER_DEG * math.cos(math.radians(lat0))

                def project(xy: Any) -> Any:
                    return (xy - (lon0, lat0)) * (kx, _M_PER_DEG)

                planar = shapely.transform(_stored_shape(value), project, include_z=False)
                d = float(shapely.distance(planar, shapely.Point(0.0, 0.0)))
        except Exception:  # unusable stored value: it is neither near nor far
            return None
        return d if math.isfinite(d) else None

    def search_bbox(self) -> tuple[float, float, float, float] | None:
        """A lon/lat window that every matching geometry intersects; None if none exists."""
        if self.georel == "disjoint":
            return None
        if self.georel != "near":
            return bbox_of(self.geometry)
        if self.max_distance is None:
            return None
        lon0, lat0 = self._point
        return _near_window(lon0, lat0, self.max_distance)


def _stored_shape(value: object) -> Any:
    if not isinstance(value, dict) or value.get("type") not in GEOMETRY_TYPES:
        raise ValueError("not a GeoJSON geometry")
    geom = shape(value)
    if geom.is_empty:
        raise ValueError("empty geometry")
    return geom


def _near_window(lon0: float, lat0: float, distance: float) -> tuple[float, float, float, float]:
    """Bounding box of the spherical cap (and of the planar disc) of radius ``distance``."""
    r = (distance * 1.001 + 1.0) / EARTH_RADIUS_M  # angular radius, a little generous
    dlat = math.degrees(r)
    miny, maxy = max(-90.0, lat0 - dlat), min(90.0, lat0 + dlat)
    if abs(lat0) + dlat >= 90.0:  # the cap holds a pole: every longitude
        return -180.0, miny, 180.0, maxy
    cos0 = math.cos(math.radians(lat0))
    # widest longitude reach of the cap; the planar disc's reach dlat/cos0 is never larger for
    # the cap, but take the max so both distance methods stay inside the window
    dlon = max(math.degrees(math.asin(min(1.0, math.sin(r) / cos0))), dlat / cos0)
    minx, maxx = lon0 - dlon, lon0 + dlon
    if minx < -180.0 or maxx > 180.0:  # wraps across the antimeridian: one window cannot say
        minx, maxx = -180.0, 180.0
    return minx, miny, maxx, maxy


def parse_geoquery(
    georel: object,
    geometry: object,
    coordinates: object,
    geoproperty: object = None,
) -> GeoQuery:
    """Build a GeoQuery from geoQ parameters (URL strings, or JSON values of a POST body)."""
    given = {"georel": georel, "geometry": geometry, "coordinates": coordinates}
    missing = [name for name, v in given.items() if v is None or v == ""]
    if missing:
        # an incomplete geo-query is not a valid one: BadRequestData (clause 5.7.2.4)
        raise BadRequestData(
            f"geo-query parameter(s) missing: {', '.join(missing)}; "
            "georel, geometry and coordinates must be given together"
        )
    if not isinstance(georel, str):
        raise BadRequestData(f"georel must be a string, got {_kind(georel)}")
    rel, max_d, min_d = _parse_georel(georel)
    if geometry not in QUERY_GEOMETRIES:
        raise BadRequestData(f"geometry {geometry!r} is not one of {', '.join(QUERY_GEOMETRIES)}")
    if geoproperty is None or geoproperty == "":
        geoproperty = "location"
    if not isinstance(geoproperty, str):
        raise BadRequestData(f"geoproperty must be a string, got {_kind(geoproperty)}")
    geom = {"type": geometry, "coordinates": _parse_coordinates(coordinates)}
    try:
        validate_geojson(geom)
    except BadRequestData as err:
        raise BadRequestData(f"invalid geo-query coordinates: {err.detail}") from err
    return GeoQuery(rel, geom, max_d, min_d, geoproperty)


def _parse_georel(text: str) -> tuple[str, float | None, float | None]:
    rel, *modifiers = (part.strip() for part in text.split(";"))
    if rel not in GEORELS:
        raise BadRequestData(f"unknown georel {rel!r}; expected one of {', '.join(GEORELS)}")
    if rel != "near":
        if modifiers:
            raise BadRequestData(f"georel {rel} takes no modifiers, got {text!r}")
        return rel, None, None
    found: dict[str, float] = {}
    for modifier in modifiers:
        name, sep, number = modifier.partition("==")
        if not sep or name not in ("maxDistance", "minDistance"):
            raise BadRequestData(
                f"bad near modifier {modifier!r}; expected maxDistance==<metres> "
                "or minDistance==<metres>"
            )
        if name in found:
            raise BadRequestData(f"near: {name} given twice")
        try:
            found[name] = float(number)
        except ValueError as err:
            raise BadRequestData(f"near: {name} {number!r} is not a number") from err
        if not (math.isfinite(found[name]) and found[name] >= 0):
            raise BadRequestData(f"near: {name} must be a number >= 0, got {number!r}")
    if not found:
        raise BadRequestData("georel near needs maxDistance==<metres> and/or minDistance==<metres>")
    return rel, found.get("maxDistance"), found.get("minDistance")


def _parse_coordinates(value: object) -> Any:
    if isinstance(value, str | bytes):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError as err:
            raise BadRequestData(f"coordinates is not valid JSON: {err}") from err
    if not isinstance(value, list | tuple):
        raise BadRequestData(f"coordinates must be a JSON array, got {_kind(value)}")
    return value
