"""Temporal reads: timerel, timeproperty, lastN, temporalValues, cuts with Content-Range."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.ngsild_api import assert_problem
from tests.temporal.conftest import READINGS, SENSOR, TEMPORAL, instances, temporal_url

pytestmark = pytest.mark.anyio


async def _values(client: httpx.AsyncClient, **params: str) -> list[Any]:
    resp = await client.get(temporal_url(SENSOR), params={"attrs": "temperature", **params})
    assert resp.status_code == 200, resp.text
    return [i["value"] for i in resp.json().get("temperature", [])]


async def test_without_timerel_the_whole_history_oldest_first(
    client: httpx.AsyncClient, sensor: dict[str, Any]
) -> None:
    assert await _values(client) == [v for _, v in READINGS]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"timerel": "before", "timeAt": "2024-01-01T00:40:00Z"}, [1, 2]),
        ({"timerel": "after", "timeAt": "2024-01-01T00:40:00Z"}, [4, 4, 10]),
        (
            {
                "timerel": "between",
                "timeAt": "2024-01-01T00:20:00Z",
                "endTimeAt": "2024-01-01T01:50:00Z",
            },
            [2, 6, 4],
        ),
        ({"lastN": "2"}, [4, 10]),
        ({"timerel": "before", "timeAt": "2024-01-01T01:50:00Z", "lastN": "2"}, [6, 4]),
    ],
)
async def test_timerel_and_last_n_select_instances(
    client: httpx.AsyncClient,
    sensor: dict[str, Any],
    params: dict[str, str],
    expected: list[int],
) -> None:
    assert await _values(client, **params) == expected


async def test_timeproperty_modified_at_filters_on_the_write_time(
    client: httpx.AsyncClient, sensor: dict[str, Any]
) -> None:
    # every instance was written just now, whatever its observedAt
    assert await _values(
        client, timeproperty="modifiedAt", timerel="after", timeAt="2024-06-01T00:00:00Z"
    ) == [v for _, v in READINGS]
    assert await _values(client, timerel="after", timeAt="2024-06-01T00:00:00Z") == []


async def test_temporal_values_pairs_each_value_with_its_time(
    client: httpx.AsyncClient, sensor: dict[str, Any]
) -> None:
    resp = await client.get(temporal_url(SENSOR), params={"options": "temporalValues"})

    assert resp.status_code == 200
    body = resp.json()
    assert body["temperature"] == {
        "type": "Property",
        "values": [[v, t] for t, v in READINGS],
    }
    assert body["status"]["values"][1] == ["alarm", "2024-01-01T00:15:00Z"]


async def test_query_needs_timerel_and_a_selector(
    client: httpx.AsyncClient, sensor: dict[str, Any]
) -> None:
    resp = await client.get(TEMPORAL, params={"type": "Sensor"})
    assert_problem(resp, "BadRequestData", 400)
    resp = await client.get(TEMPORAL, params={"timerel": "after", "timeAt": "2024-01-01T00:00Z"})
    assert_problem(resp, "BadRequestData", 400)

    resp = await client.get(
        TEMPORAL,
        params={"type": "Sensor", "timerel": "after", "timeAt": "2024-01-01T01:00:00Z"},
    )
    assert resp.status_code == 200
    (entity,) = resp.json()
    assert [i["value"] for i in entity["temperature"]] == [4, 4, 10]
    assert "status" not in entity  # no status instance after 01:00


@pytest.mark.parametrize(
    "params",
    [
        {"timerel": "during", "timeAt": "2024-01-01T00:00:00Z"},
        {"timerel": "after"},
        {"timerel": "between", "timeAt": "2024-01-01T00:00:00Z"},
        {"timerel": "after", "timeAt": "yesterday"},
        {
            "timerel": "between",
            "timeAt": "2024-01-02T00:00:00Z",
            "endTimeAt": "2024-01-01T00:00:00Z",
        },
        {"timeAt": "2024-01-01T00:00:00Z"},
        {"timeproperty": "observedLater"},
        {"lastN": "0"},
        {"lastN": "many"},
        {"aggrMethods": "median"},
        {"aggrMethods": "avg", "aggrPeriodDuration": "1 hour"},
        {"aggrMethods": "avg", "aggrPeriodDuration": "P1.5M"},
        {"options": "aggregatedValues"},
        {"q": "temperature>3"},
    ],
)
async def test_bad_parameters_are_bad_request_data(
    client: httpx.AsyncClient, sensor: dict[str, Any], params: dict[str, str]
) -> None:
    resp = await client.get(temporal_url(SENSOR), params=params)
    assert_problem(resp, "BadRequestData", 400)


async def test_unknown_entity_and_tenant_are_404(client: httpx.AsyncClient) -> None:
    resp = await client.get(temporal_url("urn:ngsi-ld:Sensor:none"))
    assert_problem(resp, "ResourceNotFound", 404)
    resp = await client.get(temporal_url(SENSOR), headers={"NGSILD-Tenant": "nobody"})
    assert_problem(resp, "NonexistentTenant", 404)


async def test_unknown_format_is_invalid_request(
    client: httpx.AsyncClient, sensor: dict[str, Any]
) -> None:
    resp = await client.get(temporal_url(SENSOR), params={"format": "pretty"})
    assert_problem(resp, "InvalidRequest", 400)


# --- cuts: more instances than a response holds -----------------------------------------

HOURLY = [(f"2024-01-01T0{h}:00:00Z", h) for h in range(5)]
HALF_PAST = [(f"2024-01-01T0{h}:30:00Z", 10 + h) for h in range(3)]


@pytest.fixture
async def long_history(small_page_client: httpx.AsyncClient) -> httpx.AsyncClient:
    """A sensor with 5 hourly instances of A and 3 half-past instances of B, read through
    an app answering at most 3 instances per attribute."""
    resp = await small_page_client.post(
        TEMPORAL,
        json={"id": SENSOR, "type": "Sensor", "a": instances(HOURLY), "b": instances(HALF_PAST)},
    )
    assert resp.status_code == 201
    return small_page_client


async def test_a_cut_response_is_206_with_the_range_it_holds(
    long_history: httpx.AsyncClient,
) -> None:
    resp = await long_history.get(temporal_url(SENSOR))

    assert resp.status_code == 206
    assert resp.headers["Content-Range"] == (
        "date-time 2024-01-01T00:00:00.000Z-2024-01-01T02:00:00.000Z/*"
    )
    body = resp.json()
    assert [i["value"] for i in body["a"]] == [0, 1, 2]
    # every attribute is cut at the same instant
    assert [i["value"] for i in body["b"]] == [10, 11]

    resp = await long_history.get(
        temporal_url(SENSOR),
        params={"timerel": "after", "timeAt": "2024-01-01T02:00:00Z"},
    )
    assert resp.status_code == 200  # the rest fits
    assert [i["value"] for i in resp.json()["a"]] == [3, 4]


async def test_after_timerel_starts_the_range_at_time_at(long_history: httpx.AsyncClient) -> None:
    resp = await long_history.get(
        temporal_url(SENSOR), params={"timerel": "after", "timeAt": "2023-12-31T00:00:00Z"}
    )
    assert resp.status_code == 206
    assert resp.headers["Content-Range"] == (
        "date-time 2023-12-31T00:00:00.000Z-2024-01-01T02:00:00.000Z/*"
    )


async def test_last_n_beyond_the_page_is_cut_backwards(long_history: httpx.AsyncClient) -> None:
    resp = await long_history.get(temporal_url(SENSOR), params={"lastN": "4", "attrs": "a"})

    assert resp.status_code == 206
    assert resp.headers["Content-Range"] == (
        "date-time 2024-01-01T04:00:00.000Z-2024-01-01T02:00:00.000Z/4"
    )
    assert [i["value"] for i in resp.json()["a"]] == [2, 3, 4]

    resp = await long_history.get(temporal_url(SENSOR), params={"lastN": "2", "attrs": "a"})
    assert resp.status_code == 200
    assert "Content-Range" not in resp.headers


async def test_concise_instances_drop_the_type_their_value_tells(
    client: httpx.AsyncClient, sensor: dict[str, Any]
) -> None:
    resp = await client.get(
        temporal_url(SENSOR), params={"attrs": "temperature", "options": "concise", "lastN": "2"}
    )
    assert resp.status_code == 200, resp.text
    got = resp.json()["temperature"]
    assert [i["value"] for i in got] == [4, 10]
    assert all("type" not in i and i["instanceId"].startswith("urn:") for i in got)
    assert [i["observedAt"] for i in got] == ["2024-01-01T01:50:00Z", "2024-01-01T03:00:00Z"]


async def test_post_query_is_the_get_query_as_a_body(
    client: httpx.AsyncClient, sensor: dict[str, Any]
) -> None:
    other = {"id": "urn:ngsi-ld:Sensor:2", "type": "Sensor", "temperature": instances(READINGS)}
    assert (await client.post(TEMPORAL, json=other)).status_code == 201
    window = {"timerel": "before", "timeAt": "2024-01-01T00:40:00Z"}
    get = await client.get(
        TEMPORAL, params={"type": "Sensor", "attrs": "temperature", "id": SENSOR, **window}
    )
    body = {
        "type": "Query",
        "entities": [{"id": SENSOR, "type": "Sensor"}],
        "attrs": ["temperature"],
        "temporalQ": window,
    }
    post = await client.post("/ngsi-ld/v1/temporal/entityOperations/query", json=body)
    assert post.status_code == 200, post.text
    assert post.json() == get.json()
    assert [i["value"] for i in post.json()[0]["temperature"]] == [1, 2]


async def test_post_query_aggregates_with_methods_in_the_body_or_the_url(
    client: httpx.AsyncClient, sensor: dict[str, Any]
) -> None:
    body = {
        "type": "Query",
        "entities": [{"type": "Sensor"}],
        "attrs": ["temperature"],
        "temporalQ": {
            "timerel": "between",
            "timeAt": "2024-01-01T00:00:00Z",
            "endTimeAt": "2024-01-01T02:00:00Z",
            "aggrMethods": ["max"],
            "aggrPeriodDuration": "PT1H",
        },
    }
    url = "/ngsi-ld/v1/temporal/entityOperations/query"
    resp = await client.post(url, json=body, params={"options": "aggregatedValues"})
    assert resp.status_code == 200, resp.text
    assert [m[0] for m in resp.json()[0]["temperature"]["max"]] == [6, 4]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ([], "Query object"),
        ({"type": "Subscription"}, "Query object"),
        ({"type": "Query", "entities": [{"type": "Sensor"}]}, "timerel"),
        ({"type": "Query", "entities": "Sensor", "temporalQ": {}}, "EntitySelector"),
        ({"type": "Query", "attrs": "temperature"}, "attrs"),
        ({"type": "Query", "entities": [{"type": 3}]}, "EntitySelector type"),
        ({"type": "Query", "temporalQ": []}, "temporalQ"),
    ],
)
async def test_post_query_rejects_malformed_bodies(
    client: httpx.AsyncClient, body: Any, words: str
) -> None:
    resp = await client.post("/ngsi-ld/v1/temporal/entityOperations/query", json=body)
    assert words in assert_problem(resp, "BadRequestData", 400)["detail"]


async def _query_q(client: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    resp = await client.get(TEMPORAL, params={"type": "Sensor", **params})
    assert resp.status_code == 200, resp.text
    body: list[dict[str, Any]] = resp.json()
    return body


@pytest.mark.parametrize(
    ("params", "temperatures", "statuses"),
    [
        ({"q": "temperature>5"}, [6, 10], ["ok", "alarm", "ok"]),
        ({"q": 'temperature>5;status=="alarm"'}, [6, 10], ["alarm"]),
        # an instance is kept when q holds with it: here the other branch always holds
        ({"q": 'temperature==1|status=="alarm"'}, [1, 2, 6, 4, 4, 10], ["ok", "alarm", "ok"]),
        ({"q": 'temperature==1|status=="missing"'}, [1], ["ok", "alarm", "ok"]),
        ({"q": "temperature>50"}, None, None),
        # only the instances within the time filter count
        ({"q": "temperature>5", "timerel": "before", "timeAt": "2024-01-01T00:40:00Z"}, None, None),
        (
            {"q": "temperature<2", "timerel": "before", "timeAt": "2024-01-01T00:40:00Z"},
            [1],
            ["ok", "alarm", "ok"],
        ),
        # lastN is the latest of the instances q keeps, not q over the latest instances
        ({"q": "temperature<5", "lastN": "2"}, [4, 4], ["alarm", "ok"]),
    ],
)
async def test_q_selects_entities_and_instances_within_the_time_filter(
    client: httpx.AsyncClient,
    sensor: dict[str, Any],
    params: dict[str, str],
    temperatures: list[int] | None,
    statuses: list[str] | None,
) -> None:
    if "timerel" not in params:
        params = {**params, "timerel": "after", "timeAt": "2023-01-01T00:00:00Z"}
    found = await _query_q(client, **params)
    if temperatures is None:
        assert found == []
        return
    assert [e["id"] for e in found] == [SENSOR]
    assert [i["value"] for i in found[0]["temperature"]] == temperatures
    assert [i["value"] for i in found[0]["status"]] == statuses


async def test_scope_q_selects_temporal_entities_by_scope(client: httpx.AsyncClient) -> None:
    for n, scope in ((1, "/Seoul/Gangnam"), (2, "/Busan")):
        body = {
            "id": f"urn:ngsi-ld:Sensor:s{n}",
            "type": "Sensor",
            "scope": scope,
            "temperature": instances(READINGS[:1]),
        }
        assert (await client.post(TEMPORAL, json=body)).status_code == 201
    found = await _query_q(
        client, scopeQ="/Seoul/#", timerel="after", timeAt="2023-01-01T00:00:00Z"
    )
    assert [e["id"] for e in found] == ["urn:ngsi-ld:Sensor:s1"]


async def test_q_is_refused_on_one_entity_and_checked_for_syntax(
    client: httpx.AsyncClient, sensor: dict[str, Any]
) -> None:
    resp = await client.get(temporal_url(SENSOR), params={"q": "temperature>5"})
    assert "q is not supported" in assert_problem(resp, "BadRequestData", 400)["detail"]
    resp = await client.get(
        TEMPORAL,
        params={
            "type": "Sensor",
            "q": "temperature>>5",
            "timerel": "after",
            "timeAt": "2023-01-01T00:00:00Z",
        },
    )
    assert_problem(resp, "BadRequestData", 400)
