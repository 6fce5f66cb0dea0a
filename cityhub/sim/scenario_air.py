"""``cityhub scenario fine-dust``: a yellow-dust episode over one district: 주의보, 경보, 해제.

The air service issues PM10 alerts per district from the hourly averages of the district's
stations (docs/services/air.md): 주의보 at ≥ 150 µg/m³ for two consecutive hours, 경보 at
≥ 300 for two hours, lifted below 100 (a 경보 is lowered to 주의보 below 150). The hours are
those of the readings' ``observedAt``, so the scenario sends what the district's stations
would send through a dust episode, in the clock's own hours:

1. the hour before, from the stations' data logger: PM10 around 450 µg/m³ (the dust arrived),
   as many readings as the hour's mean needs to stand above 300 (readings already there count);
2. the current hour, streamed: readings around 230 µg/m³ until the district's hourly mean
   passes 150 — 주의보, with the ``fine-dust`` SOP; then around 900 until it passes 300 —
   경보 replaces the 주의보; then clean air (12 µg/m³, after rain) until the mean falls below
   100 — the 경보 is lifted (through a 주의보 again if the mean rests between 100 and 150).

Each round of readings is one NGSI-LD batch update of every station of the district (the
readings stand for the stations' minute data); after each, the district's state is read back
from ``GET /cityhub/v1/air/districts``. Near the end of a clock hour the scenario first waits
for the next one, so the episode's two hours are the previous and the current.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from cityhub.sim.scenario_base import (
    DemoCity,
    Flow,
    HubApi,
    ScenarioError,
    follow_sop,
    inbox_message,
    now_iso,
    prop,
    status_of,
    value,
)

ADVISORY, WARNING = "advisory", "warning"
_ROUNDS = 400  # rounds of readings a stage may take before it counts as not happening
_BEFORE = 340.0  # the hour before, µg/m³: over the 경보 threshold, for 2 hours at or above
_BACKFILL_MAX = 600  # readings a station of the hour before, at most
_MARGIN_S = 150  # this close to the end of an hour, wait for the next one


def _district(city: DemoCity) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The district with the most stations, and its stations."""
    members: dict[str, list[dict[str, Any]]] = {}
    for station in city.of("AirQualityObserved"):
        members.setdefault(str(value(station, "refDistrict")), []).append(station)
    best = max(sorted(members), key=lambda d: len(members[d]))
    return city.by_id[best], members[best]


class Episode:
    """Readings for a district's stations, and the district's state as the hub reads it."""

    def __init__(
        self, hub: HubApi, rng: random.Random, district: dict[str, Any], stations: list[Any]
    ) -> None:
        self.hub = hub
        self.rng = rng
        self.district = district
        self.stations = stations
        self.sent = 0

    async def send(self, pm10: float, at: datetime) -> None:
        """One reading per station around ``pm10`` µg/m³, observed at ``at``."""
        stamp = now_iso(at)
        await self.hub.update_many(
            [
                {
                    "id": s["id"],
                    "type": "AirQualityObserved",
                    "pm10": prop(round(pm10 * self.rng.uniform(0.95, 1.05), 1), stamp, "GQ"),
                }
                for s in self.stations
            ]
        )
        self.sent += 1

    async def state(self) -> dict[str, Any]:
        """The district as ``GET /cityhub/v1/air/districts`` shows it."""
        for found in await self.hub.get("/cityhub/v1/air/districts"):
            if found["id"] == self.district["id"]:
                return dict(found)
        raise ScenarioError(f"the air service does not list district {self.district['id']}")

    async def previous_hour(self) -> float:
        """The district's PM10 mean of the hour before the latest (0 when it has none)."""
        hourly = ((await self.state()).get("hourly") or {}).get("pm10") or {}
        found = hourly.get("previousHour")
        return float(found) if isinstance(found, int | float) else 0.0

    @staticmethod
    def levels(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """The PM10 alerts in force, by level."""
        return {a["level"]: a for a in state.get("alerts") or [] if a.get("pollutant") == "pm10"}

    async def until(
        self,
        flow: Flow,
        pm10: float,
        done: Callable[[dict[str, dict[str, Any]]], bool],
        what: str,
        seen: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Stream readings around ``pm10`` until ``done`` holds for the alerts in force."""
        state: dict[str, Any] = {}
        for _ in range(_ROUNDS):
            await self.send(pm10, datetime.now(UTC))
            state = await self.state()
            if seen is not None:
                seen(state)
            if done(self.levels(state)):
                return state
            if flow.elapsed() > flow.timeout_s:
                break
        hourly = (state.get("hourly") or {}).get("pm10") or {}
        raise ScenarioError(
            f"{what}: not seen after {self.sent} rounds of readings (district hourly PM10 "
            f"{hourly.get('value')}, the hour before {hourly.get('previousHour')}); the "
            "hour's average holds every reading of earlier runs in it: run it again in the "
            "next clock hour"
        )


async def run(hub: HubApi, flow: Flow, city: DemoCity, rng: random.Random) -> None:
    """The fine-dust scenario."""
    district, stations = _district(city)
    await city.check(hub, [district["id"], *(s["id"] for s in stations)])
    name = value(district, "name")
    now = datetime.now(UTC)
    left = 3600 - (now.minute * 60 + now.second)
    if left < _MARGIN_S:
        flow.say(f"waiting {left + 2} s for the next clock hour, so the episode fits in two")
        await asyncio.sleep(left + 2)
        flow.timeout_s += left + 2
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    episode = Episode(hub, rng, district, stations)
    if Episode.levels(await episode.state()):
        raise ScenarioError(f"{name} already has a PM10 alert in force: lift it first")
    flow.say(f"{name}: {len(stations)} stations; the current hour's first readings, PM10 ~230")
    await episode.send(230, datetime.now(UTC))
    previous = await episode.previous_hour()
    sent = 0
    while previous < _BEFORE and sent < _BACKFILL_MAX:
        # what the stations measured in the hour before, sent late by their data logger
        at = hour - timedelta(hours=1) + timedelta(seconds=rng.uniform(30, 3570))
        await episode.send(450, at)
        sent += 1
        if sent % 6 == 0:
            previous = await episode.previous_hour()
    if sent:
        flow.say(
            f"their logger sends the hour before: {sent} readings a station around 450 µg/m³ "
            f"(hourly mean {previous:.1f})"
        )
    flow.say("the current hour, streamed: PM10 ~230 µg/m³")
    state = await episode.until(flow, 230, lambda lv: ADVISORY in lv, "the 주의보")
    advisory = Episode.levels(state)[ADVISORY]
    hourly = state["hourly"]["pm10"]
    flow.saw(
        f"{advisory['eventName']} issued: hourly {hourly['value']} µg/m³, the hour before "
        f"{hourly['previousHour']} — event {advisory['eventId']}"
    )
    await follow_sop(flow, hub, advisory["eventId"], "fine-dust")
    await inbox_message(flow, hub, "environment", advisory["eventId"])
    flow.say("the dust thickens: PM10 ~900 µg/m³")
    state = await episode.until(
        flow, 900, lambda lv: WARNING in lv and ADVISORY not in lv, "the 경보"
    )
    warning = Episode.levels(state)[WARNING]
    flow.saw(
        f"{warning['eventName']} issued: hourly {state['hourly']['pm10']['value']} µg/m³ "
        f"— event {warning['eventId']}"
    )
    await status_of(flow, hub, advisory["eventId"], ("cleared",), "the 주의보 replaced")
    flow.saw("주의보 cleared: 경보 발령으로 주의보 대체")
    flow.say("rain washes the air: PM10 ~12 µg/m³")
    lowered: list[str] = []

    def note(found: dict[str, Any]) -> None:
        again = Episode.levels(found).get(ADVISORY)
        if again is not None and again["eventId"] not in lowered:
            lowered.append(again["eventId"])
            flow.saw(f"경보 lowered to 주의보 (hourly {found['hourly']['pm10']['value']} µg/m³)")

    state = await episode.until(flow, 12, lambda lv: not lv, "the lift of the alert", note)
    await status_of(flow, hub, warning["eventId"], ("cleared",), "the 경보 cleared")
    for event_id in lowered:
        await status_of(flow, hub, event_id, ("cleared",), "the lowered 주의보 cleared")
    flow.saw(
        f"alert lifted (해제): hourly {state['hourly']['pm10']['value']} µg/m³, "
        f"{episode.sent} rounds of readings in all"
    )
