"""The demo city's live data as a deterministic stream of device messages.

:class:`CityStream` walks a simulated clock minute by minute from ``start`` and yields what the
demo city's sensors (:mod:`cityhub.sim.devices`) and bus cameras send, in the order they send
it: the same seed and start always give the same messages, whatever the speed they are sent at
(:mod:`cityhub.sim.sender` only decides *when* each goes out).

What the sensors do (the curves are in :mod:`cityhub.sim.patterns`):

- **parking spots** flip between ``free`` and ``occupied`` (a stay lasts 90 minutes on
  average, arrivals follow the site's daily occupancy curve: business sites fill with the
  weekday commute, residential streets at night) and report each change;
- **off-street lots** report free and occupied spaces every 10 minutes;
- **air stations** report PM10, PM2.5, O3, NO2, CO and SO2 every 10 minutes: the station's
  level times a diurnal cycle, plus a regional fine-dust episode on about four days in five;
- **structural sensors** report tilt, crack width and vibration every 30 minutes;
- **care households' motion sensors** report motion while the person is up (most in the
  morning and the evening, none during an outing, rarely at night) and the indoor
  temperature every hour;
- **smart crosswalks** report the vehicles, pedestrians and stop-line violations of each
  15 minutes (stamped with the start of the interval);
- the **flood gauge** reports the river level every 10 minutes;
- **electrical-fire sensors** on distribution panels report leakage current, temperature and
  arc events every 30 minutes (leakage and warmth follow the load: a market's opening hours, a
  house's evening); now and then a panel develops a **fault** over a few hours — leakage through
  damp wiring, a terminal heating up — that reaches the electrical service's caution grade, one
  in eight its danger grade, and its sensor reports every 5 minutes while it lasts;
- **buses** on four routes pass the enforcement zones every 15 minutes from 05:30 to 23:00 and
  their cameras sight the plates of the cars parked there (sent to the enforcement service);
- every sensor has Gaussian noise, and now and then one goes **silent** for 30 minutes to
  4 hours (a dropout), reporting again afterwards.

The simulated clock shapes the *values*; the messages carry no time of their own. The sender
stamps each with the real time it goes out (:mod:`cityhub.sim.sender` explains why).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cityhub.sim import patterns
from cityhub.sim.city import generate
from cityhub.sim.devices import KINDS, Device, devices_of

TICK = timedelta(minutes=1)
SIGHTINGS = "sightings"
#: minutes between two reports of the sensors that report on a schedule
EVERY = {"lot": 10, "air": 10, "structure": 30, "gauge": 10, "crosswalk": 15, "panel": 30}
ALARMED_EVERY = 5  # minutes between two reports of a panel's sensor while a fault lasts
#: kinds of sensor added to the demo city later: they draw from a generator of their own, so
#: the messages of the others stay what they were
_LATER = frozenset({"panel"})
DROPOUT_PER_HOUR = 0.01  # chance that a sensor goes silent, each hour
_STAY_MIN = 90.0  # mean stay of a car in a spot
_BUS_EVERY = 15  # minutes between two buses of a route
_BUS_HOURS = (5.5, 23.0)
_HANGUL = "가나다라마거너더러머버서어저고노도로모보소오조구누두루무부수우주"


def iso(moment: datetime) -> str:
    """UTC, to the second, with Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Message:
    """One message a sensor or a bus camera sends at simulated time ``at``."""

    at: datetime
    kind: str  # a kind of sensor (cityhub.sim.devices.KINDS), or "sightings"
    device_id: str  # the device; for sightings, the bus camera
    body: Any  # IoT Agent JSON measures, or a list of sightings (plate, location, camera)
    span: timedelta = timedelta(0)  # counts of an interval: how long it was (simulated)

    @property
    def apikey(self) -> str:
        """The API key the device sends with ("" for sightings)."""
        kind = KINDS.get(self.kind)
        return kind.apikey if kind is not None else ""

    def json(self) -> dict[str, Any]:
        """The message as a JSON object (for ``cityhub simulate --dry-run`` and the tests)."""
        found = {"at": iso(self.at), "kind": self.kind, "device": self.device_id, "body": self.body}
        if self.span:
            found["span"] = int(self.span.total_seconds())
        return found


@dataclass(slots=True)
class _Sensor:
    device: Device
    entity: dict[str, Any]
    phase: int  # minute of its reporting period it reports at
    rng: random.Random
    silent_until: datetime | None = None
    state: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _Car:
    plate: str
    lon: float
    lat: float
    leaves: datetime


@dataclass(frozen=True, slots=True)
class _Zone:
    id: str
    lon: float
    lat: float
    radius: float


def _value(entity: dict[str, Any], name: str, default: Any = None) -> Any:
    attr = entity.get(name)
    return attr.get("value", default) if isinstance(attr, dict) else default


def _zone(entity: dict[str, Any]) -> _Zone:
    lon, lat = entity["location"]["value"]["coordinates"][:2]
    return _Zone(entity["id"], float(lon), float(lat), float(_value(entity, "radius", 10)))


def _jitter(rng: random.Random, lon: float, lat: float, metres: float) -> tuple[float, float]:
    d, a = metres * math.sqrt(rng.random()), rng.random() * 2 * math.pi
    return (
        lon + d * math.sin(a) / (111_320 * math.cos(math.radians(lat))),
        lat + d * math.cos(a) / 111_320,
    )


def _objects(rel: Any) -> list[str]:
    obj = rel.get("object") if isinstance(rel, dict) else None
    return [o for o in (obj if isinstance(obj, list) else [obj]) if isinstance(o, str)]


class CityStream:
    """The messages of the demo city of ``seed`` from ``start`` on (see the module header)."""

    def __init__(self, seed: int, start: datetime, city: list[dict[str, Any]] | None = None):
        if start.tzinfo is None:
            raise ValueError("the start of the simulated clock needs a time zone")
        self.seed = seed
        self.start = start.astimezone(UTC).replace(second=0, microsecond=0)
        self.clock = self.start
        self.rng = random.Random(f"cityhub-demo-stream:{seed}")
        later = random.Random(f"cityhub-demo-stream:{seed}:later")
        city = generate(seed) if city is None else city
        by_id = {e["id"]: e for e in city}
        self.sensors: list[_Sensor] = []
        for d in devices_of(city):
            rng = later if d.kind in _LATER else self.rng
            phase = rng.randrange(EVERY.get(d.kind, 60))
            self.sensors.append(_Sensor(d, by_id[d.entity_id], phase, rng))
        self._residential: dict[str, bool] = {}  # parking site → residential street?
        for s in self.sensors:
            self._set_up(s)
        self.zones = [_zone(e) for e in city if e["type"] == "EnforcementZone"]
        zone_of = {z.id: z for z in self.zones}
        self.routes = [  # the city's bus routes, each past its enforcement zones in order
            [zone_of[z] for z in _objects(e.get("refEnforcementZone")) if z in zone_of]
            for e in sorted((e for e in city if e["type"] == "GtfsRoute"), key=lambda e: e["id"])
        ]
        self.cars: dict[str, list[_Car]] = {z.id: [] for z in self.zones}

    # --- set-up ---------------------------------------------------------------------------

    def _set_up(self, s: _Sensor) -> None:
        rng, e, kind = s.rng, s.entity, s.device.kind
        if kind == "spot":
            site = e["refParkingSite"]["object"]
            residential = self._residential.setdefault(site, rng.random() < 0.3)
            share = patterns.occupancy(self.start, residential)
            s.state = {
                "site": site,
                "occupied": rng.random() < share,
                "first": rng.randrange(30),  # minutes until its first report
            }
        elif kind == "lot":
            s.state = {
                "total": int(_value(e, "totalSpotNumber", 100)),
                "residential": rng.random() < 0.2,
                "bias": rng.gauss(0, 0.05),
            }
        elif kind == "air":
            s.state = {
                name: float(_value(e, name, default))
                for name, default in (
                    ("pm10", 40.0),
                    ("pm25", 20.0),
                    ("o3", 50.0),
                    ("no2", 30.0),
                    ("co", 0.5),
                    ("so2", 5.0),
                )
            }
            s.state["episode"] = rng.uniform(0.85, 1.15)  # how hard the episode hits here
        elif kind == "structure":
            s.state = {
                "tilt": float(_value(e, "tilt", 0.01)),
                "crack": float(_value(e, "crackWidth", 0.05)),
                "vibration": float(_value(e, "vibrationVelocity", 0.5)),
            }
        elif kind == "motion":
            s.state = {"routine": patterns.routine(rng), "indoor": rng.uniform(19.0, 24.0)}
        elif kind == "crosswalk":
            s.state = {
                "vehicles": rng.uniform(60, 220),
                "pedestrians": rng.uniform(20, 160),
                "violations": rng.uniform(0.01, 0.05),
            }
        elif kind == "gauge":
            s.state = {"level": float(_value(e, "currentLevel", 1.0))}
        elif kind == "panel":
            market = _value(e, "buildingType") == "traditionalMarket"
            s.state = {
                "load": patterns.MARKET_LOAD if market else patterns.HOUSE_LOAD,
                "leakage": float(_value(e, "leakageCurrent", 2.0)),  # at rest
                "ambient": float(_value(e, "temperature", 25.0)),
                "warming": rng.uniform(8.0, 15.0),  # °C at full load
            }

    # --- the stream -----------------------------------------------------------------------

    def messages(self, until: datetime | None = None) -> Iterator[Message]:
        """The messages from the current simulated time on (before ``until``), minute by
        minute; the clock advances as they are taken."""
        while until is None or self.clock < until:
            yield from self.tick()

    def tick(self) -> list[Message]:
        """The messages of the current simulated minute; the clock moves on by one."""
        now, out = self.clock, []
        minute = int((now - self.start) / TICK)
        shares = {
            site: patterns.occupancy(now, residential)
            for site, residential in self._residential.items()
        }
        for s in self.sensors:
            if s.silent_until is not None:
                if now < s.silent_until:
                    self._evolve(s, now, shares)
                    continue
                s.silent_until = None
                s.state["back"] = True  # report at once: the gateway is online again
            elif s.rng.random() < DROPOUT_PER_HOUR / 60:
                s.silent_until = now + timedelta(minutes=s.rng.randrange(30, 240))
                continue
            body = self._measure(s, now, minute, shares)
            if body is not None:
                span = (
                    timedelta(minutes=EVERY["crosswalk"]) if s.device.kind == "crosswalk" else None
                )
                out.append(
                    Message(now, s.device.kind, s.device.device_id, body, span or timedelta(0))
                )
        out += self._buses(now, minute)
        self.clock = now + TICK
        return out

    def _evolve(self, s: _Sensor, now: datetime, shares: dict[str, float]) -> None:
        """A silent spot still sees cars come and go."""
        if s.device.kind == "spot":
            self._flip(s, shares[s.state["site"]])

    def _flip(self, s: _Sensor, share: float) -> bool:
        """Move a spot on by one minute; whether its status changed."""
        leave = 1 / _STAY_MIN
        if s.state["occupied"]:
            changed = self.rng.random() < leave
        else:
            share = min(share, 0.97)
            changed = self.rng.random() < leave * share / (1 - share)
        if changed:
            s.state["occupied"] = not s.state["occupied"]
        return changed

    def _measure(
        self, s: _Sensor, now: datetime, minute: int, shares: dict[str, float]
    ) -> dict[str, Any] | None:
        kind, rng, st = s.device.kind, s.rng, s.state
        back = st.pop("back", False)
        if kind == "spot":
            changed = self._flip(s, shares[st["site"]])
            if not (changed or back or minute == st["first"]):
                return None
            return {"s": "occupied" if st["occupied"] else "free"}
        if kind == "motion":
            return self._motion(s, now, minute, back)
        if kind == "panel":
            return self._panel(s, now, minute, back)
        every = EVERY[kind]
        if minute % every != s.phase and not back:
            return None
        if kind == "lot":
            total = st["total"]
            share = patterns.occupancy(now, st["residential"]) + st["bias"]
            taken = round(total * share + rng.gauss(0, max(1.0, total * 0.02)))
            taken = min(max(taken, 0), total)
            return {"f": total - taken, "o": taken}
        if kind == "air":
            return self._air(st, now)
        if kind == "structure":
            hour, _ = patterns.local(now)
            traffic = patterns.at(patterns.TRAFFIC_DAY, hour)
            return {
                "t": round(st["tilt"] + rng.gauss(0, 0.002), 4),
                "c": round(max(0.0, st["crack"] + rng.gauss(0, 0.002)), 4),
                "v": round(max(0.0, st["vibration"] * (0.4 + traffic) + rng.gauss(0, 0.05)), 3),
            }
        if kind == "crosswalk":
            if minute % every != s.phase:
                return None  # counts are per interval: a sensor back online waits for its next
            return self._crosswalk(st, now)
        if kind == "gauge":
            st["level"] = min(max(st["level"] + rng.gauss(0, 0.01), 0.3), 2.0)
            return {"l": round(st["level"] + rng.gauss(0, 0.005), 3)}
        return None

    def _air(self, st: dict[str, Any], now: datetime) -> dict[str, Any]:
        rng = self.rng
        hour, _ = patterns.local(now)
        dust = patterns.at(patterns.PM_DAY, hour)
        extra = 0.0
        for day in (now - timedelta(days=1), now):  # an episode may run past midnight
            episode = patterns.episode_of(self.seed, day)
            if episode is not None:
                extra += episode.extra(now) * st["episode"]
        traffic = patterns.at(patterns.TRAFFIC_GAS_DAY, hour)
        return {
            "p10": round(max(1.0, st["pm10"] * dust + extra + rng.gauss(0, 3)), 1),
            "p25": round(max(1.0, st["pm25"] * dust + 0.6 * extra + rng.gauss(0, 2)), 1),
            "o3": round(
                max(1.0, st["o3"] * patterns.at(patterns.O3_DAY, hour) + rng.gauss(0, 4)), 1
            ),
            "no2": round(max(1.0, st["no2"] * traffic + rng.gauss(0, 3)), 1),
            "co": round(max(0.05, st["co"] * traffic + rng.gauss(0, 0.05)), 2),
            "so2": round(max(0.5, st["so2"] + rng.gauss(0, 0.8)), 1),
        }

    def _motion(self, s: _Sensor, now: datetime, minute: int, back: bool) -> dict[str, Any] | None:
        st, rng = s.state, self.rng
        hour, _ = patterns.local(now)
        measures: dict[str, Any] = {}
        if rng.random() < st["routine"].motions_per_hour(hour) / 60:
            measures["m"] = True
        if minute % 60 == s.phase or back:
            warm = 1.5 * math.sin((hour - 9) / 24 * 2 * math.pi)
            measures["t"] = round(st["indoor"] + warm + rng.gauss(0, 0.3), 1)
        return measures or None

    def _panel(self, s: _Sensor, now: datetime, minute: int, back: bool) -> dict[str, Any] | None:
        st, rng = s.state, s.rng
        faults = [
            fault
            for day in (now - timedelta(days=1), now)  # a fault may run past midnight
            if (fault := patterns.fault_of(self.seed, s.device.entity_id, day)) is not None
            and fault.share(now) > 0
        ]
        every = ALARMED_EVERY if faults else EVERY["panel"]
        if (minute - s.phase) % every and not back:
            return None
        load = patterns.at(st["load"], patterns.local(now)[0])
        leakage = st["leakage"] * (0.6 + 0.6 * load) + rng.gauss(0, 0.2)
        temperature = st["ambient"] + st["warming"] * load + rng.gauss(0, 0.4)
        arcs = 0
        for fault in faults:
            if fault.measure == patterns.LEAKAGE:
                leakage = fault.reading(now, leakage)
            else:
                temperature = fault.reading(now, temperature)
            if fault.arcs and fault.share(now) > 0.9:
                arcs += rng.choice((0, 1, 1, 2, 3))  # a hot, loose terminal arcs now and then
        return {"l": round(max(0.0, leakage), 1), "t": round(temperature, 1), "a": arcs}

    def _crosswalk(self, st: dict[str, Any], now: datetime) -> dict[str, Any]:
        rng = self.rng
        begun = now - timedelta(minutes=EVERY["crosswalk"])  # counts of the interval just over
        traffic = patterns.at(patterns.TRAFFIC_DAY, patterns.local(begun)[0])
        vehicles = max(0, round(st["vehicles"] * traffic * rng.uniform(0.85, 1.15)))
        walkers = max(0, round(st["pedestrians"] * traffic * rng.uniform(0.8, 1.2)))
        expected = vehicles * st["violations"]
        stops = max(0, round(expected + rng.gauss(0, math.sqrt(expected) if expected else 0)))
        return {"v": vehicles, "p": walkers, "x": min(stops, vehicles)}

    # --- buses and the cars they see ------------------------------------------------------

    def _buses(self, now: datetime, minute: int) -> list[Message]:
        rng = self.rng
        hour, _ = patterns.local(now)
        busy = patterns.at(patterns.TRAFFIC_DAY, hour)
        for zone in self.zones:  # illegal parkers come and go
            cars = self.cars[zone.id] = [c for c in self.cars[zone.id] if c.leaves > now]
            if rng.random() < 0.3 * busy / 60:
                lon, lat = _jitter(rng, zone.lon, zone.lat, zone.radius * 0.5)
                stay = timedelta(minutes=max(3.0, rng.expovariate(1 / 25)))
                cars.append(_Car(self._plate(), lon, lat, now + stay))
        out: list[Message] = []
        if not _BUS_HOURS[0] <= hour < _BUS_HOURS[1]:
            return out
        local_minute = round(hour * 60)
        for r, route in enumerate(self.routes):
            for k, zone in enumerate(route):
                departed = local_minute - 3 * (k + 1)  # the bus reaches zone k 3k+3 min out
                if departed % _BUS_EVERY or not self.cars[zone.id]:
                    continue
                camera = f"demo-bus-{r + 1}{'abcd'[(departed // _BUS_EVERY) % 4]}"
                seen = [
                    {
                        "plate": car.plate,
                        "location": {
                            "type": "Point",
                            "coordinates": [
                                round(c, 7) for c in _jitter(rng, car.lon, car.lat, 1.0)
                            ],
                        },
                        "camera": {"id": camera, "kind": "bus"},
                    }
                    for car in self.cars[zone.id]
                    if rng.random() < 0.9  # a van in the way now and then
                ]
                if seen:
                    out.append(Message(now, SIGHTINGS, camera, seen))
        return out

    def _plate(self) -> str:
        rng = self.rng
        return f"{rng.randrange(10, 400)}{rng.choice(_HANGUL)}{rng.randrange(1000, 10000)}"
