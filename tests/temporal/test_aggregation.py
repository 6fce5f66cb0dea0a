"""The aggregated representation: every method over hand-computed periods, in SQL."""

from __future__ import annotations

import math
from typing import Any

import httpx
import pytest

from tests.ngsild_api import ENTITIES
from tests.temporal.conftest import SENSOR, TEMPORAL, instances, temporal_url

pytestmark = pytest.mark.anyio
FOUR_HOURS = {
    "timerel": "between",
    "timeAt": "2024-01-01T00:00:00Z",
    "endTimeAt": "2024-01-01T04:00:00Z",
}
H = [f"2024-01-01T0{h}:00:00.000Z" for h in range(5)]


async def _aggregate(client: httpx.AsyncClient, attr: str, **params: str) -> dict[str, Any]:
    resp = await client.get(
        temporal_url(SENSOR), params={"options": "aggregatedValues", "attrs": attr, **params}
    )
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()[attr]
    return body


# READINGS per hour: [00,01): 1, 2, 6   [01,02): 4, 4   [02,03): none   [03,04): 10
@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("totalCount", [3, 2, 1]),
        ("distinctCount", [3, 1, 1]),
        ("sum", [9, 8, 10]),
        ("avg", [3, 4, 10]),
        ("min", [1, 4, 10]),
        ("max", [6, 4, 10]),
        ("sumsq", [41, 32, 100]),
        ("stddev", [math.sqrt(7), 0, 0]),  # sample: ((1-3)² + (2-3)² + (6-3)²) / 2 = 7
    ],
)
async def test_each_method_per_hour(
    client: httpx.AsyncClient, sensor: dict[str, Any], method: str, expected: list[float]
) -> None:
    body = await _aggregate(
        client, "temperature", aggrMethods=method, aggrPeriodDuration="PT1H", **FOUR_HOURS
    )

    assert body["type"] == "Property"
    periods = body[method]
    assert [(start, end) for _, start, end in periods] == [(H[0], H[1]), (H[1], H[2]), (H[3], H[4])]
    assert [v for v, _, _ in periods] == pytest.approx(expected)


async def test_zero_duration_is_one_period_over_the_whole_range(
    client: httpx.AsyncClient, sensor: dict[str, Any]
) -> None:
    body = await _aggregate(
        client,
        "temperature",
        aggrMethods="totalCount,distinctCount,sum,avg,min,max,sumsq,stddev",
        aggrPeriodDuration="PT0S",
        **FOUR_HOURS,
    )

    whole = {m: body[m] for m in body if m != "type"}
    assert all(len(p) == 1 and p[0][1:] == [H[0], H[4]] for p in whole.values())
    values = {m: p[0][0] for m, p in whole.items()}
    assert values == pytest.approx(
        {
            "totalCount": 6,
            "distinctCount": 5,
            "sum": 27,
            "avg": 4.5,
            "min": 1,
            "max": 10,
            "sumsq": 173,
            "stddev": math.sqrt(51.5 / 5),
        }
    )


async def test_aggr_methods_alone_ask_for_aggregation_without_duration(
    client: httpx.AsyncClient, sensor: dict[str, Any]
) -> None:
    resp = await client.get(
        temporal_url(SENSOR), params={"aggrMethods": "max", "attrs": "temperature"}
    )
    assert resp.status_code == 200
    # no timerel: the range runs from the first to the last instance
    assert resp.json()["temperature"]["max"] == [[10, H[0], "2024-01-01T03:00:00.000Z"]]


async def test_strings_count_but_do_not_sum(
    client: httpx.AsyncClient, sensor: dict[str, Any]
) -> None:
    body = await _aggregate(client, "status", aggrMethods="totalCount,distinctCount,sum")
    assert [p[0] for p in body["totalCount"]] == [3]
    assert [p[0] for p in body["distinctCount"]] == [2]
    assert body["sum"] == []


async def test_booleans_sum_their_true_values(client: httpx.AsyncClient) -> None:
    readings = [("2024-01-01T00:00:00Z", True), ("2024-01-01T00:10:00Z", False)]
    readings.append(("2024-01-01T00:20:00Z", True))
    resp = await client.post(
        TEMPORAL, json={"id": SENSOR, "type": "Sensor", "open": instances(readings)}
    )
    assert resp.status_code == 201
    body = await _aggregate(client, "open", aggrMethods="sum,totalCount")
    assert body["sum"][0][0] == 2 and body["totalCount"][0][0] == 3


async def test_calendar_months_are_periods_of_their_own_length(
    client: httpx.AsyncClient,
) -> None:
    readings = [
        ("2024-01-15T00:00:00Z", 1),
        ("2024-01-31T23:00:00Z", 2),
        ("2024-02-01T00:00:00Z", 3),
        ("2024-03-10T00:00:00Z", 4),
    ]
    await client.post(TEMPORAL, json={"id": SENSOR, "type": "Sensor", "n": instances(readings)})

    body = await _aggregate(
        client,
        "n",
        aggrMethods="sum",
        aggrPeriodDuration="P1M",
        timerel="between",
        timeAt="2024-01-01T00:00:00Z",
        endTimeAt="2024-04-01T00:00:00Z",
    )

    assert body["sum"] == [
        [3, "2024-01-01T00:00:00.000Z", "2024-02-01T00:00:00.000Z"],
        [3, "2024-02-01T00:00:00.000Z", "2024-03-01T00:00:00.000Z"],
        [4, "2024-03-01T00:00:00.000Z", "2024-04-01T00:00:00.000Z"],
    ]


async def test_query_aggregates_every_entity_in_sql(client: httpx.AsyncClient) -> None:
    for n in range(3):
        await client.post(
            ENTITIES,
            json={
                "id": f"urn:ngsi-ld:Meter:{n}",
                "type": "Meter",
                "kwh": {"type": "Property", "value": n, "observedAt": "2024-01-01T00:30:00Z"},
            },
        )
    resp = await client.get(
        TEMPORAL,
        params={
            "type": "Meter",
            "aggrMethods": "avg",
            "aggrPeriodDuration": "P1D",
            **FOUR_HOURS,
        },
    )
    assert resp.status_code == 200, resp.text
    avgs = {e["id"]: e["kwh"]["avg"] for e in resp.json()}
    assert avgs["urn:ngsi-ld:Meter:2"] == [
        [2, "2024-01-01T00:00:00.000Z", "2024-01-02T00:00:00.000Z"]
    ]


async def _both_ways(client: httpx.AsyncClient, methods: str) -> tuple[Any, Any]:
    """An hourly aggregation answered from the hourly rollup, and the same one from the
    instances (asking distinctCount too keeps the rollup out)."""
    args = {"aggrPeriodDuration": "PT1H", **FOUR_HOURS}
    rolled = await _aggregate(client, "temperature", aggrMethods=methods, **args)
    raw = await _aggregate(client, "temperature", aggrMethods=methods + ",distinctCount", **args)
    return {m: rolled[m] for m in methods.split(",")}, {m: raw[m] for m in methods.split(",")}


ALL_ROLLED = "totalCount,sum,avg,min,max,sumsq,stddev"


async def test_hourly_rollup_agrees_with_the_instances_after_changes(
    client: httpx.AsyncClient, sensor: dict[str, Any]
) -> None:
    rolled, raw = await _both_ways(client, ALL_ROLLED)
    assert rolled == raw
    history = (await client.get(temporal_url(SENSOR), params={"attrs": "temperature"})).json()
    by_value = {i["value"]: i["instanceId"] for i in history["temperature"]}
    base = f"{temporal_url(SENSOR)}/attrs/temperature"
    # delete the 6 of hour 0, move the 10 of hour 3 into hour 1 with a new value
    assert (await client.delete(f"{base}/{by_value[6]}")).status_code == 204
    patch = {"value": 7, "observedAt": "2024-01-01T01:30:00Z"}
    assert (await client.patch(f"{base}/{by_value[10]}", json=patch)).status_code == 204
    rolled, raw = await _both_ways(client, ALL_ROLLED)
    assert rolled == raw
    assert [v for v, _, _ in rolled["max"]] == [2, 7]
    assert [v for v, _, _ in rolled["totalCount"]] == [2, 3]
    # more instances into an hour that has some, and one into an empty hour
    more = {"temperature": instances([("2024-01-01T00:30:00Z", -5), ("2024-01-01T02:10:00Z", 3)])}
    assert (await client.post(f"{temporal_url(SENSOR)}/attrs", json=more)).status_code == 204
    rolled, raw = await _both_ways(client, ALL_ROLLED)
    assert rolled == raw
    assert [v for v, _, _ in rolled["min"]] == [-5, 4, 3]


async def test_hourly_rollup_forgets_deleted_attributes_and_entities(
    client: httpx.AsyncClient, sensor: dict[str, Any]
) -> None:
    assert (await client.delete(f"{temporal_url(SENSOR)}/attrs/temperature")).status_code == 204
    readd = {"temperature": instances([("2024-01-01T00:10:00Z", 42)])}
    assert (await client.post(f"{temporal_url(SENSOR)}/attrs", json=readd)).status_code == 204
    rolled, raw = await _both_ways(client, "totalCount,max")
    assert rolled == raw
    assert [v for v, _, _ in rolled["max"]] == [42]
    assert (await client.delete(temporal_url(SENSOR))).status_code == 204
    recreated = {
        "id": SENSOR,
        "type": "Sensor",
        "temperature": instances([("2024-01-01T03:10:00Z", 1)]),
    }
    assert (await client.post(TEMPORAL, json=recreated)).status_code == 201
    rolled, raw = await _both_ways(client, "totalCount,max")
    assert rolled == raw
    assert [v for v, _, _ in rolled["totalCount"]] == [1]
