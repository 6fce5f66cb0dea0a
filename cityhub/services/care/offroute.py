"""How far a walker is from the way home: metres from a point to a line, with shapely in an
azimuthal equidistant projection centred on the line (as cityhub/ops/roads.py measures routes),
on the sphere of :func:`cityhub.ngsild.geo.haversine_m`."""

from __future__ import annotations

from collections.abc import Sequence

import shapely
from pyproj import Transformer

from cityhub.ngsild import geo

LonLat = tuple[float, float]


def _metric(lon0: float, lat0: float) -> Transformer:
    """lon/lat to metres around (lon0, lat0)."""
    sphere = f"+R={geo.EARTH_RADIUS_M} +no_defs"
    return Transformer.from_crs(
        f"+proj=longlat {sphere}",
        f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +units=m {sphere}",
        always_xy=True,
    )


def distance_to_line(at: LonLat, line: Sequence[LonLat]) -> float:
    """Metres from ``at`` to the nearest point of ``line`` (two or more positions)."""
    lons, lats = [p[0] for p in line], [p[1] for p in line]
    to_xy = _metric((min(lons) + max(lons)) / 2, (min(lats) + max(lats)) / 2)
    xs, ys = to_xy.transform(lons, lats)
    path = shapely.LineString(list(zip(xs, ys, strict=True)))
    x, y = to_xy.transform(at[0], at[1])
    return float(path.distance(shapely.Point(x, y)))
