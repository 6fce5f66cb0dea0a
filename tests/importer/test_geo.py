"""Projections to WGS84, checked against values computed here from the projections'
definitions (not with pyproj): a grid's origin, and points on its central meridian, whose
northing is the meridian arc length (scaled by k0) from the origin's latitude."""

from __future__ import annotations

import math
from array import array

import pytest

from cityhub.importer.errors import RowError
from cityhub.importer.geo import Projector, check_crs, positions, replace_positions

# GRS80, the ellipsoid of Korea 2000 (KGD2002), which coincides with WGS84 to the millimetre
A = 6378137.0
F = 1 / 298.257222101
E2 = F * (2 - F)


def meridian_arc(lat_deg: float) -> float:
    """Distance along the meridian from the equator to ``lat_deg`` (Simpson's rule)."""
    n = 2000
    phi = math.radians(lat_deg)
    h = phi / n

    def m(t: float) -> float:
        return float(A * (1 - E2) / (1 - E2 * math.sin(t) ** 2) ** 1.5)

    total = m(0) + m(phi) + sum((4 if i % 2 else 2) * m(i * h) for i in range(1, n))
    return total * h / 3


def project(crs: str, x: float, y: float) -> tuple[float, float]:
    lon, lat = Projector(crs).transform(array("d", [x]), array("d", [y]))
    return lon[0], lat[0]


def test_epsg_5186_origin_and_meridian() -> None:
    # Korea 2000 / Central Belt 2010: origin 38°N 127°E at (200000, 600000), k0 = 1
    lon, lat = project("EPSG:5186", 200000.0, 600000.0)
    assert lon == pytest.approx(127.0, abs=1e-9) and lat == pytest.approx(38.0, abs=1e-9)
    for target in (37.4292, 37.5665, 33.5):  # Gwacheon, Seoul City Hall, Jeju latitudes
        northing = 600000.0 + meridian_arc(target) - meridian_arc(38.0)
        lon, lat = project("EPSG:5186", 200000.0, northing)
        assert abs(lon - 127.0) < 1e-6 and abs(lat - target) < 1e-6


def test_epsg_5179_origin_and_meridian() -> None:
    # Korea 2000 / Unified CS: origin 38°N 127.5°E at (1000000, 2000000), k0 = 0.9996
    lon, lat = project("EPSG:5179", 1000000.0, 2000000.0)
    assert abs(lon - 127.5) < 1e-9 and abs(lat - 38.0) < 1e-9
    northing = 2000000.0 + 0.9996 * (meridian_arc(35.1796) - meridian_arc(38.0))  # Busan
    lon, lat = project("EPSG:5179", 1000000.0, northing)
    assert abs(lon - 127.5) < 1e-6 and abs(lat - 35.1796) < 1e-6


def test_epsg_2097_applies_the_datum_shift() -> None:
    # Korean 1985 (Bessel) / Central Belt: same grid origin, but on the old datum, which sits
    # a few hundred metres from WGS84 (about 0.002° west and 0.003° north here)
    lon, lat = project("EPSG:2097", 200000.0, 500000.0)
    assert 126.99 < lon < 127.0 - 0.001 and 38.0 + 0.001 < lat < 38.01


def test_vectorized_chunk_and_bad_points() -> None:
    p = Projector("EPSG:5186", (124.5, 33.0, 132.0, 38.7))
    xs = array("d", [200000.0, 198903.907, 1e12])
    ys = array("d", [600000.0, 536651.466, 1e12])
    lon, lat = p.transform(xs, ys)
    assert abs(lon[1] - 126.987616) < 1e-6 and abs(lat[1] - 37.429246) < 1e-6  # Gwacheon
    p.check(lon[0], lat[0], "(200000, 600000)")
    with pytest.raises(RowError) as err:
        p.check(lon[2], lat[2], "(1e12, 1e12)")
    assert err.value.reason in (
        "location: cannot project from EPSG:5186",
        "location: coordinates out of range",
        "location: outside the bounds",
    )
    far = Projector("EPSG:5186", (126.9, 37.4, 127.1, 37.5))
    with pytest.raises(RowError) as err:
        far.check(127.0, 38.0, "(200000, 600000)")
    assert err.value.detail == (
        "location: (200000, 600000) = (127.000000, 38.000000) is outside the bounds "
        "[126.9, 37.4, 127.1, 37.5]"
    )


def test_wgs84_is_not_transformed() -> None:
    p = Projector("EPSG:4326")
    xs, ys = array("d", [126.9876]), array("d", [37.4292])
    assert p.transform(xs, ys) == (xs, ys)
    assert check_crs("EPSG:5186") is None and check_crs("urn:ogc:def:crs:EPSG::5179") is None
    assert "unknown coordinate reference system" in (check_crs("EPSG:0") or "")


def test_geometry_positions_are_replaced_in_a_copy() -> None:
    poly = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}
    coll = {
        "type": "GeometryCollection",
        "geometries": [{"type": "Point", "coordinates": [5, 6, 7]}, poly],
    }
    pts = positions(coll)
    assert len(pts) == 5
    moved = replace_positions(coll, iter([(float(i), float(-i)) for i in range(5)]))
    assert moved["geometries"][0]["coordinates"] == [0.0, -0.0, 7]
    assert moved["geometries"][1]["coordinates"][0][3] == [4.0, -4.0]
    assert poly["coordinates"][0][1] == [1, 0]  # the input is left alone
