"""Occupancy forecasts through the public API, on both backends: five weeks of a lot's
occupancy (a weekday curve peaking after lunch, quieter weekends, sensor noise, a reading every
15 minutes) written through the NGSI-LD temporal API; the forecast follows the weekday × hour
profile, and the held-out evaluation's MAE stays below the bound the noise allows."""

from __future__ import annotations

import math
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from cityhub.services.parking.forecast import evaluate, profile
from cityhub.settings import Settings
from cityhub.temporal.model import to_micros
from tests.ngsild_api import assert_problem
from tests.services.parking.parking_support import (
    ENTITIES,
    GWACHEON,
    PARKING,
    SEOUL,
    iso,
    lot_id,
    point,
    prop,
    running,
    settle,
)

pytestmark = pytest.mark.anyio
LOT = lot_id("gwacheon-station-5")
TOTAL = 200
NOISE = 8  # a reading is off by up to ±8 spaces (uniform), then rounded to a whole space
READINGS_PER_HOUR = 4
WEEKS = 5


@pytest.fixture
async def hub(settings: Settings) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    """A running hub with auth off."""
    async for found in running(settings):
        yield found


def curve(moment: datetime) -> float:
    """The lot's true occupancy at ``moment``: office workers on weekdays (peak 170 at 13:00
    Seoul time, 30 at night), shoppers at weekends (peak 85 at 15:00)."""
    local = moment.astimezone(SEOUL)
    h = local.hour + local.minute / 60
    if local.weekday() < 5:
        return 30 + 140 * math.exp(-(((h - 13) / 4) ** 2))
    return 25 + 60 * math.exp(-(((h - 15) / 3.5) ** 2))


def when(text: str) -> datetime:
    """An NGSI-LD DateTime of an answer."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def hour_mean(start: datetime) -> float:
    """The true mean occupancy of the hour starting at ``start`` (over its readings)."""
    step = timedelta(minutes=60 // READINGS_PER_HOUR)
    return sum(curve(start + i * step) for i in range(READINGS_PER_HOUR)) / READINGS_PER_HOUR


def readings(days: int, seed: int) -> list[tuple[datetime, int]]:
    """Noisy readings every 15 minutes for ``days`` days up to the current hour."""
    rng = random.Random(seed)
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    step = timedelta(minutes=60 // READINGS_PER_HOUR)
    found = []
    at = start
    while at < end:
        value = round(curve(at) + rng.uniform(-NOISE, NOISE))
        found.append((at, max(0, min(TOTAL, value))))
        at += step
    return found


async def write_history(
    app: Starlette, client: httpx.AsyncClient, attr: str, values: list[tuple[datetime, int]]
) -> None:
    """The lot (registered with its capacity) and its history through the temporal API."""
    r = await client.post(
        ENTITIES,
        json={
            "id": LOT,
            "type": "OffStreetParking",
            "name": prop("과천역 환승주차장"),
            "totalSpotNumber": prop(TOTAL),
            "location": point(126.9979, 37.4337),
        },
        headers=GWACHEON,
    )
    assert r.status_code == 201, r.text
    await settle(app)
    body = {
        "id": LOT,
        "type": "OffStreetParking",
        attr: [prop(v, iso(at)) for at, v in values],
    }
    r = await client.post("/ngsi-ld/v1/temporal/entities", json=body, headers=GWACHEON)
    assert r.status_code == 204, r.text  # the lot's record exists: its history is added
    await settle(app)


async def _forecast(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    r = await client.get(f"{PARKING}/lots/{LOT}/forecast", params=params, headers=GWACHEON)
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


async def test_forecast_follows_the_weekly_profile(
    hub: tuple[Starlette, httpx.AsyncClient],
) -> None:
    app, client = hub
    history = readings(WEEKS * 7, seed=20260302)
    await write_history(app, client, "occupiedSpotNumber", history)
    hour0 = history[-1][0].replace(minute=0) + timedelta(hours=1)  # the hour it ends at
    body = await _forecast(client, hours=6)
    assert body["lot"] == LOT and body["total"] == TOTAL
    profile = body["profile"]
    assert profile["timezone"] == "Asia/Seoul" and profile["weekdays"][0] == "mon"
    assert len(profile["occupied"]) == 7 and all(len(day) == 24 for day in profile["occupied"])
    assert profile["hours"] == WEEKS * 7 * 24
    # weekday lunchtime is far busier than Saturday's, and nights are quiet
    monday, saturday = profile["occupied"][0], profile["occupied"][5]
    assert monday[13] > 160 and saturday[13] < 90 and monday[3] < 40

    # the hourly mean of four readings has noise of variance sigma_h² = (NOISE²/3 + 1/12) / 4;
    # a slot of the full profile averages 5 weeks of it
    sigma_h = math.sqrt((NOISE**2 / 3 + 1 / 12) / READINGS_PER_HOUR)
    forecast = body["forecast"]
    current = when(forecast[0]["at"])  # the current hour (the clock may have turned since)
    assert current in (hour0, hour0 + timedelta(hours=1)) and current.minute == 0
    assert [when(f["at"]) for f in forecast] == [current + timedelta(hours=i) for i in range(6)]
    for entry in forecast:
        at = when(entry["at"]).astimezone(SEOUL)
        # it is the profile's value of its weekday and hour ...
        assert entry["occupied"] == profile["occupied"][at.weekday()][at.hour]
        # ... which is the true curve, within 4 standard deviations of a 5-week mean
        assert abs(entry["occupied"] - hour_mean(at)) <= 4 * sigma_h / math.sqrt(WEEKS) + 0.1
        assert entry["available"] == pytest.approx(TOTAL - entry["occupied"])

    evaluation = body["evaluation"]
    assert evaluation["days"] == 7 and evaluation["hours"] == 7 * 24
    # held out: the last week, predicted by a profile of the 4 weeks before; an hour's error
    # is its noise minus the mean of 4 others: sd = sigma_h·√(1 + 1/4), and E|error| ≤ sd
    bound = sigma_h * math.sqrt(1 + 1 / 4)
    assert 0 < evaluation["mae"] < bound, (evaluation, bound)
    assert 0 < evaluation["mape"] < 10
    assert evaluation["baselineMae"] > 10 * evaluation["mae"]  # far better than a flat line
    assert when(evaluation["heldOutFrom"]) == hour0 - timedelta(days=7)


async def test_forecast_from_free_spaces(hub: tuple[Starlette, httpx.AsyncClient]) -> None:
    app, client = hub
    # the lot's own gate system reports free spaces only, for the last 10 days
    free = [(at, TOTAL - v) for at, v in readings(10, seed=7)]
    await write_history(app, client, "availableSpotNumber", free)
    body = await _forecast(client, hours=24, weeks=2)
    assert len(body["forecast"]) == 24
    assert body["profile"]["hours"] == 10 * 24
    sigma_h = math.sqrt((NOISE**2 / 3 + 1 / 12) / READINGS_PER_HOUR)
    for entry in body["forecast"]:
        at = when(entry["at"]).astimezone(SEOUL)
        # occupied = total - free; each hour of the next day was seen once, a week before
        assert abs(entry["occupied"] - hour_mean(at)) <= 4 * sigma_h + 0.1, entry
        assert entry["occupied"] + entry["available"] == pytest.approx(TOTAL)
    evaluation = body["evaluation"]  # trained on 3 days only: most slots stand in for others
    assert evaluation["days"] == 7 and evaluation["mae"] < evaluation["baselineMae"]


def test_profile_fills_slots_it_never_saw() -> None:
    monday = datetime(2026, 3, 2, tzinfo=SEOUL)  # a Monday
    hourly = {}
    for day in (0, 7):  # two Mondays, one Saturday
        for hour in range(24):
            start = monday + timedelta(days=day, hours=hour)
            hourly[to_micros(start)] = 100.0 + hour + day
    for hour in range(24):
        hourly[to_micros(monday + timedelta(days=5, hours=hour))] = 20.0 + hour
    shape = profile(hourly)
    assert len(shape) == 7 * 24
    assert shape[0 * 24 + 13] == 113 + 3.5  # Mondays: the mean of both
    assert shape[2 * 24 + 13] == 113 + 3.5  # Wednesday: as weekdays of its kind
    assert shape[5 * 24 + 13] == 33  # Saturday as seen
    assert shape[6 * 24 + 13] == 33  # Sunday: as the weekend day seen
    assert profile({}) == []
    # a week of history leaves nothing to train on once 7 days are held out
    week = {k: v for k, v in hourly.items() if k < to_micros(monday + timedelta(days=7))}
    assert evaluate(week) is None
    assert evaluate(hourly) is not None


async def test_forecast_refusals(hub: tuple[Starlette, httpx.AsyncClient]) -> None:
    app, client = hub
    url = f"{PARKING}/lots/{LOT}/forecast"
    assert_problem(await client.get(url, headers=GWACHEON), "NonexistentTenant", 404)
    # a lot with no occupancy history (its capacity only)
    r = await client.post(
        ENTITIES,
        json={"id": LOT, "type": "OffStreetParking", "totalSpotNumber": prop(TOTAL)},
        headers=GWACHEON,
    )
    assert r.status_code == 201
    await settle(app)
    problem = assert_problem(await client.get(url, headers=GWACHEON), "ResourceNotFound", 404)
    assert "no history" in problem["detail"]
    for bad in ({"hours": 0}, {"hours": 500}, {"hours": "six"}, {"weeks": 0}):
        assert_problem(await client.get(url, params=bad, headers=GWACHEON), "BadRequestData", 400)
    r = await client.get(f"{PARKING}/lots/not%20an%20id/forecast", headers=GWACHEON)
    assert_problem(r, "BadRequestData", 400)
