"""The demo city: a compact Korean district on Gwacheon's scale, generated deterministically.

:func:`generate` makes every entity of the demo city as NGSI-LD (normalized form, core
@context) from a seed: the same seed gives the same city, to the coordinate. The districts are
the dashboard's base map (cityhub/web/static/districts.geojson); everything else is placed
inside them:

========================  =====  =============================================================
type                      count  notes
========================  =====  =============================================================
District                      6  the base map's districts
RoadSegment                ~770  a street grid (about 330 m apart), widths 3–12 m, for 119 routes
FireStation / PoliceBox     2/4
OffStreetParking             40  public lots with capacity and free spaces
OnStreetParking / spots  30/600  on-street sites and their ParkingSpot sensors
AirQualityObserved           30  stations with all six CAI pollutants
CCTVCamera                  300  headings, 90° field of view, stream URLs
FireHydrant                 400
Facility                     50  retaining walls, bridges, old buildings, with a sensor each
CareHousehold               200  elderly-alone households (a code, no names) with a motion sensor
CrosswalkObserved            45
EnforcementZone              20  hydrant, bus-stop and crosswalk zones
FloodMonitoring               1  a river level gauge on 양재천 by one lot, marked ``riverside``
GtfsRoute / Device          4/16  bus routes past six enforcement zones each, four buses a
                                  route with an enforcement camera (``demo-bus-1a`` ...)
ElectricalPanel              40  distribution panels (분전반) with an electrical-fire sensor:
                                  two traditional markets (a main panel and eleven stalls'
                                  each) and sixteen old houses
========================  =====  =============================================================

Coordinates are made up (plausible, not surveyed); nothing here describes real people.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from importlib import resources
from typing import Any

from shapely.geometry import Point, shape
from shapely.ops import unary_union

COUNTS = {
    "OffStreetParking": 40,
    "OnStreetParking": 30,
    "ParkingSpot": 600,
    "AirQualityObserved": 30,
    "CCTVCamera": 300,
    "FireHydrant": 400,
    "Facility": 50,
    "CareHousehold": 200,
    "CrosswalkObserved": 45,
    "EnforcementZone": 20,
    "FloodMonitoring": 1,
    "ElectricalPanel": 40,
}
_GRID_DEG = 0.003  # street spacing: about 330 m north-south, 265 m east-west
_STREETS = ["중앙로", "별양로", "관문로", "과천대로", "문원로", "갈현로", "부림로", "새술막길"]


def _prop(value: Any, **more: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value} | more


def _geo(geometry: dict[str, Any]) -> dict[str, Any]:
    return {"type": "GeoProperty", "value": geometry}


def _rel(target: str) -> dict[str, Any]:
    return {"type": "Relationship", "object": target}


def _point(lon: float, lat: float) -> dict[str, Any]:
    return _geo({"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]})


def districts() -> dict[str, Any]:
    """The base map's districts (GeoJSON FeatureCollection)."""
    raw = resources.files("cityhub.web").joinpath("static/districts.geojson").read_text("utf-8")
    found: dict[str, Any] = json.loads(raw)
    return found


class _Places:
    """Random points inside the city (and inside a given district)."""

    def __init__(self, rng: random.Random, features: list[dict[str, Any]]) -> None:
        self.rng = rng
        self.shapes = {f["id"]: shape(f["geometry"]) for f in features}
        self.city = unary_union(list(self.shapes.values()))
        self.bounds = self.city.bounds

    def point(self) -> tuple[float, float, str]:
        """A point inside the city and the district it is in."""
        w, s, e, n = self.bounds
        while True:
            lon, lat = self.rng.uniform(w, e), self.rng.uniform(s, n)
            p = Point(lon, lat)
            for did, area in self.shapes.items():
                if area.contains(p):
                    return lon, lat, did

    def near(self, lon: float, lat: float, metres: float) -> tuple[float, float]:
        """A point within ``metres`` of (lon, lat)."""
        d = metres * math.sqrt(self.rng.random())
        a = self.rng.random() * 2 * math.pi
        return (
            lon + d * math.sin(a) / (111_320 * math.cos(math.radians(lat))),
            lat + d * math.cos(a) / 111_320,
        )


def _id(kind: str, n: int | str) -> str:
    return f"urn:ngsi-ld:{kind}:demo-{n}"


def generate(seed: int = 2026) -> list[dict[str, Any]]:
    """Every entity of the demo city, in an order that can be written as it comes."""
    rng = random.Random(seed)
    base = districts()
    places = _Places(rng, base["features"])
    out: list[dict[str, Any]] = []
    for f in base["features"]:
        out.append(
            {
                "id": _id("District", f["id"]),
                "type": "District",
                "name": _prop(f["properties"]["name"]),
                "alternateName": _prop(f["properties"].get("nameEn", f["id"])),
                "location": _geo(f["geometry"]),
            }
        )
    out.extend(_roads(places))
    out.extend(_stations(places))
    out.extend(_parking(rng, places))
    out.extend(_air(rng, places))
    out.extend(_cameras(rng, places))
    out.extend(_hydrants(rng, places))
    out.extend(_facilities(rng, places))
    out.extend(_households(rng, places))
    out.extend(_crosswalks(rng, places))
    # later additions draw from their own generator, so the entities above stay where they are
    out.extend(_river(random.Random(seed * 7919 + 1), base["features"], out))
    out.extend(_bus_routes(random.Random(seed * 7919 + 2), out))
    out.extend(_panels(random.Random(seed * 7919 + 3), base["features"]))
    return out


def _roads(places: _Places) -> Iterator[dict[str, Any]]:
    """A street grid clipped to the city: one RoadSegment per block side."""
    w, s, e, n = places.bounds
    rng, count = places.rng, 0
    cols = int((e - w) / _GRID_DEG) + 1
    rows = int((n - s) / _GRID_DEG) + 1
    for i in range(cols + 1):
        for j in range(rows + 1):
            lon, lat = w + i * _GRID_DEG, s + j * _GRID_DEG
            for dlon, dlat in ((_GRID_DEG, 0.0), (0.0, _GRID_DEG)):
                a, b = Point(lon, lat), Point(lon + dlon, lat + dlat)
                if not (places.city.contains(a) and places.city.contains(b)):
                    continue
                count += 1
                name = _STREETS[(i if dlat else j) % len(_STREETS)]
                yield {
                    "id": _id("RoadSegment", count),
                    "type": "RoadSegment",
                    "name": _prop(name),
                    "width": _prop(
                        rng.choice([3.0, 4.5, 6.0, 6.0, 8.0, 10.0, 12.0]), unitCode="MTR"
                    ),
                    "location": _geo(
                        {
                            "type": "LineString",
                            "coordinates": [
                                [round(lon, 6), round(lat, 6)],
                                [round(lon + dlon, 6), round(lat + dlat, 6)],
                            ],
                        }
                    ),
                }


def _stations(places: _Places) -> Iterator[dict[str, Any]]:
    for n, name in enumerate(("과천소방서", "별양119안전센터")):
        lon, lat, did = places.point()
        yield {
            "id": _id("FireStation", n + 1),
            "type": "FireStation",
            "name": _prop(name),
            "refDistrict": _rel(_id("District", did)),
            "location": _point(lon, lat),
        }
    for n in range(4):
        lon, lat, did = places.point()
        yield {
            "id": _id("PoliceBox", n + 1),
            "type": "PoliceBox",
            "name": _prop(f"과천 치안센터 {n + 1}"),
            "location": _point(lon, lat),
        }


def _parking(rng: random.Random, places: _Places) -> Iterator[dict[str, Any]]:
    for n in range(COUNTS["OffStreetParking"]):
        lon, lat, did = places.point()
        total = rng.choice([30, 50, 80, 120, 200, 300])
        free = rng.randrange(0, total + 1)
        yield {
            "id": _id("OffStreetParking", n + 1),
            "type": "OffStreetParking",
            "name": _prop(f"과천 공영주차장 {n + 1}"),
            "totalSpotNumber": _prop(total),
            "availableSpotNumber": _prop(free),
            "occupiedSpotNumber": _prop(total - free),
            "areaServed": _prop(did),
            "location": _point(lon, lat),
        }
    per_site = COUNTS["ParkingSpot"] // COUNTS["OnStreetParking"]
    for n in range(COUNTS["OnStreetParking"]):
        lon, lat, did = places.point()
        site = _id("OnStreetParking", n + 1)
        spots: list[dict[str, Any]] = []
        free = 0
        for k in range(per_site):
            slon, slat = lon + k * 0.00006, lat
            status = "occupied" if rng.random() < 0.6 else "free"
            free += status == "free"
            spots.append(
                {
                    "id": _id("ParkingSpot", f"{n + 1}-{k + 1}"),
                    "type": "ParkingSpot",
                    "status": _prop(status),
                    "category": _prop(["onStreet"]),
                    "refParkingSite": _rel(site),
                    "location": _point(slon, slat),
                }
            )
        yield {
            "id": site,
            "type": "OnStreetParking",
            "name": _prop(f"노상주차장 {n + 1}"),
            "totalSpotNumber": _prop(per_site),
            "availableSpotNumber": _prop(free),
            "areaServed": _prop(did),
            "location": _point(lon, lat),
        }
        yield from spots


def _air(rng: random.Random, places: _Places) -> Iterator[dict[str, Any]]:
    for n in range(COUNTS["AirQualityObserved"]):
        lon, lat, did = places.point()
        yield {
            "id": _id("AirQualityObserved", n + 1),
            "type": "AirQualityObserved",
            "name": _prop(f"대기측정소 {n + 1}"),
            "pm10": _prop(round(rng.uniform(15, 70), 1), unitCode="GQ"),
            "pm25": _prop(round(rng.uniform(5, 35), 1), unitCode="GQ"),
            "o3": _prop(round(rng.uniform(20, 80), 1), unitCode="GQ"),
            "no2": _prop(round(rng.uniform(10, 60), 1), unitCode="GQ"),
            "co": _prop(round(rng.uniform(0.2, 1.0), 2), unitCode="GP"),
            "so2": _prop(round(rng.uniform(2, 10), 1), unitCode="GQ"),
            "refDistrict": _rel(_id("District", did)),
            "location": _point(lon, lat),
        }


def _cameras(rng: random.Random, places: _Places) -> Iterator[dict[str, Any]]:
    for n in range(COUNTS["CCTVCamera"]):
        lon, lat, _ = places.point()
        yield {
            "id": _id("CCTVCamera", n + 1),
            "type": "CCTVCamera",
            "name": _prop(f"과천 CCTV {n + 1:03d}"),
            "heading": _prop(rng.randrange(0, 360)),
            "fieldOfView": _prop(90),
            "ptzCapable": _prop(rng.random() < 0.3),
            "purpose": _prop(
                rng.choice(["crimePrevention", "traffic", "illegalParking", "disaster"])
            ),
            "status": _prop("inService"),
            "streamUrl": _prop(f"rtsp://vms.demo.cityhub.invalid/live/{n + 1:03d}"),
            "location": _point(lon, lat),
        }


def _hydrants(rng: random.Random, places: _Places) -> Iterator[dict[str, Any]]:
    for n in range(COUNTS["FireHydrant"]):
        lon, lat, _ = places.point()
        yield {
            "id": _id("FireHydrant", n + 1),
            "type": "FireHydrant",
            "status": _prop("inService" if rng.random() > 0.02 else "outOfService"),
            "hydrantType": _prop(rng.choice(["aboveGround", "underground"])),
            "noParkingRadius": _prop(5),
            "location": _point(lon, lat),
        }


def _facilities(rng: random.Random, places: _Places) -> Iterator[dict[str, Any]]:
    kinds = ["retainingWall", "bridge", "building"]
    for n in range(COUNTS["Facility"]):
        lon, lat, did = places.point()
        fid = _id("Facility", n + 1)
        yield {
            "id": fid,
            "type": "Facility",
            "name": _prop(f"노후 시설물 {n + 1}"),
            "structureType": _prop(kinds[n % len(kinds)]),
            "yearBuilt": _prop(rng.randrange(1975, 2000)),
            "areaServed": _prop(did),
            "location": _point(lon, lat),
        }
        slon, slat = places.near(lon, lat, 10)
        yield {
            "id": _id("StructuralHealthObserved", n + 1),
            "type": "StructuralHealthObserved",
            "tilt": _prop(round(rng.uniform(0.0, 0.04), 3)),
            "crackWidth": _prop(round(rng.uniform(0.0, 0.08), 3)),
            "vibrationVelocity": _prop(round(rng.uniform(0.1, 1.0), 2)),
            "refStructure": _rel(fid),
            "location": _point(slon, slat),
        }


def _households(rng: random.Random, places: _Places) -> Iterator[dict[str, Any]]:
    for n in range(COUNTS["CareHousehold"]):
        lon, lat, did = places.point()
        hid = _id("CareHousehold", n + 1)
        yield {
            "id": hid,
            "type": "CareHousehold",
            "householdCode": _prop(f"GC-{n + 1:04d}"),
            "inactivityHours": _prop(12),
            "areaServed": _prop(did),
            "location": _point(lon, lat),
        }
        yield {
            "id": _id("Device", f"motion-{n + 1}"),
            "type": "Device",
            "category": _prop(["sensor"]),
            "controlledProperty": _prop(["motion"]),
            "controlledAsset": _rel(hid),
            "location": _point(lon, lat),
        }


def _crosswalks(rng: random.Random, places: _Places) -> Iterator[dict[str, Any]]:
    for n in range(COUNTS["CrosswalkObserved"]):
        lon, lat, did = places.point()
        yield {
            "id": _id("CrosswalkObserved", n + 1),
            "type": "CrosswalkObserved",
            "name": _prop(f"스마트 횡단보도 {n + 1}"),
            "signalControlled": _prop(True),
            "areaServed": _prop(did),
            "location": _point(lon, lat),
        }
    hydrant_like = ("hydrant", "busStop", "crosswalk")
    for n in range(COUNTS["EnforcementZone"]):
        lon, lat, did = places.point()
        category = hydrant_like[n % 3] if n < 12 else "normal"
        yield {
            "id": _id("EnforcementZone", n + 1),
            "type": "EnforcementZone",
            "name": _prop(f"단속구역 {n + 1}"),
            "category": _prop(category if category != "normal" else "general"),
            "zoneType": _prop("immediate" if category != "normal" else "normal"),
            "radius": _prop(5 if category == "hydrant" else 10 if n < 12 else 60),
            "areaServed": _prop(did),
            "location": _point(lon, lat),
        }


def _river(
    rng: random.Random, features: list[dict[str, Any]], city: list[dict[str, Any]]
) -> Iterator[dict[str, Any]]:
    """A river level gauge on 양재천, next to one public lot that becomes a riverside lot
    (``riverside``: the lot drivers must leave when the river rises)."""
    places = _Places(rng, features)
    lots = [e for e in city if e["type"] == "OffStreetParking"]
    lot = lots[rng.randrange(len(lots))]
    lot["name"] = _prop("양재천 둔치 공영주차장")
    lot["riverside"] = _prop(True)
    lon, lat = lot["location"]["value"]["coordinates"]
    while True:
        glon, glat = places.near(lon, lat, 120)
        if places.city.contains(Point(glon, glat)):
            break
    yield {
        "id": _id("FloodMonitoring", 1),
        "type": "FloodMonitoring",
        "name": _prop("양재천 수위계 1"),
        "currentLevel": _prop(round(rng.uniform(0.6, 1.2), 2), unitCode="MTR"),
        "referenceLevel": _prop(6.0, unitCode="MTR"),
        "alertLevel": _prop(3.5, unitCode="MTR"),
        "dangerLevel": _prop(4.5, unitCode="MTR"),
        "location": _point(glon, glat),
    }


BUS_ROUTES, BUSES_PER_ROUTE, ZONES_PER_ROUTE = 4, 4, 6


def _bus_routes(rng: random.Random, city: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Bus routes, each past six enforcement zones (west to east), and the enforcement camera
    on each of its buses (a ``Device``; the simulator sends their plate sightings)."""
    zones = [e for e in city if e["type"] == "EnforcementZone"]
    for r in range(1, BUS_ROUTES + 1):
        stops = sorted(
            rng.sample(zones, min(ZONES_PER_ROUTE, len(zones))),
            key=lambda z: z["location"]["value"]["coordinates"][0],
        )
        route = _id("GtfsRoute", f"bus-{r}")
        yield {
            "id": route,
            "type": "GtfsRoute",
            "shortName": _prop(f"과천{r:02d}"),
            "name": _prop(f"과천 마을버스 {r}번"),
            "routeType": _prop("3"),
            "refEnforcementZone": {"type": "Relationship", "object": [z["id"] for z in stops]},
            "location": {
                "type": "GeoProperty",
                "value": {
                    "type": "LineString",
                    "coordinates": [z["location"]["value"]["coordinates"] for z in stops],
                },
            },
        }
        for bus in "abcd"[:BUSES_PER_ROUTE]:
            yield {
                "id": _id("Device", f"bus-{r}{bus}"),
                "type": "Device",
                "name": _prop(f"과천{r:02d} 버스 {bus}호차 단속 카메라"),
                "category": _prop(["sensor"]),
                "deviceState": _prop("on"),
                "controlledAsset": {"type": "Relationship", "object": route},
                "location": stops[0]["location"],  # where the bus starts its runs
            }


#: the demo's traditional markets: the district each is in, and its name
MARKETS = (("jungang", "과천중앙시장"), ("munwon", "문원골목시장"))
_STALLS = 11  # stalls with a panel of their own in each market, beside the market's main panel

_Site = tuple[float, float, str, str]  # lon, lat, district, street address


def _panels(rng: random.Random, features: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Distribution panels (분전반) watched by electrical-fire sensors: each market's main
    panel and its stalls' sub panels, a few metres apart, then the panels of old houses. Their
    readings are a quiet moment's; the simulator sends the live ones."""
    places = _Places(rng, features)
    names = {f["id"]: f["properties"]["name"] for f in features}
    found: list[dict[str, Any]] = []

    def panel(name: str, building: str, kind: str, rated: int, site: _Site) -> None:
        lon, lat, did, street = site
        # a market's main panel carries the leakage of every stall behind it
        leaks = (8.0, 15.0) if kind == "main" and building == "traditionalMarket" else (0.5, 4.0)
        found.append(
            {
                "id": _id("ElectricalPanel", len(found) + 1),
                "type": "ElectricalPanel",
                "name": _prop(name),
                "buildingType": _prop(building),
                "panelType": _prop(kind),
                "ratedCurrent": _prop(rated, unitCode="AMP"),
                "leakageCurrent": _prop(round(rng.uniform(*leaks), 1), unitCode="4K"),
                "temperature": _prop(round(rng.uniform(22.0, 28.0), 1), unitCode="CEL"),
                "arcEvents": _prop(0),
                "areaServed": _prop(did),
                "address": _prop(
                    {
                        "streetAddress": street,
                        "addressLocality": "과천시",
                        "addressRegion": "경기도",
                        "district": names[did],
                        "addressCountry": "KR",
                    }
                ),
                "location": _point(lon, lat),
            }
        )

    def street() -> str:
        return f"{rng.choice(_STREETS)} {rng.randrange(1, 120)}"

    for district, market in MARKETS:
        while True:  # the market is in its own district
            lon, lat, did = places.point()
            if did == district:
                break
        at = street()
        panel(f"{market} 인입 분전반", "traditionalMarket", "main", 200, (lon, lat, did, at))
        for k in range(_STALLS):
            while True:
                slon, slat = places.near(lon, lat, 40)
                if places.city.contains(Point(slon, slat)):
                    break
            stall = f"{'ABC'[k % 3]}동 {k // 3 * 4 + rng.randrange(1, 5)}호"  # A동 1-4호, 5-8호...
            panel(f"{market} {stall} 분전반", "traditionalMarket", "sub", 30, (slon, slat, did, at))
    for k in range(COUNTS["ElectricalPanel"] - len(found)):
        lon, lat, did = places.point()
        rated = rng.choice([30, 40, 50])
        site = (lon, lat, did, street())
        panel(f"{names[did]} 노후주택 {k + 1} 분전반", "house", "main", rated, site)
    return iter(found)
