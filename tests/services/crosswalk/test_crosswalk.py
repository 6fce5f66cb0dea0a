"""Smart crosswalks on both backends, through the HTTP API: two Seongdong crosswalks count
stop-line violations, vehicles and pedestrians twice a day around a change on 2026-06-01;
the stats give the totals, the hours of the day (Seoul) and the violation rate before and
after, and the layer shows the latest counts and the last 24 hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cityhub.settings import Settings
from tests.ngsild_api import assert_problem
from tests.services.facility.city import City, city, point, prop, stamp

pytestmark = pytest.mark.anyio
BASE = "/cityhub/v1/crosswalks"
W03 = "urn:ngsi-ld:CrosswalkObserved:seongdong-wangsimni-03"
H11 = "urn:ngsi-ld:CrosswalkObserved:seongdong-haengdang-11"
DAYS = ["2026-05-29", "2026-05-30", "2026-05-31", "2026-06-01", "2026-06-02", "2026-06-03"]
#: (crosswalk, before or after the change, Seoul hour) -> violations, vehicles, pedestrians
COUNTS = {
    (W03, False, 8): (12, 300, 500),
    (W03, False, 18): (8, 200, 300),
    (W03, True, 8): (3, 300, 520),
    (W03, True, 18): (2, 200, 310),
    (H11, False, 8): (5, 100, 200),
    (H11, False, 18): (5, 100, 200),
    (H11, True, 8): (5, 100, 200),
    (H11, True, 18): (5, 100, 200),
}


def crosswalk(entity_id: str, name: str, lon: float, lat: float) -> dict[str, Any]:
    """A smart crosswalk before its first count."""
    return {
        "id": entity_id,
        "type": "CrosswalkObserved",
        "name": prop(name),
        "laneCount": prop(4),
        "location": point(lon, lat),
    }


async def count(c: City, entity_id: str, observed: str, numbers: tuple[int, int, int]) -> None:
    violations, vehicles, pedestrians = numbers
    await c.update(
        entity_id,
        {
            "stopLineViolations": prop(violations, observed),
            "vehicleCount": prop(vehicles, observed),
            "pedestrianCount": prop(pedestrians, observed),
        },
    )


async def seongdong(c: City) -> None:
    """The two crosswalks and six days of counts at 08 and 18 h Seoul time."""
    await c.create(
        crosswalk(W03, "왕십리역 6번 출구 앞", 127.0377, 37.5612),
        crosswalk(H11, "행당초등학교 앞", 127.0298, 37.5574),
    )
    for day in DAYS:
        after = day >= "2026-06-01"
        for hour in (8, 18):
            local = datetime.fromisoformat(f"{day}T{hour:02d}:00:00+09:00")
            for entity_id in (W03, H11):
                await count(c, entity_id, stamp(local), COUNTS[(entity_id, after, hour)])


async def test_before_after_and_hours(settings: Settings) -> None:
    async with city(settings) as c:
        await seongdong(c)
        body = await c.get(f"{BASE}/stats", change="2026-06-01")
        assert (body["from"], body["to"]) == (
            "2026-05-03T15:00:00.000Z",
            "2026-06-28T15:00:00.000Z",
        )
        assert body["change"] == "2026-05-31T15:00:00.000Z"  # midnight in Seoul
        rows = {r["id"]: r for r in body["crosswalks"]}
        wangsimni = rows[W03]
        assert wangsimni["name"] == "왕십리역 6번 출구 앞"
        assert wangsimni["beforeAfter"] == {
            "before": {
                "violations": 60,
                "vehicles": 1500,
                "pedestrians": 2400,
                "intervals": 6,
                "days": 3,
                "violationRate": 0.04,
            },
            "after": {
                "violations": 15,
                "vehicles": 1500,
                "pedestrians": 2490,
                "intervals": 6,
                "days": 3,
                "violationRate": 0.01,
            },
            "relativeChange": -0.75,
        }
        assert wangsimni["totals"]["violationRate"] == 0.025
        by_hour = {h["hour"]: h for h in wangsimni["byHour"]}
        assert len(by_hour) == 24 and by_hour[3]["violationRate"] is None
        assert (by_hour[8]["violations"], by_hour[8]["vehicles"], by_hour[8]["intervals"]) == (
            45,
            1800,
            6,
        )
        assert by_hour[18]["pedestrians"] == 3 * 300 + 3 * 310
        assert rows[H11]["beforeAfter"]["relativeChange"] == 0.0
        everything = body["all"]["beforeAfter"]
        assert (everything["before"]["violations"], everything["before"]["vehicles"]) == (90, 2100)
        assert everything["relativeChange"] == -0.5  # 90 → 45 violations per 2100 vehicles

        # one crosswalk, a window of its own: the last day before the change alone
        body = await c.get(
            f"{BASE}/stats",
            **{"from": "2026-05-31", "to": "2026-06-02", "change": "2026-06-01", "id": W03},
        )
        assert [r["id"] for r in body["crosswalks"]] == [W03]
        split = body["crosswalks"][0]["beforeAfter"]
        assert (split["before"]["violations"], split["after"]["violations"]) == (20, 5)
        assert (split["before"]["days"], split["after"]["days"]) == (1, 1)
        # without a change: no comparison
        plain = await c.get(f"{BASE}/stats", **{"from": "2026-05-29", "to": "2026-06-04"})
        assert "beforeAfter" not in plain["all"] and plain["all"]["totals"]["intervals"] == 24


async def test_layer_and_bad_requests(settings: Settings) -> None:
    async with city(settings) as c:
        await seongdong(c)
        recent = datetime.now(UTC) - timedelta(hours=2)
        await count(c, W03, stamp(recent), (4, 160, 230))
        layer = await c.get(f"{BASE}/layer")
        features = {f["id"]: f for f in layer["features"]}
        assert features[W03]["geometry"]["coordinates"] == [127.0377, 37.5612]
        props = features[W03]["properties"]
        assert (props["stopLineViolations"], props["vehicleCount"]) == (4, 160)
        assert props["last24h"] == {
            "violations": 4,
            "vehicles": 160,
            "pedestrians": 230,
            "intervals": 1,
            "violationRate": 0.025,
        }
        assert features[H11]["properties"]["last24h"]["intervals"] == 0

        for params, member in (
            ({"change": "2026-07-01", "from": "2026-05-01", "to": "2026-06-01"}, "change"),
            ({"change": "June"}, "change"),
            ({"from": "2026-06-02", "to": "2026-06-01"}, "from"),
            ({"from": "2025-01-01", "to": "2026-06-01"}, "366 days"),
        ):
            r = await c.client.get(f"{BASE}/stats", params=params)
            assert member in assert_problem(r, "BadRequestData", 400)["detail"]
