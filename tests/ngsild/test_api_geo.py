"""API tests of geo-queries (georel/geometry/coordinates/geoproperty) and GeoJSON output.

The places fixture sits around Gwacheon city hall: a library 300 m east, a station 900 m
north, a racecourse 3 km east, a park polygon around the city hall (with a playground point)
and a north-south road line just west of the park.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.ngsild_api import CORE_CONTEXT, ENTITIES, assert_problem, create_many, query_ids

pytestmark = pytest.mark.anyio

CITY_HALL = "urn:ngsi-ld:Place:city-hall"
LIBRARY = "urn:ngsi-ld:Place:library"
STATION = "urn:ngsi-ld:Place:station"
RACECOURSE = "urn:ngsi-ld:Place:racecourse"
PARK = "urn:ngsi-ld:Park:central"
ROAD = "urn:ngsi-ld:Road:gwanmun-ro"
EVERYTHING = "Place,Park,Road"


def box(x0: float, y0: float, x1: float, y1: float) -> str:
    """Polygon coordinates (one closed ring) of a lon/lat box, as a URL parameter."""
    return json.dumps([[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]])


AROUND_CITY_HALL = box(126.9826, 37.4242, 126.9926, 37.4342)  # about 900 m x 1100 m


@pytest.fixture
async def gwacheon(client: httpx.AsyncClient, places: list[dict[str, Any]]) -> None:
    """The places around Gwacheon city hall, created."""
    await create_many(client, places)


async def geo_ids(
    client: httpx.AsyncClient, georel: str, geometry: str, coordinates: str, **extra: Any
) -> list[str]:
    """The ids a geo-query answers with, in response order."""
    return await query_ids(
        client,
        type=extra.pop("type", EVERYTHING),
        georel=georel,
        geometry=geometry,
        coordinates=coordinates,
        **extra,
    )


# --- near --------------------------------------------------------------------------------


@pytest.mark.usefixtures("gwacheon")
async def test_near_max_distance(client: httpx.AsyncClient) -> None:
    ids = await geo_ids(
        client, "near;maxDistance==500", "Point", "[126.9876,37.4292]", type="Place"
    )

    assert ids == [CITY_HALL, LIBRARY]


@pytest.mark.usefixtures("gwacheon")
async def test_near_answers_nearest_first(client: httpx.AsyncClient) -> None:
    # from the station: itself (0 m), the city hall (900 m), the library (about 950 m)
    ids = await geo_ids(
        client, "near;maxDistance==1000", "Point", "[126.9876,37.4373]", type="Place"
    )

    assert ids == [STATION, CITY_HALL, LIBRARY]


@pytest.mark.usefixtures("gwacheon")
async def test_near_min_distance(client: httpx.AsyncClient) -> None:
    ids = await geo_ids(
        client, "near;minDistance==1000", "Point", "[126.9876,37.4292]", type="Place"
    )

    assert ids == [RACECOURSE]


@pytest.mark.usefixtures("gwacheon")
async def test_near_between_min_and_max_distance(client: httpx.AsyncClient) -> None:
    ids = await geo_ids(
        client,
        "near;minDistance==500;maxDistance==1000",
        "Point",
        "[126.9876,37.4292]",
        type="Place",
    )

    assert ids == [STATION]


@pytest.mark.usefixtures("gwacheon")
async def test_near_measures_to_lines_and_polygons_too(client: httpx.AsyncClient) -> None:
    # the library is 300 m east of the city hall: the park's edge is about 170 m from it,
    # the road about 480 m
    ids = await geo_ids(client, "near;maxDistance==250", "Point", "[126.9910,37.4292]")

    assert ids == [LIBRARY, PARK]


@pytest.mark.usefixtures("gwacheon")
async def test_near_pages_after_sorting(client: httpx.AsyncClient) -> None:
    resp = await client.get(
        ENTITIES,
        params={
            "type": "Place",
            "georel": "near;maxDistance==5000",
            "geometry": "Point",
            "coordinates": "[127.0216,37.4292]",
            "limit": 2,
            "offset": 1,
            "count": "true",
        },
    )

    # from the racecourse: racecourse, library, city hall, station
    assert [e["id"] for e in resp.json()] == [LIBRARY, CITY_HALL]
    assert resp.headers["ngsild-results-count"] == "4"


# --- within, contains, intersects, disjoint, overlaps, equals --------------------------


@pytest.mark.usefixtures("gwacheon")
async def test_within_a_polygon(client: httpx.AsyncClient) -> None:
    ids = await geo_ids(client, "within", "Polygon", AROUND_CITY_HALL)

    assert ids == [CITY_HALL, LIBRARY, PARK]


@pytest.mark.usefixtures("gwacheon")
async def test_contains_a_point(client: httpx.AsyncClient) -> None:
    ids = await geo_ids(client, "contains", "Point", "[126.9870,37.4295]")

    assert ids == [PARK]


@pytest.mark.usefixtures("gwacheon")
async def test_intersects_a_line(client: httpx.AsyncClient) -> None:
    ids = await geo_ids(client, "intersects", "LineString", "[[126.980,37.4293],[126.995,37.4293]]")

    assert ids == [PARK, ROAD]


@pytest.mark.usefixtures("gwacheon")
async def test_intersects_a_polygon(client: httpx.AsyncClient) -> None:
    ids = await geo_ids(client, "intersects", "Polygon", AROUND_CITY_HALL)

    assert ids == [CITY_HALL, LIBRARY, PARK, ROAD]


@pytest.mark.usefixtures("gwacheon")
async def test_disjoint(client: httpx.AsyncClient) -> None:
    ids = await geo_ids(client, "disjoint", "Polygon", AROUND_CITY_HALL)

    assert ids == [STATION, RACECOURSE]


@pytest.mark.usefixtures("gwacheon")
async def test_overlaps(client: httpx.AsyncClient) -> None:
    ids = await geo_ids(client, "overlaps", "Polygon", box(126.9876, 37.4280, 126.9950, 37.4300))

    assert ids == [PARK]


@pytest.mark.usefixtures("gwacheon")
async def test_equals(client: httpx.AsyncClient) -> None:
    assert await geo_ids(client, "equals", "Point", "[126.9910,37.4292]") == [LIBRARY]
    assert await geo_ids(
        client, "equals", "LineString", "[[126.9856,37.4200],[126.9856,37.4400]]"
    ) == [ROAD]


@pytest.mark.usefixtures("gwacheon")
async def test_within_a_multipolygon(client: httpx.AsyncClient) -> None:
    two_boxes = json.dumps(
        [
            json.loads(box(126.9900, 37.4280, 126.9920, 37.4300)),
            json.loads(box(127.02, 37.42, 127.03, 37.44)),
        ]
    )

    ids = await geo_ids(client, "within", "MultiPolygon", two_boxes)

    assert ids == [LIBRARY, RACECOURSE]


@pytest.mark.usefixtures("gwacheon")
async def test_geoproperty_other_than_location(client: httpx.AsyncClient) -> None:
    near_playground = await geo_ids(
        client,
        "near;maxDistance==100",
        "Point",
        "[126.9880,37.4291]",
        geoproperty="playground",
    )
    on_location = await geo_ids(client, "near;maxDistance==100", "Point", "[126.9880,37.4291]")

    assert near_playground == [PARK]
    assert on_location == [PARK, CITY_HALL]  # the park polygon holds the point: 0 m


@pytest.mark.usefixtures("gwacheon")
async def test_geo_query_combines_with_q(client: httpx.AsyncClient) -> None:
    ids = await geo_ids(client, "within", "Polygon", AROUND_CITY_HALL, q="name~=Library")

    assert ids == [LIBRARY]


# --- GeoJSON output ----------------------------------------------------------------------


@pytest.mark.usefixtures("gwacheon")
async def test_geo_json_answer_is_a_feature_collection(client: httpx.AsyncClient) -> None:
    resp = await client.get(
        ENTITIES,
        params={"type": "Place,Road", "q": "name~=Library|name~=Gwanmun"},
        headers={"Accept": "application/geo+json"},
    )

    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/geo+json"
    collection = resp.json()
    assert collection["type"] == "FeatureCollection"
    assert collection["@context"] == CORE_CONTEXT
    library, road = collection["features"]
    assert library["type"] == "Feature"
    assert library["id"] == LIBRARY
    assert library["geometry"] == {"type": "Point", "coordinates": [126.9910, 37.4292]}
    assert library["properties"]["type"] == "Place"
    assert library["properties"]["name"]["value"].startswith("Gwacheon Library")
    assert road["geometry"]["type"] == "LineString"


@pytest.mark.usefixtures("gwacheon")
async def test_geo_json_with_geometry_property_and_key_values(client: httpx.AsyncClient) -> None:
    resp = await client.get(
        ENTITIES,
        params={"type": "Park", "geometryProperty": "playground", "options": "keyValues"},
        headers={"Accept": "application/geo+json"},
    )

    (park,) = resp.json()["features"]
    assert park["geometry"] == {"type": "Point", "coordinates": [126.9881, 37.4290]}
    assert park["properties"]["name"] == "Central park around the city hall"
    assert park["properties"]["location"]["type"] == "Polygon"


@pytest.mark.usefixtures("gwacheon")
async def test_geo_json_of_an_entity_without_the_geometry_property(
    client: httpx.AsyncClient,
) -> None:
    resp = await client.get(
        ENTITIES,
        params={"type": "Place", "q": "name~=Library", "geometryProperty": "playground"},
        headers={"Accept": "application/geo+json"},
    )

    (library,) = resp.json()["features"]
    assert library["geometry"] is None


# --- errors ------------------------------------------------------------------------------


@pytest.mark.usefixtures("gwacheon")
@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"georel": "nearby", "geometry": "Point", "coordinates": "[127,37]"}, "BadRequestData"),
        ({"georel": "near", "geometry": "Point", "coordinates": "[127,37]"}, "BadRequestData"),
        (
            {"georel": "near;maxDistance==-5", "geometry": "Point", "coordinates": "[127,37]"},
            "BadRequestData",
        ),
        (
            {"georel": "near;maxDistance==far", "geometry": "Point", "coordinates": "[127,37]"},
            "BadRequestData",
        ),
        (
            {
                "georel": "near;maxDistance==9",
                "geometry": "Polygon",
                "coordinates": AROUND_CITY_HALL,
            },
            "BadRequestData",
        ),
        (
            {
                "georel": "within;maxDistance==9",
                "geometry": "Polygon",
                "coordinates": AROUND_CITY_HALL,
            },
            "BadRequestData",
        ),
        ({"georel": "within", "geometry": "Circle", "coordinates": "[127,37]"}, "BadRequestData"),
        ({"georel": "within", "geometry": "Point", "coordinates": "[127"}, "BadRequestData"),
        ({"georel": "within", "geometry": "Point", "coordinates": "[200,37]"}, "BadRequestData"),
        (
            {
                "georel": "within",
                "geometry": "Polygon",
                "coordinates": "[[[0,0],[1,0],[1,1],[0,2]]]",
            },
            "BadRequestData",
        ),
        # an incomplete geo-query is not a valid one (clause 5.7.2.4)
        ({"georel": "within", "geometry": "Polygon"}, "BadRequestData"),
        ({"geometry": "Point", "coordinates": "[127,37]"}, "BadRequestData"),
    ],
)
async def test_bad_geo_queries_are_400(
    client: httpx.AsyncClient, params: dict[str, str], problem: str
) -> None:
    resp = await client.get(ENTITIES, params={"type": "Place", **params})

    assert_problem(resp, problem, 400)
