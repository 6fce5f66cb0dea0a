"""The shapes of a day in the demo city: parking occupancy, air pollution, traffic, electric
load and the rhythm of a household, as functions of the local (Seoul) time. Pure functions, no
randomness: the simulator (:mod:`cityhub.sim.stream`) adds the noise, the episodes, the panel
faults and the dropouts.

The curves are made-up but plausible: office and shopping lots fill with the morning commute
and empty in the evening, residential streets the other way round; fine dust peaks with the
rush hours and settles in the afternoon; ozone peaks after noon; a market's panels carry its
opening hours, a house's its evening.
"""

from __future__ import annotations

import bisect
import functools
import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

SEOUL = timezone(timedelta(hours=9), "KST")  # Korea keeps no daylight saving time

Curve = tuple[tuple[float, float], ...]  # (hour of the day, value), hours ascending 0 … 24

#: share of a lot's spaces taken, by hour: office/shopping sites and residential streets
BUSINESS_WEEKDAY: Curve = (
    (0, 0.12),
    (6, 0.12),
    (7, 0.3),
    (8, 0.65),
    (9, 0.85),
    (12, 0.92),
    (14, 0.88),
    (17, 0.8),
    (19, 0.5),
    (21, 0.28),
    (24, 0.12),
)
BUSINESS_WEEKEND: Curve = (
    (0, 0.1),
    (8, 0.12),
    (10, 0.4),
    (12, 0.75),
    (15, 0.8),
    (18, 0.6),
    (21, 0.3),
    (24, 0.1),
)
RESIDENTIAL_WEEKDAY: Curve = (
    (0, 0.92),
    (6, 0.9),
    (8, 0.6),
    (10, 0.45),
    (17, 0.5),
    (19, 0.75),
    (21, 0.9),
    (24, 0.92),
)
RESIDENTIAL_WEEKEND: Curve = (
    (0, 0.92),
    (9, 0.85),
    (12, 0.65),
    (17, 0.7),
    (20, 0.88),
    (24, 0.92),
)
#: fine dust (PM10, PM2.5) relative to the station's day mean: rush hours up, afternoon down
PM_DAY: Curve = (
    (0, 0.85),
    (5, 0.8),
    (8, 1.2),
    (10, 1.1),
    (14, 0.85),
    (18, 1.05),
    (21, 1.15),
    (24, 0.85),
)
#: ozone: made by sunlight, highest mid-afternoon
O3_DAY: Curve = ((0, 0.5), (7, 0.4), (12, 1.2), (15, 1.5), (19, 0.8), (24, 0.5))
#: NO2 and CO: traffic
TRAFFIC_GAS_DAY: Curve = ((0, 0.7), (5, 0.6), (8, 1.4), (12, 0.9), (19, 1.3), (24, 0.7))
#: vehicles (and pedestrians) passing, relative to the busiest hour
TRAFFIC_DAY: Curve = (
    (0, 0.1),
    (5, 0.08),
    (7, 0.7),
    (8, 1.0),
    (10, 0.6),
    (12, 0.7),
    (15, 0.65),
    (18, 1.0),
    (20, 0.55),
    (22, 0.3),
    (24, 0.1),
)

#: electric load on a distribution panel, relative to its busiest hour: a traditional market
#: (refrigerated stalls through the night) and a house (the evening)
MARKET_LOAD: Curve = (
    (0, 0.25),
    (6, 0.25),
    (8, 0.6),
    (10, 0.9),
    (13, 1.0),
    (18, 0.95),
    (20, 0.5),
    (22, 0.3),
    (24, 0.25),
)
HOUSE_LOAD: Curve = (
    (0, 0.35),
    (5, 0.3),
    (7, 0.6),
    (9, 0.4),
    (12, 0.45),
    (17, 0.55),
    (19, 0.95),
    (22, 0.8),
    (24, 0.35),
)


def at(curve: Curve, hour: float) -> float:
    """The curve's value at ``hour`` (0 ≤ hour < 24), linear between its points."""
    hours = [h for h, _ in curve]
    i = bisect.bisect_right(hours, hour)
    if i <= 0:
        return curve[0][1]
    if i >= len(curve):
        return curve[-1][1]
    (h0, v0), (h1, v1) = curve[i - 1], curve[i]
    return v0 + (v1 - v0) * (hour - h0) / (h1 - h0)


def local(moment: datetime) -> tuple[float, bool]:
    """(hour of the day in Seoul as a fraction, whether it is a weekday) of a UTC moment."""
    here = moment.astimezone(SEOUL)
    return here.hour + here.minute / 60 + here.second / 3600, here.weekday() < 5


def occupancy(moment: datetime, residential: bool) -> float:
    """The share of spaces taken at ``moment`` on a business or a residential site."""
    hour, weekday = local(moment)
    if residential:
        return at(RESIDENTIAL_WEEKDAY if weekday else RESIDENTIAL_WEEKEND, hour)
    return at(BUSINESS_WEEKDAY if weekday else BUSINESS_WEEKEND, hour)


@dataclass(frozen=True, slots=True)
class Swell:
    """Something that builds up from ``start`` over ``rise``, holds, and subsides over
    ``fall``."""

    start: datetime
    rise: timedelta
    hold: timedelta
    fall: timedelta

    @property
    def peak(self) -> tuple[datetime, datetime]:
        """When it is at its peak (from, to)."""
        return self.start + self.rise, self.start + self.rise + self.hold

    @property
    def end(self) -> datetime:
        """When it is over."""
        return self.start + self.rise + self.hold + self.fall

    def share(self, moment: datetime) -> float:
        """How much of its peak it is at ``moment``: 0 outside, 1 at the peak."""
        if moment <= self.start or moment >= self.end:
            return 0.0
        top_from, top_to = self.peak
        if moment < top_from:
            share = (moment - self.start) / self.rise
        elif moment <= top_to:
            share = 1.0
        else:
            share = (self.end - moment) / self.fall
        return 0.5 * (1 - math.cos(math.pi * share))  # smooth ramps


@dataclass(frozen=True, slots=True)
class Episode(Swell):
    """A regional fine-dust episode (황사 or a stagnant-air event): ``pm10`` µg/m³ is added at
    the peak (PM2.5 ~ 60 %)."""

    pm10: float

    def extra(self, moment: datetime) -> float:
        """PM10 added at ``moment`` (0 outside the episode)."""
        return self.pm10 * self.share(moment)


def episode_of(seed: int, day: datetime) -> Episode | None:
    """The fine-dust episode starting on the Seoul date of ``day``, if any (about four days
    in five have one); the same seed and date always give the same one."""
    date = day.astimezone(SEOUL).date()
    rng = random.Random(f"cityhub-demo-episode:{seed}:{date.isoformat()}")
    if rng.random() >= 0.8:
        return None
    midnight = datetime(date.year, date.month, date.day, tzinfo=SEOUL).astimezone(UTC)
    return Episode(
        start=midnight + timedelta(minutes=rng.randrange(0, 24 * 60, 10)),
        rise=timedelta(hours=rng.uniform(2, 4)),
        hold=timedelta(hours=rng.uniform(3, 7)),
        fall=timedelta(hours=rng.uniform(3, 5)),
        pm10=rng.uniform(80, 180),
    )


LEAKAGE, HEAT = "leakage", "heat"


@dataclass(frozen=True, slots=True)
class Fault(Swell):
    """A fault building up in a distribution panel: current leaking through damp or worn
    insulation (``leakage``, mA), or a loose or corroded terminal heating up (``heat``, °C).
    At its peak the measure reads ``worst``; a terminal that hot also ``arcs``. It subsides
    when the wiring dries out or an electrician has been."""

    measure: str  # LEAKAGE or HEAT
    worst: float
    arcs: bool

    def reading(self, moment: datetime, normal: float) -> float:
        """The measure at ``moment`` on a panel that reads ``normal`` without the fault."""
        return normal + max(0.0, self.worst - normal) * self.share(moment)


def fault_of(seed: int, panel: str, day: datetime) -> Fault | None:
    """The fault starting in ``panel`` on the Seoul date of ``day``, if any (on about one day
    in eighteen; one fault in eight is dangerous: leakage past 100 mA, or a terminal past 80 °C
    that arcs); the same seed, panel and date always give the same one."""
    return _fault_on(seed, panel, day.astimezone(SEOUL).date())


@functools.lru_cache(maxsize=1024)  # asked every simulated minute, for every panel
def _fault_on(seed: int, panel: str, on: date) -> Fault | None:
    rng = random.Random(f"cityhub-demo-fault:{seed}:{panel}:{on.isoformat()}")
    if rng.random() >= 1 / 18:
        return None
    midnight = datetime(on.year, on.month, on.day, tzinfo=SEOUL).astimezone(UTC)
    measure = LEAKAGE if rng.random() < 0.6 else HEAT
    danger = rng.random() < 1 / 8
    if measure == LEAKAGE:
        worst = rng.uniform(110, 160) if danger else rng.uniform(35, 60)
    else:
        worst = rng.uniform(84, 95) if danger else rng.uniform(63, 74)
    return Fault(
        start=midnight + timedelta(minutes=rng.randrange(0, 24 * 60, 10)),
        rise=timedelta(hours=rng.uniform(1, 3)),
        hold=timedelta(hours=rng.uniform(1, 4)),
        fall=timedelta(hours=rng.uniform(0.5, 1.5)),
        measure=measure,
        worst=worst,
        arcs=danger and measure == HEAT,
    )


@dataclass(frozen=True, slots=True)
class Routine:
    """The daily rhythm of an elderly person living alone (hours, Seoul time)."""

    wake: float  # up around 05:30-07:30
    sleep: float  # in bed around 21:00-23:00
    outing: tuple[float, float] | None  # out of the house (senior center, market), or None

    def motions_per_hour(self, hour: float) -> float:
        """How often the motion sensor sees someone at ``hour``."""
        if hour < self.wake or hour >= self.sleep:
            return 0.1  # a trip to the bathroom now and then
        if self.outing is not None and self.outing[0] <= hour < self.outing[1]:
            return 0.0
        if hour < self.wake + 2:
            return 6.0  # getting up, breakfast
        if hour >= 18:
            return 4.0  # dinner, television
        return 2.0


def routine(rng: random.Random) -> Routine:
    """A household's rhythm, drawn once."""
    wake = rng.uniform(5.5, 7.5)
    sleep = rng.uniform(21.0, 23.0)
    outing = None
    if rng.random() < 0.5:
        start = rng.uniform(10.0, 14.0)
        outing = (start, start + rng.uniform(1.0, 3.0))
    return Routine(wake, sleep, outing)
