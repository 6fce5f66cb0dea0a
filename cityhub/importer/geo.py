"""Coordinates: projected Korean grids (EPSG:5186, 5179, 2097, ...) to WGS84, checked.

One :class:`Projector` per import holds one pyproj ``Transformer`` (created once: building it
costs far more than transforming a chunk) and transforms a whole chunk of points per call.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterator, Sequence
from typing import Any

from cityhub.importer.errors import RowError

_WGS84_NAMES = frozenset(
    {
        "EPSG:4326",
        "WGS84",
        "CRS84",
        "OGC:CRS84",
        "URN:OGC:DEF:CRS:OGC:1.3:CRS84",
        "URN:OGC:DEF:CRS:EPSG::4326",
        "URN:OGC:DEF:CRS:OGC::CRS84",
    }
)


def is_wgs84(crs: str) -> bool:
    """True for the names of WGS84 longitude/latitude (no transformation needed)."""
    return crs.strip().upper() in _WGS84_NAMES


def check_crs(crs: str) -> str | None:
    """None if pyproj knows ``crs``, else why not."""
    if is_wgs84(crs):
        return None
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        CRS.from_user_input(crs)
    except CRSError as err:
        return f"unknown coordinate reference system ({str(err).splitlines()[0]})"
    return None


class Projector:
    """Source CRS → WGS84 (x = longitude, y = latitude), with range and bounds checks."""

    def __init__(self, crs: str, bounds: tuple[float, float, float, float] | None = None):
        self.crs = crs
        self.bounds = bounds
        self.identity = is_wgs84(crs)
        self._transformer: Any = None
        if not self.identity:
            from pyproj import Transformer

            self._transformer = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)

    def transform(self, xs: array[float], ys: array[float]) -> tuple[Sequence[float], ...]:
        """Project many points at once (NaN/inf where a point cannot be projected)."""
        if self.identity or not xs:
            return xs, ys
        lon, lat = self._transformer.transform(xs, ys, errcheck=False)
        return lon, lat

    def check(self, lon: float, lat: float, shown: str) -> None:
        """RowError unless (lon, lat) is a WGS84 position inside the bounds; ``shown`` is the
        position as the file gave it (for the message)."""
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise RowError(
                f"location: cannot project from {self.crs}",
                f"location: {shown} cannot be projected from {self.crs}",
            )
        if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
            hint = ""
            if self.identity and -90.0 <= lon <= 90.0 and -180.0 <= lat <= 180.0:
                hint = " (longitude and latitude swapped?)"
            raise RowError(
                "location: coordinates out of range",
                f"location: {shown} is not a longitude/latitude in range{hint}",
            )
        b = self.bounds
        if b is not None and not (b[0] <= lon <= b[2] and b[1] <= lat <= b[3]):
            hint = ""
            if self.identity and b[0] <= lat <= b[2] and b[1] <= lon <= b[3]:
                hint = " (longitude and latitude swapped?)"
            where = shown if self.identity else f"{shown} = ({lon:.6f}, {lat:.6f})"
            raise RowError(
                "location: outside the bounds",
                f"location: {where} is outside the bounds {list(b)}{hint}",
            )


def positions(geometry: Any) -> list[list[Any]]:
    """Every position (the [x, y, ...] lists) of a GeoJSON geometry, to transform in place."""
    out: list[list[Any]] = []
    _collect(geometry, out)
    return out


def _collect(geometry: Any, out: list[list[Any]]) -> None:
    if geometry.get("type") == "GeometryCollection":
        for member in geometry.get("geometries", []):
            _collect(member, out)
        return
    _walk(geometry.get("coordinates"), out)


def _walk(coords: Any, out: list[list[Any]]) -> None:
    if isinstance(coords, list) and coords and not isinstance(coords[0], list):
        out.append(coords)
        return
    if isinstance(coords, list):
        for item in coords:
            _walk(item, out)


def replace_positions(geometry: dict[str, Any], moved: Iterator[tuple[float, float]]) -> Any:
    """A copy of ``geometry`` whose positions, in :func:`positions` order, are ``moved``."""
    if geometry.get("type") == "GeometryCollection":
        return {
            **geometry,
            "geometries": [replace_positions(g, moved) for g in geometry.get("geometries", [])],
        }
    return {**geometry, "coordinates": _replace(geometry.get("coordinates"), moved)}


def _replace(coords: Any, moved: Iterator[tuple[float, float]]) -> Any:
    if isinstance(coords, list) and coords and not isinstance(coords[0], list):
        lon, lat = next(moved)
        return [lon, lat, *coords[2:]]
    if isinstance(coords, list):
        return [_replace(item, moved) for item in coords]
    return coords
