"""Fire-engine routing on a small street grid in Gwacheon: shortest paths, snapping onto the middle
of a block, detours around a missing link, one-way streets, narrow segments, hydrants along the
route and the fire station nearest by road.

The grid is 4x4 crossings 100 m apart around (126.99, 37.43); east-west streets are one segment
per row (``row0``..``row3``, so consecutive edges get merged), north-south streets one segment per
block (``col{x}-{y}`` from crossing (x, y) to (x, y + 1)). Positions are given in metres east and
north of the south-west crossing and converted on the sphere that ``haversine_m`` uses, so the
expected lengths are exact up to the 1e-6 degree rounding of vertices.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest

from cityhub.errors import BadRequestData
from cityhub.ngsild.geo import EARTH_RADIUS_M
from cityhub.ops.roads import RoadNetwork, Route, along, nearest_by_route

LON0, LAT0 = 126.99, 37.43  # 과천 중앙동
_M_PER_DEG = EARTH_RADIUS_M * math.pi / 180
ROW = "urn:ngsi-ld:RoadSegment:row{}"
COL = "urn:ngsi-ld:RoadSegment:col{}-{}"


def ll(x_m: float, y_m: float) -> tuple[float, float]:
    """(lon, lat) of the point ``x_m`` metres east and ``y_m`` north of the grid's corner."""
    return (
        LON0 + x_m / (_M_PER_DEG * math.cos(math.radians(LAT0))),
        LAT0 + y_m / _M_PER_DEG,
    )


def line(*points: tuple[float, float]) -> dict[str, Any]:
    return {"type": "LineString", "coordinates": [list(ll(x, y)) for x, y in points]}


def grid(
    *, without: tuple[str, ...] = (), narrow: tuple[str, ...] = (), one_way: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """The 4x4 street grid as RoadSegment dicts, less ``without``, 3 m wide for ``narrow``."""
    segments: list[dict[str, Any]] = [
        {
            "id": ROW.format(y),
            "name": f"{y}번가",
            "location": line(*((x * 100, y * 100) for x in range(4))),
        }
        for y in range(4)
    ]
    segments += [
        {
            "id": COL.format(x, y),
            "name": f"{x}길",
            "location": line((x * 100, y * 100), (x * 100, y * 100 + 100)),
        }
        for x in range(4)
        for y in range(3)
    ]
    for segment in segments:
        segment["width"] = 3.0 if segment["id"] in narrow else 8.0
        if segment["id"] in one_way:
            segment["oneWay"] = True
    return [s for s in segments if s["id"] not in without]


def point(id_: str, x_m: float, y_m: float, **fields: Any) -> dict[str, Any]:
    return {"id": id_, "location": {"type": "Point", "coordinates": list(ll(x_m, y_m))}, **fields}


def ids(route: Route) -> list[str]:
    return [s["id"] for s in route.segments]


def assert_at(position: list[float], x_m: float, y_m: float) -> None:
    lon, lat = ll(x_m, y_m)
    assert position[0] == pytest.approx(lon, abs=2e-6)
    assert position[1] == pytest.approx(lat, abs=2e-6)


@pytest.fixture
def streets() -> RoadNetwork:
    """The full grid, every street two-way and 8 m wide."""
    return RoadNetwork.from_segments(grid())


def test_graph_has_an_edge_per_vertex_pair_and_direction(streets: RoadNetwork) -> None:
    # 4 rows x 3 edges + 12 column blocks, both directions each
    assert streets.graph.number_of_edges() == 48
    assert streets.graph.number_of_nodes() == 16
    a, b = ((round(c, 6) for c in ll(*p)) for p in ((100, 0), (200, 0)))
    edge = streets.graph.edges[tuple(a), tuple(b)]
    assert edge["segment"] == ROW.format(0)
    assert edge["name"] == "0번가"
    assert edge["width"] == 8.0
    assert edge["weight"] == pytest.approx(100.0, abs=0.1)


def test_shortest_path_is_the_manhattan_distance(streets: RoadNetwork) -> None:
    corner_to_corner = streets.route(ll(0, 0), ll(300, 300))
    assert corner_to_corner is not None
    assert corner_to_corner.length_m == pytest.approx(600.0, abs=2)

    along_row = streets.route(ll(0, 0), ll(300, 0))
    assert along_row is not None
    assert along_row.length_m == pytest.approx(300.0, abs=0.2)
    # three edges of one segment, merged
    assert along_row.segments == [
        {"id": ROW.format(0), "name": "0번가", "width": 8.0, "length": 300.0}
    ]
    assert along_row.narrow == []
    assert along_row.geometry["type"] == "LineString"
    assert len(along_row.geometry["coordinates"]) == 4
    assert_at(along_row.geometry["coordinates"][0], 0, 0)
    assert_at(along_row.geometry["coordinates"][-1], 300, 0)
    assert along_row.snap_m == (0.0, 0.0)


def test_route_goes_around_a_missing_link(streets: RoadNetwork) -> None:
    direct = streets.route(ll(100, 0), ll(100, 100))
    assert direct is not None
    assert direct.length_m == pytest.approx(100.0, abs=0.2)
    assert ids(direct) == [COL.format(1, 0)]

    detour = RoadNetwork.from_segments(grid(without=(COL.format(1, 0),))).route(
        ll(100, 0), ll(100, 100)
    )
    assert detour is not None
    assert detour.length_m == pytest.approx(300.0, abs=0.5)
    assert COL.format(1, 0) not in ids(detour)
    assert sum(s["length"] for s in detour.segments) == pytest.approx(300.0, abs=0.5)


def test_start_off_the_road_is_snapped_onto_the_middle_of_a_block(streets: RoadNetwork) -> None:
    # 30 m south of row 0, halfway between crossings 1 and 2: projected onto the edge, not a crossing
    route = streets.route(ll(150, -30), ll(100, 100))
    assert route is not None
    assert route.snap_m == (30.0, 0.0)
    assert_at(route.geometry["coordinates"][0], 150, 0)
    assert_at(route.geometry["coordinates"][1], 100, 0)
    assert route.length_m == pytest.approx(150.0, abs=0.3)
    assert [(s["id"], s["length"]) for s in route.segments] == [
        (ROW.format(0), 50.0),
        (COL.format(1, 0), 100.0),
    ]

    # inside a block, 30 m from row 0 and 50 m from the column: snapped to row 0, and the end too
    inside = streets.route(ll(150, 30), ll(250, -10))
    assert inside is not None
    assert inside.snap_m == (30.0, 10.0)
    assert inside.length_m == pytest.approx(100.0, abs=0.3)
    assert_at(inside.geometry["coordinates"][-1], 250, 0)


def test_start_and_end_on_the_same_edge(streets: RoadNetwork) -> None:
    route = streets.route(ll(120, -5), ll(180, 5))
    assert route is not None
    assert route.length_m == pytest.approx(60.0, abs=0.2)
    assert route.segments == [{"id": ROW.format(0), "name": "0번가", "width": 8.0, "length": 60.0}]
    assert len(route.geometry["coordinates"]) == 2


def test_disconnected_or_too_far_means_no_route() -> None:
    island = {"id": "urn:ngsi-ld:RoadSegment:island", "location": line((1000, 0), (1100, 0))}
    network = RoadNetwork.from_segments([*grid(), island])
    assert network.route(ll(0, 0), ll(1050, 0)) is None
    assert network.route(ll(1000, 0), ll(1100, 0)) is not None
    # 700 m from every road: beyond the default 500 m snap
    assert network.route(ll(0, 0), ll(150, 1000)) is None
    far = network.route(ll(0, 0), ll(150, 1000), max_snap_m=800)
    assert far is not None
    assert far.snap_m[1] == pytest.approx(700.0, abs=0.1)


def test_one_way_street_is_not_driven_against_its_direction() -> None:
    network = RoadNetwork.from_segments(grid(one_way=(ROW.format(0),)))  # drawn west to east
    east = network.route(ll(0, 0), ll(300, 0))
    assert east is not None
    assert east.length_m == pytest.approx(300.0, abs=0.2)
    assert ids(east) == [ROW.format(0)]

    west = network.route(ll(300, 0), ll(0, 0))
    assert west is not None
    assert west.length_m == pytest.approx(500.0, abs=0.5)
    assert ids(west) == [COL.format(3, 0), ROW.format(1), COL.format(0, 0)]

    # starting mid-block on the one-way street: first east to the next crossing, then around
    mid = network.route(ll(150, -10), ll(0, 0))
    assert mid is not None
    assert mid.length_m == pytest.approx(450.0, abs=0.5)
    assert ids(mid) == [ROW.format(0), COL.format(2, 0), ROW.format(1), COL.format(0, 0)]
    assert mid.segments[0]["length"] == 50.0
    # backwards along the same edge is not allowed either
    back = network.route(ll(180, 0), ll(120, 0))
    assert back is not None
    # east 20 m to crossing 2, north, west a block, south, and east 20 m again
    assert back.length_m == pytest.approx(340.0, abs=0.5)
    assert ids(back) == [
        ROW.format(0),
        COL.format(2, 0),
        ROW.format(1),
        COL.format(1, 0),
        ROW.format(0),
    ]


def test_one_way_start_at_the_tail_crossing_may_leave_by_other_streets() -> None:
    network = RoadNetwork.from_segments(grid(one_way=(ROW.format(0),)))
    route = network.route(ll(100, 0), ll(100, 100))
    assert route is not None
    assert route.length_m == pytest.approx(100.0, abs=0.2)
    assert ids(route) == [COL.format(1, 0)]
    # 5 cm off the crossing, nearest to the one-way street itself (its tail end), not the column
    tail = network.route(ll(0.05, -0.05), ll(0, 100))
    assert tail is not None
    assert tail.length_m == pytest.approx(100.0, abs=0.2)
    assert ids(tail) == [COL.format(0, 0)]


def test_narrow_segment_is_reported_when_used() -> None:
    network = RoadNetwork.from_segments(grid(narrow=(COL.format(1, 0),)))
    through = network.route(ll(100, 0), ll(100, 100))
    assert through is not None
    assert through.narrow == [
        {"id": COL.format(1, 0), "name": "1길", "width": 3.0, "length": 100.0}
    ]
    wider = network.route(ll(100, 0), ll(100, 100), narrow_below_m=2.5)
    assert wider is not None
    assert wider.narrow == []

    elsewhere = network.route(ll(0, 0), ll(300, 0))
    assert elsewhere is not None
    assert elsewhere.narrow == []


def test_missing_width_is_unknown_not_narrow() -> None:
    segment = {
        "id": "urn:ngsi-ld:RoadSegment:w",
        "name": "골목",
        "location": line((0, 0), (100, 0)),
    }
    route = RoadNetwork.from_segments([segment]).route(ll(0, 0), ll(100, 0))
    assert route is not None
    assert route.segments == [
        {"id": "urn:ngsi-ld:RoadSegment:w", "name": "골목", "width": None, "length": 100.0}
    ]
    assert route.narrow == []


def test_eta(streets: RoadNetwork) -> None:
    route = streets.route(ll(0, 0), ll(300, 0))
    assert route is not None
    assert route.eta_s(36) == pytest.approx(30.0, abs=0.1)
    with pytest.raises(BadRequestData):
        route.eta_s(0)


def test_along_finds_points_near_the_route_in_order(streets: RoadNetwork) -> None:
    route = streets.route(ll(0, 0), ll(300, 0))
    assert route is not None
    features = [
        point("urn:ngsi-ld:FireHydrant:a", 250, 3, kind="지상식"),
        point("urn:ngsi-ld:FireHydrant:far", 150, 40),
        point("urn:ngsi-ld:Vehicle:parked", 60, -7),
        point("urn:ngsi-ld:FireHydrant:past-end", 320, 0),
        {"id": "urn:ngsi-ld:FireHydrant:noloc"},
        {"id": "urn:ngsi-ld:Area:x", "location": line((0, 0), (10, 0))},
    ]
    before = copy.deepcopy(features)
    near = along(route, features, within_m=10)
    assert [f["id"] for f in near] == ["urn:ngsi-ld:Vehicle:parked", "urn:ngsi-ld:FireHydrant:a"]
    parked, hydrant = near
    assert parked["distance"] == pytest.approx(7.0, abs=0.5)
    assert parked["offset"] == pytest.approx(60.0, abs=0.5)
    assert hydrant["distance"] == pytest.approx(3.0, abs=0.5)
    assert hydrant["offset"] == pytest.approx(250.0, abs=0.5)
    assert hydrant["kind"] == "지상식"
    assert features == before  # inputs are copied, not changed
    assert along(route, features, within_m=2) == []


def test_along_measures_offsets_around_corners() -> None:
    network = RoadNetwork.from_segments(grid(one_way=(ROW.format(0),)))
    route = network.route(ll(300, 0), ll(0, 0))  # north, west along row 1, south
    assert route is not None
    near = along(
        route,
        [point("c", -2, 30), point("a", 303, 50), point("b", 150, 104)],
        within_m=5,
    )
    assert [f["id"] for f in near] == ["a", "b", "c"]
    assert [f["offset"] for f in near] == pytest.approx([50.0, 250.0, 470.0], abs=0.5)
    assert [f["distance"] for f in near] == pytest.approx([3.0, 4.0, 2.0], abs=0.5)
    assert near[-1]["offset"] <= route.length_m


def test_nearest_by_route_prefers_the_station_closer_by_road() -> None:
    # Column 1's first block is missing: station A, 110 m from the scene in a straight line,
    # has to drive 300 m around; station B, 200 m away, drives 200 m along row 1.
    network = RoadNetwork.from_segments(grid(without=(COL.format(1, 0),)))
    scene = ll(100, 100)
    a = point("urn:ngsi-ld:FireStation:A", 100, -10, name="과천119안전센터")
    b = point("urn:ngsi-ld:FireStation:B", 300, 100, name="별양119안전센터")
    c = point("urn:ngsi-ld:FireStation:C", 1500, 100)  # 1 km from any road
    ranked = nearest_by_route(network, [c, a, b], scene)
    assert [s["id"] for s, _ in ranked] == [
        "urn:ngsi-ld:FireStation:B",
        "urn:ngsi-ld:FireStation:A",
    ]
    assert [r.length_m for _, r in ranked] == pytest.approx([200.0, 300.0], abs=0.5)
    assert ranked[0][0] is b
    # only the straight-line nearest is routed when limit=1
    only = nearest_by_route(network, [c, a, b], scene, limit=1)
    assert [s["id"] for s, _ in only] == ["urn:ngsi-ld:FireStation:A"]


def test_bad_geometries_are_skipped() -> None:
    bad: list[dict[str, Any]] = [
        {
            "id": "urn:ngsi-ld:RoadSegment:point",
            "location": {"type": "Point", "coordinates": [LON0, LAT0]},
        },
        {
            "id": "urn:ngsi-ld:RoadSegment:text",
            "location": {"type": "LineString", "coordinates": [[LON0, "x"], [LON0, LAT0]]},
        },
        {
            "id": "urn:ngsi-ld:RoadSegment:short",
            "location": {"type": "LineString", "coordinates": [[LON0, LAT0]]},
        },
        {"id": "urn:ngsi-ld:RoadSegment:none"},
    ]
    network = RoadNetwork.from_segments([*bad[:2], *grid(), *bad[2:]])
    assert network.skipped == [s["id"] for s in bad]
    route = network.route(ll(0, 0), ll(300, 0))
    assert route is not None
    assert route.length_m == pytest.approx(300.0, abs=0.2)

    with pytest.raises(BadRequestData):
        RoadNetwork.from_segments(bad).route(ll(0, 0), ll(300, 0))


def test_multilinestring_parts_are_roads() -> None:
    two_parts = {
        "id": "urn:ngsi-ld:RoadSegment:m",
        "location": {
            "type": "MultiLineString",
            "coordinates": [
                line((0, 0), (100, 0))["coordinates"],
                line((100, 0), (100, 100))["coordinates"],
            ],
        },
    }
    route = RoadNetwork.from_segments([two_parts]).route(ll(0, 0), ll(100, 100))
    assert route is not None
    assert route.length_m == pytest.approx(200.0, abs=0.2)
    assert ids(route) == ["urn:ngsi-ld:RoadSegment:m"]


def test_bad_positions_are_rejected(streets: RoadNetwork) -> None:
    with pytest.raises(BadRequestData):
        streets.route((math.nan, LAT0), ll(0, 0))
    with pytest.raises(BadRequestData):
        streets.route(ll(0, 0), (LAT0, 200.0))
