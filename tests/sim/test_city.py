"""The demo city generator: deterministic, the sizes it promises, every point inside the city,
every entity fitting its built-in data model, distribution panels in markets and old houses,
and a road network that connects the stations with the city's places."""

from __future__ import annotations

from collections import Counter

import pytest
from shapely.geometry import Point, shape

from cityhub.ops.roads import RoadNetwork
from cityhub.sim.city import COUNTS, MARKETS, _Places, districts, generate
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


def test_panels_fit_the_electrical_model_in_their_districts() -> None:
    panels = [e for e in generate() if e["type"] == "ElectricalPanel"]
    assert len(panels) == COUNTS["ElectricalPanel"]
    checker = Checker.of(MODELS["ElectricalPanel"])  # the built-in model is there
    areas = {f["id"]: shape(f["geometry"]).buffer(0.0005) for f in districts()["features"]}
    for panel in panels:
        assert checker.errors(None, _stored(panel)) == [], panel["id"]
        lon, lat = panel["location"]["value"]["coordinates"]
        assert areas[panel["areaServed"]["value"]].contains(Point(lon, lat)), panel["id"]
        assert panel["leakageCurrent"]["value"] < 30 and panel["temperature"]["value"] < 60
    kinds = Counter((p["buildingType"]["value"], p["panelType"]["value"]) for p in panels)
    assert kinds[("traditionalMarket", "main")] == len(MARKETS)  # and its stalls' sub panels
    assert kinds[("traditionalMarket", "sub")] > kinds[("house", "main")] > 10
    names = [p["name"]["value"] for p in panels]
    assert len(set(names)) == len(names) and all(n.endswith(" 분전반") for n in names)


def test_the_panels_leave_the_rest_of_the_city_where_it_was(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rest = [e for e in generate(5) if e["type"] != "ElectricalPanel"]
    monkeypatch.setattr("cityhub.sim.city._panels", lambda rng, features: iter(()))
    assert generate(5) == rest  # added later, from a generator of their own


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
