"""Tests for cityhub.ngsild.geo: GeoJSON validation and NGSI-LD geo-queries."""

from __future__ import annotations

import dataclasses
import math
import random
from typing import Any

import pytest

from cityhub.errors import BadRequestData
from cityhub.ngsild.geo import (
    EARTH_RADIUS_M,
    GeoQuery,
    bbox_of,
    haversine_m,
    parse_geoquery,
    validate_geojson,
)

GWACHEON = (126.9876, 37.4292)  # Gwacheon city hall
M_PER_DEG_LAT = EARTH_RADIUS_M * math.pi / 180


def point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


def box(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]


def north_of(lon: float, lat: float, metres: float) -> tuple[float, float]:
    return lon, lat + metres / M_PER_DEG_LAT


def east_of(lon: float, lat: float, metres: float) -> tuple[float, float]:
    return lon + metres / (M_PER_DEG_LAT * math.cos(math.radians(lat))), lat


# --- validation -------------------------------------------------------------------------------

GOOD = [
    point(126.9876, 37.4292),
    {"type": "Point", "coordinates": [126.9876, 37.4292, 35.5]},
    point(-180, -90),
    point(180, 90),
    {"type": "MultiPoint", "coordinates": [[1, 2], [3, 4]]},
    {"type": "LineString", "coordinates": [[1, 2], [3, 4]]},
    {"type": "MultiLineString", "coordinates": [[[1, 2], [3, 4]], [[5, 6], [7, 8], [9, 9]]]},
    {"type": "Polygon", "coordinates": [box(0, 0, 10, 10)]},
    {"type": "Polygon", "coordinates": [box(0, 0, 10, 10), box(2, 2, 3, 3)]},  # with a hole
    {"type": "MultiPolygon", "coordinates": [[box(0, 0, 1, 1)], [box(5, 5, 6, 6)]]},
    {"type": "Point", "coordinates": [1, 2], "bbox": [1, 2, 1, 2]},  # extra members are fine
    {
        "type": "GeometryCollection",
        "geometries": [point(1, 2), {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}],
    },
    {"type": "GeometryCollection", "geometries": []},
]


@pytest.mark.parametrize("value", GOOD)
def test_validate_accepts_valid_geometries(value: dict[str, Any]) -> None:
    validate_geojson(value)


BAD = [
    (None, "must be a JSON object, got null"),
    ([1, 2], "must be a JSON object, got list"),
    ({"coordinates": [1, 2]}, "has type None"),
    ({"type": "Feature", "geometry": point(1, 2)}, "has type 'Feature'"),
    ({"type": "point", "coordinates": [1, 2]}, "has type 'point'"),
    ({"type": "Point"}, "no 'coordinates'"),
    ({"type": "Point", "coordinates": [1]}, "2 or 3 numbers"),
    ({"type": "Point", "coordinates": [1, 2, 3, 4]}, "2 or 3 numbers"),
    ({"type": "Point", "coordinates": "1,2"}, "2 or 3 numbers"),
    ({"type": "Point", "coordinates": ["1", 2]}, "[0] must be a number"),
    ({"type": "Point", "coordinates": [True, 2]}, "[0] must be a number"),
    ({"type": "Point", "coordinates": [float("nan"), 2]}, "finite"),
    ({"type": "Point", "coordinates": [1, 2, 10**20]}, "altitude"),
    ({"type": "Point", "coordinates": [180.5, 2]}, "longitude 180.5 is outside"),
    ({"type": "Point", "coordinates": [-181, 2]}, "longitude -181 is outside"),
    ({"type": "Point", "coordinates": [37.4, 126.9]}, "latitude 126.9 is outside"),  # lat/lon swap
    ({"type": "MultiPoint", "coordinates": []}, "at least 1"),
    ({"type": "MultiPoint", "coordinates": [[1, 2], [3]]}, "coordinates[1] must be a position"),
    ({"type": "LineString", "coordinates": [[1, 2]]}, "at least 2"),
    ({"type": "LineString", "coordinates": [1, 2]}, "coordinates[0] must be a position"),
    ({"type": "MultiLineString", "coordinates": [[[1, 2], [3, 4]], [[1, 2]]]}, "[1] must have"),
    ({"type": "Polygon", "coordinates": []}, "at least 1"),
    ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]}, "at least 4"),
    ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}, "not a closed ring"),
    (
        {"type": "Polygon", "coordinates": [box(0, 0, 1, 1), [[5, 5], [6, 5], [6, 6], [5, 5.1]]]},
        "coordinates[1] is not a closed ring",
    ),
    (
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
        "Self-intersection",
    ),
    ({"type": "Polygon", "coordinates": [box(0, 0, 1, 1), box(5, 5, 6, 6)]}, "Hole lies outside"),
    (
        {"type": "MultiPolygon", "coordinates": [[box(0, 0, 2, 2)], [box(1, 1, 3, 3)]]},
        "not a valid polygon",
    ),
    ({"type": "MultiPolygon", "coordinates": [box(0, 0, 1, 1)]}, "[0][0][0] must be a position"),
    ({"type": "GeometryCollection"}, "'geometries' array"),
    (
        {"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [1, 95]}]},
        "geometries[0] (Point) coordinates[1] latitude 95",
    ),
]


@pytest.mark.parametrize(("value", "message"), BAD)
def test_validate_rejects_bad_geometries(value: object, message: str) -> None:
    with pytest.raises(BadRequestData) as info:
        validate_geojson(value)
    assert message in info.value.detail


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (point(1, 2), (1, 2, 1, 2)),
        ({"type": "LineString", "coordinates": [[3, -4], [1, 2, 9]]}, (1, -4, 3, 2)),
        ({"type": "Polygon", "coordinates": [box(0, 1, 10, 11)]}, (0, 1, 10, 11)),
        (
            {"type": "MultiPolygon", "coordinates": [[box(0, 0, 1, 1)], [box(5, 5, 6, 7)]]},
            (0, 0, 6, 7),
        ),
        (
            {"type": "GeometryCollection", "geometries": [point(-3, 4), point(5, -6)]},
            (-3, -6, 5, 4),
        ),
    ],
)
def test_bbox_of(value: dict[str, Any], expected: tuple[float, ...]) -> None:
    assert bbox_of(value) == expected
    assert all(isinstance(v, float) for v in bbox_of(value))


def test_bbox_of_empty_collection_raises() -> None:
    with pytest.raises(BadRequestData):
        bbox_of({"type": "GeometryCollection", "geometries": []})


# --- georel predicates ------------------------------------------------------------------------

SQUARE = {"type": "Polygon", "coordinates": [box(0, 0, 10, 10)]}

# stored geometry -> the georels it satisfies against SQUARE
PREDICATE_TABLE: list[tuple[str, dict[str, Any], set[str]]] = [
    ("point inside", point(5, 5), {"within", "intersects"}),
    ("point on edge", point(10, 5), {"intersects"}),
    ("point outside", point(20, 20), {"disjoint"}),
    (
        "line inside",
        {"type": "LineString", "coordinates": [[1, 1], [2, 2]]},
        {"within", "intersects"},
    ),
    ("line crossing", {"type": "LineString", "coordinates": [[5, 5], [15, 5]]}, {"intersects"}),
    ("line outside", {"type": "LineString", "coordinates": [[11, 0], [11, 10]]}, {"disjoint"}),
    (
        "polygon around",
        {"type": "Polygon", "coordinates": [box(-1, -1, 11, 11)]},
        {"contains", "intersects"},
    ),
    (
        "polygon inside",
        {"type": "Polygon", "coordinates": [box(2, 2, 3, 3)]},
        {"within", "intersects"},
    ),
    (
        "polygon overlapping",
        {"type": "Polygon", "coordinates": [box(5, 5, 15, 15)]},
        {"overlaps", "intersects"},
    ),
    ("polygon touching", {"type": "Polygon", "coordinates": [box(10, 0, 12, 10)]}, {"intersects"}),
    (
        "polygon equal, other start",
        {"type": "Polygon", "coordinates": [[[10, 10], [0, 10], [0, 0], [10, 0], [10, 10]]]},
        {"equals", "within", "contains", "intersects"},
    ),
    (
        "multipoint inside",
        {"type": "MultiPoint", "coordinates": [[1, 1], [2, 2]]},
        {"within", "intersects"},
    ),
    (
        "multipoint half out",
        {"type": "MultiPoint", "coordinates": [[1, 1], [20, 20]]},
        {"intersects"},
    ),
    (
        "multiline inside",
        {"type": "MultiLineString", "coordinates": [[[1, 1], [2, 2]], [[3, 3], [4, 1]]]},
        {"within", "intersects"},
    ),
    (
        "multipolygon half out",
        {"type": "MultiPolygon", "coordinates": [[box(1, 1, 2, 2)], [box(20, 20, 21, 21)]]},
        {"overlaps", "intersects"},
    ),
    (
        "multipolygon outside",
        {"type": "MultiPolygon", "coordinates": [[box(20, 20, 21, 21)], [box(-5, -5, -4, -4)]]},
        {"disjoint"},
    ),
    ("3d point inside", {"type": "Point", "coordinates": [5, 5, 100]}, {"within", "intersects"}),
]
GEORELS = ["within", "contains", "intersects", "disjoint", "overlaps", "equals"]


@pytest.mark.parametrize("georel", GEORELS)
@pytest.mark.parametrize(
    ("stored", "truths"),
    [(s, t) for _, s, t in PREDICATE_TABLE],
    ids=[n for n, _, _ in PREDICATE_TABLE],
)
def test_georel_against_polygon(georel: str, stored: dict[str, Any], truths: set[str]) -> None:
    query = parse_geoquery(georel, "Polygon", "[[[0,0],[10,0],[10,10],[0,10],[0,0]]]", None)
    assert query.matches(stored) is (georel in truths)


@pytest.mark.parametrize(
    ("georel", "geometry", "coordinates", "stored", "expected"),
    [
        ("contains", "Point", [5, 5], SQUARE, True),
        ("contains", "Point", [50, 5], SQUARE, False),
        ("contains", "Point", [0, 5], SQUARE, False),  # on the boundary: not contained
        ("equals", "Point", [5, 5], point(5, 5), True),
        ("equals", "Point", [5, 5], point(5, 5.000001), False),
        ("intersects", "LineString", [[-5, 5], [5, 5]], SQUARE, True),
        ("disjoint", "LineString", [[-5, 5], [-1, 5]], SQUARE, True),
        ("within", "LineString", [[0, 0], [10, 10]], point(3, 3), True),
        ("contains", "LineString", [[1, 1], [2, 2]], SQUARE, True),
        (
            "overlaps",
            "LineString",
            [[0, 0], [2, 2]],
            {"type": "LineString", "coordinates": [[1, 1], [3, 3]]},
            True,
        ),
        ("within", "MultiPolygon", [[box(0, 0, 1, 1)], [box(5, 5, 6, 6)]], point(5.5, 5.5), True),
        ("within", "MultiPoint", [[1, 1], [2, 2]], point(2, 2), True),
        ("intersects", "MultiLineString", [[[0, 0], [1, 1]], [[5, 0], [5, 20]]], SQUARE, True),
    ],
)
def test_georel_other_query_geometries(
    georel: str, geometry: str, coordinates: list[Any], stored: dict[str, Any], expected: bool
) -> None:
    assert parse_geoquery(georel, geometry, coordinates, None).matches(stored) is expected


BROKEN_STORED: list[object] = [
    None,
    "POINT (1 2)",
    {},
    {"type": "Feature", "geometry": point(5, 5)},
    {"type": "Point"},
    {"type": "Point", "coordinates": "x"},
    {"type": "Point", "coordinates": []},
    {"type": "MultiPoint", "coordinates": []},
    {"type": "Polygon", "coordinates": [[[1, 1]]]},
    {"type": "LineString", "coordinates": [[1, 1], ["a", 2]]},
]


@pytest.mark.parametrize("georel", [*GEORELS, "near;maxDistance==1e9", "near;minDistance==0"])
@pytest.mark.parametrize("stored", BROKEN_STORED)
def test_broken_stored_values_never_match(georel: str, stored: object) -> None:
    geometry, coords = (
        ("Point", [5, 5]) if georel.startswith("near") else ("Polygon", SQUARE["coordinates"])
    )
    query = parse_geoquery(georel, geometry, coords, None)
    assert query.matches(stored) is False


# --- near and distances -----------------------------------------------------------------------


def test_haversine_known_distances() -> None:
    assert haversine_m(0, 0, 1, 0) == pytest.approx(111_195.08, abs=0.01)  # 1 degree, equator
    assert haversine_m(0, 0, 0, 90) == pytest.approx(EARTH_RADIUS_M * math.pi / 2)
    assert haversine_m(10, 20, 10, 20) == 0
    assert haversine_m(179.5, 0, -179.5, 0) == pytest.approx(111_195.08, abs=0.01)
    # Seoul city hall -> Busan city hall, checked against the spherical law of cosines
    seoul, busan = (126.9780, 37.5665), (129.0756, 35.1796)
    p1, p2 = math.radians(seoul[1]), math.radians(busan[1])
    dl = math.radians(busan[0] - seoul[0])
    cosines = EARTH_RADIUS_M * math.acos(
        math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl)
    )
    assert haversine_m(*seoul, *busan) == pytest.approx(cosines, rel=1e-9)
    assert 320_000 < cosines < 330_000


def gwacheon_query(georel: str) -> GeoQuery:
    return parse_geoquery(georel, "Point", f"[{GWACHEON[0]}, {GWACHEON[1]}]", None)


@pytest.mark.parametrize(
    ("georel", "expected"),
    [
        ("near;maxDistance==500", True),
        ("near;maxDistance==400.5", True),
        ("near;maxDistance==300", False),
        ("near;minDistance==300", True),
        ("near;minDistance==500", False),
        ("near;maxDistance==500;minDistance==300", True),
        ("near;minDistance==300;maxDistance==500", True),
        ("near;maxDistance==500;minDistance==450", False),
        ("near;maxDistance==350;minDistance==100", False),
    ],
)
@pytest.mark.parametrize("direction", [north_of, east_of])
def test_near_point_400m_from_gwacheon_city_hall(
    georel: str, expected: bool, direction: Any
) -> None:
    stored = point(*direction(*GWACHEON, 400))
    query = gwacheon_query(georel)
    assert query.distance_m(stored) == pytest.approx(400, abs=0.01)
    assert query.matches(stored) is expected


def test_near_other_stored_geometries() -> None:
    query = gwacheon_query("near;maxDistance==500")
    lon, lat = north_of(*GWACHEON, 400)
    line = {"type": "LineString", "coordinates": [[lon - 0.01, lat], [lon + 0.01, lat]]}
    far_line = {"type": "LineString", "coordinates": [[lon - 0.01, lat + 0.01], [lon, lat + 0.01]]}
    around = {"type": "Polygon", "coordinates": [box(126.98, 37.42, 127.0, 37.44)]}
    multi = {"type": "MultiPoint", "coordinates": [[127.5, 37.0], [lon, lat]]}
    assert query.distance_m(line) == pytest.approx(400, rel=1e-3)
    assert query.matches(line)
    assert not query.matches(far_line)
    assert query.distance_m(around) == 0
    assert query.matches(around)
    assert query.distance_m(multi) == pytest.approx(400, abs=0.01)
    assert query.matches(multi)
    assert query.distance_m({"type": "Point", "coordinates": [lon, lat, 80.0]}) == pytest.approx(
        400, abs=0.01
    )


def test_distance_is_none_outside_near() -> None:
    query = parse_geoquery("intersects", "Point", [1, 2], None)
    assert query.distance_m(point(1, 2)) is None


def test_near_sorting_by_distance() -> None:
    query = gwacheon_query("near;minDistance==0")
    stored = [point(*north_of(*GWACHEON, m)) for m in (900, 100, 5000, 300)]
    ordered = sorted(stored, key=lambda v: query.distance_m(v) or 0.0)
    assert [round(query.distance_m(v) or 0) for v in ordered] == [100, 300, 900, 5000]


# --- search_bbox ------------------------------------------------------------------------------


def test_search_bbox_non_near() -> None:
    coords = [[[1, 2], [5, 2], [3, 8], [1, 2]]]
    for georel in ("within", "contains", "intersects", "overlaps", "equals"):
        assert parse_geoquery(georel, "Polygon", coords, None).search_bbox() == (1, 2, 5, 8)
    assert parse_geoquery("disjoint", "Polygon", coords, None).search_bbox() is None
    assert gwacheon_query("near;minDistance==100").search_bbox() is None


def test_search_bbox_near_is_tight_but_generous() -> None:
    minx, miny, maxx, maxy = gwacheon_query("near;maxDistance==500").search_bbox() or (0, 0, 0, 0)
    dlat = 500 / M_PER_DEG_LAT
    dlon = dlat / math.cos(math.radians(GWACHEON[1]))
    assert maxy - GWACHEON[1] == pytest.approx(dlat, rel=0.01)
    assert maxy - GWACHEON[1] >= dlat
    assert maxx - GWACHEON[0] == pytest.approx(dlon, rel=0.01)
    assert maxx - GWACHEON[0] >= dlon
    assert GWACHEON[0] - minx >= dlon and GWACHEON[1] - miny >= dlat


def intersects_box(bbox: tuple[float, float, float, float], window: tuple[float, ...]) -> bool:
    return not (
        bbox[2] < window[0] or bbox[0] > window[2] or bbox[3] < window[1] or bbox[1] > window[3]
    )


def random_geometry(rng: random.Random, lon: float, lat: float, spread: float) -> dict[str, Any]:
    """A random Point, LineString or Polygon near (lon, lat), kept to valid coordinates."""

    lon_scale = 1 / max(0.05, math.cos(math.radians(lat)))

    def pos() -> list[float]:
        # longitudes wrap, so a query at the antimeridian gets neighbours on both sides
        x = (lon + rng.uniform(-spread, spread) * lon_scale + 180.0) % 360.0 - 180.0
        return [x, max(-90.0, min(90.0, lat + rng.uniform(-spread, spread)))]

    kind = rng.choice(["Point", "Point", "LineString", "Polygon"])
    if kind == "Point":
        return {"type": "Point", "coordinates": pos()}
    if kind == "LineString":
        return {"type": "LineString", "coordinates": [pos(), pos()]}
    x, y = pos()
    w, h = rng.uniform(0, spread / 5) + 1e-9, rng.uniform(0, spread / 5) + 1e-9
    x, y = min(x, 180.0 - w), min(y, 90.0 - h)  # keep the box from collapsing at a limit
    return {"type": "Polygon", "coordinates": [box(x, y, x + w, y + h)]}


@pytest.mark.parametrize(
    ("centre", "distance"),
    [
        (GWACHEON, 500),
        (GWACHEON, 50),
        (GWACHEON, 20_000),
        ((24.94, 60.17), 200_000),  # Helsinki: longitude degrees are short
        ((0.0, 0.0), 1_000),
        ((179.999, -17.0), 5_000),  # across the antimeridian (Fiji)
        ((-179.999, 10.0), 5_000),
        ((10.0, 89.99), 10_000),  # the cap holds the North Pole
        ((-70.0, -60.0), 3_000_000),
    ],
)
def test_search_bbox_holds_every_near_match(centre: tuple[float, float], distance: float) -> None:
    query = parse_geoquery(f"near;maxDistance=={distance}", "Point", list(centre), None)
    window = query.search_bbox()
    assert window is not None
    rng = random.Random(f"{centre}{distance}")
    spread = 1.5 * distance / M_PER_DEG_LAT
    matched = 0
    for _ in range(3000):
        stored = random_geometry(rng, *centre, spread)
        validate_geojson(stored)
        if query.matches(stored):
            matched += 1
            assert intersects_box(bbox_of(stored), window), stored
    assert matched > 50  # the loop really tests something


@pytest.mark.parametrize("georel", ["within", "contains", "intersects", "overlaps", "equals"])
def test_search_bbox_holds_every_georel_match(georel: str) -> None:
    rng = random.Random(georel)
    query = parse_geoquery(georel, "Polygon", [box(126.9, 37.4, 127.0, 37.5)], None)
    window = query.search_bbox()
    assert window is not None
    candidates = [random_geometry(rng, 126.95, 37.45, 0.1) for _ in range(2000)]
    candidates += [SQUARE, {"type": "Polygon", "coordinates": [box(126.8, 37.3, 127.1, 37.6)]}]
    for stored in candidates:
        if query.matches(stored):
            assert intersects_box(bbox_of(stored), window), stored


# --- parsing ----------------------------------------------------------------------------------


def test_parse_geoquery_fields() -> None:
    query = parse_geoquery("near;maxDistance==2000", "Point", "[126.9876, 37.4292]", None)
    assert query.georel == "near"
    assert query.geometry == {"type": "Point", "coordinates": [126.9876, 37.4292]}
    assert (query.max_distance, query.min_distance) == (2000.0, None)
    assert query.geoproperty == "location"
    expanded = "https://example.org/observationSpace"
    assert parse_geoquery("within", "Polygon", [box(0, 0, 1, 1)], expanded).geoproperty == expanded
    both = parse_geoquery(" near ; minDistance==10 ; maxDistance==1e3", "Point", [1, 2], None)
    assert (both.max_distance, both.min_distance) == (1000.0, 10.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        query.georel = "within"  # type: ignore[misc]


def test_parse_geoquery_accepts_body_lists_and_strings_alike() -> None:
    coords = [box(126.9, 37.4, 127.0, 37.5)]
    from_url = parse_geoquery("intersects", "Polygon", str(coords), None)
    from_body = parse_geoquery("intersects", "Polygon", coords, None)
    assert from_url == from_body


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((None, "Point", "[1,2]"), BadRequestData, "missing: georel"),
        (("near;maxDistance==5", None, "[1,2]"), BadRequestData, "missing: geometry"),
        (("near;maxDistance==5", "Point", None), BadRequestData, "missing: coordinates"),
        (("near;maxDistance==5", "Point", ""), BadRequestData, "missing: coordinates"),
        ((None, None, None), BadRequestData, "georel, geometry, coordinates"),
        (("nearby", "Point", "[1,2]"), BadRequestData, "unknown georel 'nearby'"),
        (("Within", "Point", "[1,2]"), BadRequestData, "unknown georel"),
        ((5, "Point", "[1,2]"), BadRequestData, "georel must be a string"),
        (("near", "Point", "[1,2]"), BadRequestData, "needs maxDistance"),
        (("near;", "Point", "[1,2]"), BadRequestData, "bad near modifier"),
        (("near;maxDistance=5", "Point", "[1,2]"), BadRequestData, "bad near modifier"),
        (("near;maxDistance:5", "Point", "[1,2]"), BadRequestData, "bad near modifier"),
        (("near;distance==5", "Point", "[1,2]"), BadRequestData, "bad near modifier"),
        (("near;maxDistance==five", "Point", "[1,2]"), BadRequestData, "is not a number"),
        (("near;maxDistance==-5", "Point", "[1,2]"), BadRequestData, ">= 0"),
        (("near;maxDistance==nan", "Point", "[1,2]"), BadRequestData, ">= 0"),
        (("near;maxDistance==inf", "Point", "[1,2]"), BadRequestData, ">= 0"),
        (("near;maxDistance==5;maxDistance==6", "Point", "[1,2]"), BadRequestData, "twice"),
        (("near;maxDistance==5;minDistance==6", "Point", "[1,2]"), BadRequestData, "greater"),
        (("within;maxDistance==5", "Polygon", [box(0, 0, 1, 1)]), BadRequestData, "no modifiers"),
        (
            ("near;maxDistance==5", "Polygon", [box(0, 0, 1, 1)]),
            BadRequestData,
            "needs geometry Point",
        ),
        (("within", "Circle", "[1,2]"), BadRequestData, "geometry 'Circle'"),
        (("within", "point", "[1,2]"), BadRequestData, "geometry 'point'"),
        (("within", "GeometryCollection", "[]"), BadRequestData, "GeometryCollection"),
        (("within", "Point", "[1,2"), BadRequestData, "not valid JSON"),
        (("within", "Point", "1,2"), BadRequestData, "not valid JSON"),
        (("within", "Point", '{"lon": 1}'), BadRequestData, "must be a JSON array, got dict"),
        (("within", "Point", "7"), BadRequestData, "must be a JSON array, got int"),
        (("within", "Point", "[1]"), BadRequestData, "invalid geo-query coordinates"),
        (("within", "Point", "[200, 1]"), BadRequestData, "longitude 200"),
        (("within", "Polygon", "[[0,0],[1,0],[1,1],[0,0]]"), BadRequestData, "must be a position"),
        (("within", "Polygon", "[[[0,0],[1,0],[1,1],[0,1]]]"), BadRequestData, "closed ring"),
        (("within", "LineString", "[[0,0]]"), BadRequestData, "at least 2"),
        (("within", "Point", "[1,2]", 7), BadRequestData, "geoproperty must be a string"),
    ],
)
def test_parse_geoquery_errors(args: tuple[Any, ...], error: type[Exception], message: str) -> None:
    with pytest.raises(error) as info:
        parse_geoquery(*args)
    assert type(info.value) is error
    assert message in str(info.value)


def test_geoquery_constructor_validates() -> None:
    with pytest.raises(BadRequestData):
        GeoQuery("within", point(1, 2), max_distance=5)
    with pytest.raises(BadRequestData):
        GeoQuery("near", point(1, 2))
    with pytest.raises(BadRequestData):
        GeoQuery("near", point(1, 95), max_distance=5)
    assert GeoQuery("near", point(1, 2), max_distance=0).matches(point(1, 2))
