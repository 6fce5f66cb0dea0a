"""``cityhub scenario fire``: a building fire, from a car blocking a hydrant to the engine on
the scene.

The scenario picks, in the demo city, a building whose fire-engine route (from the nearest
station by road, over the city's ``RoadSegment`` network, as the hub plans it) passes a
hydrant. Then, through the public interfaces only:

1. a bus-mounted enforcement camera sees a car parked by that hydrant (a sighting): the hub
   makes it a ``ParkingViolation``;
2. the 119 center files a ``119-dispatch`` linked-service request for the burning building
   (cityhub/sim/agencies.py :class:`Agency`): the answer has the event, the nearest cameras
   shared with 119, and the route with the hydrants and the illegally parked car along it;
3. the event's ``119-dispatch`` SOP runs (cameras, 119 told, the duty officer's SMS);
4. the car is towed (a tow truck's camera sees it elsewhere: the violation is cleared);
5. the engine reaches the scene: 119 reports the arrival, which the event records.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import httpx
from shapely.geometry import LineString, Point

from cityhub.ops.roads import RoadNetwork, along, nearest_by_route
from cityhub.sim.agencies import Agency, case_number
from cityhub.sim.scenario_base import (
    DemoCity,
    Flow,
    HubApi,
    ScenarioError,
    follow_sop,
    inbox_message,
    metres,
    offset,
    point,
    value,
)
from cityhub.sim.scenario_parking import bus_camera, car_leaves, plate, sight, violation_state

_HYDRANT_ROUTE_M = 10.0  # a hydrant this close to the route has room for a car beside it
_CAR_FROM_HYDRANT_M = 1.5


def _plain(e: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": e["id"],
        "name": value(e, "name"),
        "location": value(e, "location"),
        "width": value(e, "width"),
    }


def plan(city: DemoCity) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], list[float]]:
    """The burning building, its responding station, a hydrant by the route, and the route's
    line (the same plan the hub makes for a 119 request there)."""
    network = RoadNetwork.from_segments(_plain(e) for e in city.of("RoadSegment"))
    stations = [_plain(e) for e in city.of("FireStation")]
    hydrants = [_plain(e) for e in city.of("FireHydrant")]
    for building in city.of("Facility"):
        if value(building, "structureType") != "building":
            continue
        best = nearest_by_route(network, stations, point(building), limit=3)
        if not best:
            continue
        station, route = best[0]
        near = along(route, hydrants, _HYDRANT_ROUTE_M)
        if near:
            line = [c for xy in route.geometry["coordinates"] for c in xy]
            return building, station, city.by_id[near[0]["id"]], line
    raise ScenarioError(
        f"no building of the demo city (seed {city.seed}) has a hydrant on its route"
    )


def car_spot(hydrant: dict[str, Any], line: list[float]) -> tuple[float, float]:
    """A place right beside the hydrant, on the side of the route."""
    lon0, lat0 = point(hydrant)
    coords = [(line[i], line[i + 1]) for i in range(0, len(line), 2)]
    # metres east and north of the hydrant: a plane is fine at this scale
    xy = [
        (metres((lon0, lat0), (lon, lat0)) * (1 if lon >= lon0 else -1),
         metres((lon0, lat0), (lon0, lat)) * (1 if lat >= lat0 else -1))
        for lon, lat in coords
    ]  # fmt: skip
    road = LineString(xy)
    nearest = road.interpolate(road.project(Point(0.0, 0.0)))
    distance = max(Point(0.0, 0.0).distance(nearest), 1e-6)
    step = min(_CAR_FROM_HYDRANT_M, distance) / distance
    return offset(lon0, lat0, nearest.x * step, nearest.y * step)


async def run(
    hub: HubApi, flow: Flow, city: DemoCity, rng: random.Random, client: httpx.AsyncClient
) -> None:
    """The fire scenario."""
    building, station, hydrant, line = plan(city)
    await city.check(hub, [building["id"], station["id"], hydrant["id"]])
    scene = point(building)
    car = plate(rng)
    spot = car_spot(hydrant, line)
    flow.say(
        f"{car} parks by hydrant {hydrant['id']}, on the way from {station['name']} "
        f"to {value(building, 'name')}"
    )
    camera = bus_camera(rng)
    seen = await sight(hub, car, datetime.now(UTC), spot, camera)
    violation_id = seen.get("violationId")
    if seen.get("outcome") not in ("violation", "standing") or not violation_id:
        raise ScenarioError(f"the car by the hydrant made no violation: {seen}")
    await violation_state(flow, hub, violation_id, "confirmed")
    flow.saw(f"bus camera {camera}: {seen['outcome']} {violation_id} (fine ₩{seen['fine']:,})")

    agency = Agency(hub.url, "119-dispatch", hub.credential, hub.tenant)
    place = f"{value(building, 'name')} (과천시)"
    flow.say(f"119 종합상황실 files a 119-dispatch request: 건물 화재, {place}")
    r = await agency.request(
        client,
        scene[0],
        scene[1],
        place=place,
        description="건물 화재 신고: 3층에서 연기",
        reference=case_number(),
        agency="fire119",
    )
    if r.status_code not in (200, 201):
        raise ScenarioError(f"the 119 request was refused: HTTP {r.status_code}: {r.text[:300]}")
    answer = r.json()
    event_id = answer["eventId"]
    flow.saw(f"119 request {answer['id']}: event {event_id} ({answer['event']['eventCode']})")
    cameras, grants = answer.get("cameras") or [], answer.get("grants") or []
    if not cameras or len(grants) != len(cameras):
        raise ScenarioError(f"the request shared no cameras with 119: {len(cameras)} cameras")
    flow.saw(
        f"{len(cameras)} cameras shared with fire119 (nearest {cameras[0]['distance']:.0f} m) "
        f"until {grants[0]['expiresAt']}"
    )
    _check_route(flow, answer.get("route") or {}, hydrant["id"], violation_id)
    await follow_sop(flow, hub, event_id, "119-dispatch")
    await inbox_message(flow, hub, "fire119", event_id)
    flow.say("the center has the car towed")
    tow_yard = offset(*spot, -400.0, 300.0)
    await car_leaves(flow, hub, car, tow_yard, violation_id, "tow-truck-01")
    flow.say("the first engine reaches the building; 119 reports the arrival")
    arrived = await agency.arrived(client, answer["id"])
    if arrived.status_code != 200:
        raise ScenarioError(f"the arrival was refused: HTTP {arrived.status_code}: {arrived.text}")
    event = await hub.event(event_id)
    if not event.get("arrivedAt"):
        raise ScenarioError(f"event {event_id} has no arrivedAt after the arrival was reported")
    flow.saw(f"event {event_id}: the unit arrived at {event['arrivedAt']}")


def _check_route(flow: Flow, route: dict[str, Any], hydrant_id: str, violation_id: str) -> None:
    if "error" in route or not route:
        raise ScenarioError(f"the 119 answer has no route: {route.get('error', 'none')}")
    flow.saw(
        f"route from {route['station']['name']}: {route['lengthM']:.0f} m, "
        f"ETA {route['etaS']} s, {len(route['segments'])} segments, "
        f"{len(route['narrow'])} narrow"
    )
    hydrants = route.get("hydrants") or []
    parked = route.get("illegallyParked") or []
    if hydrant_id not in {h["id"] for h in hydrants}:
        raise ScenarioError(f"the 119 route does not list hydrant {hydrant_id} along it")
    flow.saw(f"{len(hydrants)} hydrants along the route, {hydrant_id} among them")
    car = next((p for p in parked if p["id"] == violation_id), None)
    if car is None:
        raise ScenarioError(
            f"the 119 route does not list the illegally parked car {violation_id} "
            f"(it lists {len(parked)})"
        )
    flow.saw(
        f"illegally parked on the way: {violation_id}, {car['offset']:.0f} m from the station, "
        f"{car['distance']:.0f} m off the route"
    )
