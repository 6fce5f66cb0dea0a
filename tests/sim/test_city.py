"""The demo city generator: deterministic, the sizes it promises, every point inside the city,
every entity fitting its built-in data model, and a road network that connects the stations
with the city's places."""

from __future__ import annotations

from collections import Counter

from shapely.geometry import Point

from cityhub.ops.roads import RoadNetwork
from cityhub.sim.city import COUNTS, _Places, districts, generate
from tests.datamodels.test_builtin import MODELS, Checker, _stored


def test_same_seed_same_city_other_seed_other_city() -> None:
    assert generate(7) == generate(7)
    assert generate(7) != generate(8)


def test_sizes_and_places() -> None:
    city = generate()
    kinds = Counter(e["type"] for e in city)
    for kind, count in COUNTS.items():
        assert kinds[kind] == count, kind
    assert kinds["District"] == 6 and kinds["FireStation"] == 2 and kinds["RoadSegment"] > 100
    assert len({e["id"] for e in city}) == len(city)  # ids are unique
    import random

    area = _Places(random.Random(0), districts()["features"]).city.buffer(0.0005)
    for e in city:
        geometry = e["location"]["value"]
        if geometry["type"] == "Point":
            assert area.contains(Point(geometry["coordinates"])), e["id"]


def test_every_entity_fits_its_model() -> None:
    for e in generate():
        model = MODELS.get(e["type"])
        if model is not None:
            assert Checker.of(model).errors(None, _stored(e)) == [], e["id"]


def test_roads_reach_the_scene_from_a_station() -> None:
    city = generate()
    roads = [
        {
            "id": e["id"],
            "name": e["name"]["value"],
            "location": e["location"]["value"],
            "width": e["width"]["value"],
        }
        for e in city
        if e["type"] == "RoadSegment"
    ]
    network = RoadNetwork.from_segments(roads)
    stations = [e for e in city if e["type"] == "FireStation"]
    scenes = [e for e in city if e["type"] == "OffStreetParking"][:10]
    reached = 0
    for scene in scenes:
        lon, lat = scene["location"]["value"]["coordinates"]
        start = stations[0]["location"]["value"]["coordinates"]
        route = network.route((start[0], start[1]), (lon, lat))
        reached += route is not None and route.length_m > 0
    assert reached >= 8  # a grid clipped to the city: nearly every place is reachable
