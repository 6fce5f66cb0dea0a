"""API tests of /ngsi-ld/v1/entityOperations: create, upsert (replace and update modes),
update, delete and query; a bad entity in a batch fails alone."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.ngsild_api import (
    BATCH,
    CORE_CONTEXT,
    LD_JSON,
    PROBLEM_BASE,
    assert_problem,
    create_many,
    entity_url,
    link,
    retrieve,
)

pytestmark = pytest.mark.anyio


def sensor(n: int, **attrs: Any) -> dict[str, Any]:
    """A small Sensor entity with Property attributes."""
    entity: dict[str, Any] = {"id": f"urn:ngsi-ld:Sensor:{n}", "type": "Sensor"}
    entity.update({name: {"type": "Property", "value": v} for name, v in attrs.items()})
    return entity


def errors_by_id(report: dict[str, Any]) -> dict[str, str]:
    """entityId -> ProblemDetails type name, from a 207 batch report."""
    out: dict[str, str] = {}
    for item in report["errors"]:
        assert item["error"]["type"].startswith(PROBLEM_BASE)
        assert item["error"]["status"] >= 400
        out[item["entityId"]] = item["error"]["type"].removeprefix(PROBLEM_BASE)
    return out


async def exists(client: httpx.AsyncClient, entity_id: str) -> bool:
    """True if GET /entities/{id} finds the entity."""
    return (await client.get(entity_url(entity_id))).status_code == 200


# --- create ------------------------------------------------------------------------------


async def test_create_answers_201_with_the_created_ids(client: httpx.AsyncClient) -> None:
    resp = await client.post(f"{BATCH}/create", json=[sensor(1, level=1), sensor(2, level=2)])

    assert resp.status_code == 201
    assert resp.json() == ["urn:ngsi-ld:Sensor:1", "urn:ngsi-ld:Sensor:2"]
    assert (await retrieve(client, "urn:ngsi-ld:Sensor:2"))["level"]["value"] == 2


async def test_create_with_bad_entities_is_207_and_creates_the_good_ones(
    client: httpx.AsyncClient,
) -> None:
    await create_many(client, [sensor(1, level=1)])
    batch = [
        sensor(2, level=2),
        sensor(1, level=99),  # exists already
        {"id": "not a uri", "type": "Sensor"},
        {"id": "urn:ngsi-ld:Sensor:4"},  # no type
        {"id": "urn:ngsi-ld:Sensor:5", "type": "Sensor", "level": {"type": "Property"}},
        sensor(6, level=6),
    ]

    resp = await client.post(f"{BATCH}/create", json=batch)

    assert resp.status_code == 207
    report = resp.json()
    assert sorted(report["success"]) == ["urn:ngsi-ld:Sensor:2", "urn:ngsi-ld:Sensor:6"]
    assert errors_by_id(report) == {
        "urn:ngsi-ld:Sensor:1": "AlreadyExists",
        "not a uri": "BadRequestData",
        "urn:ngsi-ld:Sensor:4": "BadRequestData",
        "urn:ngsi-ld:Sensor:5": "BadRequestData",
    }
    assert await exists(client, "urn:ngsi-ld:Sensor:6")
    assert not await exists(client, "urn:ngsi-ld:Sensor:5")
    assert (await retrieve(client, "urn:ngsi-ld:Sensor:1"))["level"]["value"] == 1


async def test_create_with_ld_json_takes_each_entitys_own_context(
    client: httpx.AsyncClient,
) -> None:
    vendor = {"level": "https://vendor.example/waterLevel"}
    batch = [
        {**sensor(1, level=1), "@context": [vendor, CORE_CONTEXT]},
        {**sensor(2, level=2), "@context": CORE_CONTEXT},
        sensor(3, level=3),  # no @context: not valid JSON-LD for this request
    ]

    resp = await client.post(f"{BATCH}/create", json=batch, headers=LD_JSON)

    assert resp.status_code == 207
    assert errors_by_id(resp.json()) == {"urn:ngsi-ld:Sensor:3": "BadRequestData"}
    one = await retrieve(client, "urn:ngsi-ld:Sensor:1")
    two = await retrieve(client, "urn:ngsi-ld:Sensor:2")
    assert "https://vendor.example/waterLevel" in one
    assert "level" in two


@pytest.mark.parametrize("body", [[], {"id": "urn:ngsi-ld:Sensor:1"}, "urn:ngsi-ld:Sensor:1"])
async def test_create_needs_a_non_empty_array(client: httpx.AsyncClient, body: Any) -> None:
    resp = await client.post(f"{BATCH}/create", json=body)

    assert_problem(resp, "BadRequestData", 400)


# --- upsert ------------------------------------------------------------------------------


async def test_upsert_of_new_entities_is_201_with_their_ids(client: httpx.AsyncClient) -> None:
    resp = await client.post(f"{BATCH}/upsert", json=[sensor(1, level=1), sensor(2, level=2)])

    assert resp.status_code == 201
    assert resp.json() == ["urn:ngsi-ld:Sensor:1", "urn:ngsi-ld:Sensor:2"]
    assert await exists(client, "urn:ngsi-ld:Sensor:2")


async def test_upsert_replaces_existing_entities_by_default(client: httpx.AsyncClient) -> None:
    await create_many(client, [sensor(1, level=1, battery=0.9)])

    resp = await client.post(f"{BATCH}/upsert", json=[sensor(1, level=5)])

    assert resp.status_code == 204
    body = await retrieve(client, "urn:ngsi-ld:Sensor:1")
    assert body == sensor(1, level=5)  # battery is gone: the entity was replaced


async def test_upsert_replace_option_is_the_default(client: httpx.AsyncClient) -> None:
    await create_many(client, [sensor(1, level=1, battery=0.9)])

    resp = await client.post(
        f"{BATCH}/upsert", params={"options": "replace"}, json=[sensor(1, level=5)]
    )

    assert resp.status_code == 204
    assert await retrieve(client, "urn:ngsi-ld:Sensor:1") == sensor(1, level=5)


async def test_upsert_update_mode_merges_attributes(client: httpx.AsyncClient) -> None:
    await create_many(client, [sensor(1, level=1, battery=0.9)])

    resp = await client.post(
        f"{BATCH}/upsert", params={"options": "update"}, json=[sensor(1, level=5, tilt=2)]
    )

    assert resp.status_code == 204
    assert await retrieve(client, "urn:ngsi-ld:Sensor:1") == sensor(1, level=5, battery=0.9, tilt=2)


async def test_upsert_with_a_bad_entity_is_207_and_upserts_the_rest(
    client: httpx.AsyncClient,
) -> None:
    await create_many(client, [sensor(1, level=1)])

    resp = await client.post(
        f"{BATCH}/upsert",
        json=[sensor(1, level=7), {"id": "urn:ngsi-ld:Sensor:2", "type": 5}, sensor(3, level=3)],
    )

    assert resp.status_code == 207
    report = resp.json()
    assert sorted(report["success"]) == ["urn:ngsi-ld:Sensor:1", "urn:ngsi-ld:Sensor:3"]
    assert errors_by_id(report) == {"urn:ngsi-ld:Sensor:2": "BadRequestData"}
    assert (await retrieve(client, "urn:ngsi-ld:Sensor:1"))["level"]["value"] == 7
    assert await exists(client, "urn:ngsi-ld:Sensor:3")


# --- update ------------------------------------------------------------------------------


async def test_update_changes_and_adds_attributes_of_existing_entities(
    client: httpx.AsyncClient,
) -> None:
    await create_many(client, [sensor(1, level=1, battery=0.9), sensor(2, level=2)])

    resp = await client.post(f"{BATCH}/update", json=[sensor(1, level=10), sensor(2, tilt=4)])

    assert resp.status_code == 204
    assert await retrieve(client, "urn:ngsi-ld:Sensor:1") == sensor(1, level=10, battery=0.9)
    assert await retrieve(client, "urn:ngsi-ld:Sensor:2") == sensor(2, level=2, tilt=4)


async def test_update_of_a_missing_entity_is_207_and_creates_nothing(
    client: httpx.AsyncClient,
) -> None:
    await create_many(client, [sensor(1, level=1)])

    resp = await client.post(f"{BATCH}/update", json=[sensor(1, level=10), sensor(9, level=9)])

    assert resp.status_code == 207
    report = resp.json()
    assert report["success"] == ["urn:ngsi-ld:Sensor:1"]
    assert errors_by_id(report) == {"urn:ngsi-ld:Sensor:9": "ResourceNotFound"}
    assert not await exists(client, "urn:ngsi-ld:Sensor:9")
    assert (await retrieve(client, "urn:ngsi-ld:Sensor:1"))["level"]["value"] == 10


async def test_update_no_overwrite_only_adds(client: httpx.AsyncClient) -> None:
    await create_many(client, [sensor(1, level=1)])

    resp = await client.post(
        f"{BATCH}/update", params={"options": "noOverwrite"}, json=[sensor(1, level=10, tilt=3)]
    )

    assert resp.status_code == 204
    assert await retrieve(client, "urn:ngsi-ld:Sensor:1") == sensor(1, level=1, tilt=3)


# --- delete ------------------------------------------------------------------------------


async def test_delete_removes_the_listed_entities(client: httpx.AsyncClient) -> None:
    await create_many(client, [sensor(1), sensor(2), sensor(3)])

    resp = await client.post(
        f"{BATCH}/delete", json=["urn:ngsi-ld:Sensor:1", "urn:ngsi-ld:Sensor:3"]
    )

    assert resp.status_code == 204
    assert [await exists(client, f"urn:ngsi-ld:Sensor:{n}") for n in (1, 2, 3)] == [
        False,
        True,
        False,
    ]


async def test_delete_with_missing_and_invalid_ids_is_207(client: httpx.AsyncClient) -> None:
    await create_many(client, [sensor(1), sensor(2)])

    resp = await client.post(
        f"{BATCH}/delete", json=["urn:ngsi-ld:Sensor:1", "urn:ngsi-ld:Sensor:8", "nonsense"]
    )

    assert resp.status_code == 207
    report = resp.json()
    assert report["success"] == ["urn:ngsi-ld:Sensor:1"]
    assert errors_by_id(report) == {
        "urn:ngsi-ld:Sensor:8": "ResourceNotFound",
        "nonsense": "BadRequestData",
    }
    assert await exists(client, "urn:ngsi-ld:Sensor:2")


# --- query -------------------------------------------------------------------------------


@pytest.fixture
async def sensors(client: httpx.AsyncClient) -> None:
    """Four sensors: two Sensor, one Gauge, one both; levels 1..4."""
    await create_many(
        client,
        [
            sensor(1, level=1, battery=0.9),
            sensor(2, level=2, battery=0.2),
            {**sensor(3, level=3), "type": "Gauge"},
            {**sensor(4, level=4, battery=0.5), "type": ["Sensor", "Gauge"]},
        ],
    )


async def post_query(client: httpx.AsyncClient, body: dict[str, Any], **kw: Any) -> list[str]:
    """The ids POST /entityOperations/query answers with."""
    resp = await client.post(f"{BATCH}/query", json={"type": "Query", **body}, **kw)
    assert resp.status_code == 200, resp.text
    return [e["id"] for e in resp.json()]


@pytest.mark.usefixtures("sensors")
async def test_query_by_entity_selectors(client: httpx.AsyncClient) -> None:
    assert await post_query(client, {"entities": [{"type": "Gauge"}]}) == [
        "urn:ngsi-ld:Sensor:3",
        "urn:ngsi-ld:Sensor:4",
    ]
    assert await post_query(
        client, {"entities": [{"id": "urn:ngsi-ld:Sensor:2", "type": "Sensor"}]}
    ) == ["urn:ngsi-ld:Sensor:2"]
    assert await post_query(
        client, {"entities": [{"idPattern": "Sensor:[13]$", "type": "Sensor"}]}
    ) == ["urn:ngsi-ld:Sensor:1"]


@pytest.mark.usefixtures("sensors")
async def test_query_by_q(client: httpx.AsyncClient) -> None:
    ids = await post_query(client, {"entities": [{"type": "Sensor"}], "q": "level>1;battery<0.6"})

    assert ids == ["urn:ngsi-ld:Sensor:2", "urn:ngsi-ld:Sensor:4"]


@pytest.mark.usefixtures("sensors")
async def test_query_attrs_select_and_project(client: httpx.AsyncClient) -> None:
    resp = await client.post(f"{BATCH}/query", json={"type": "Query", "attrs": ["battery"]})

    assert resp.status_code == 200
    assert resp.json() == [
        {"id": f"urn:ngsi-ld:Sensor:{n}", "type": t, "battery": {"type": "Property", "value": b}}
        for n, t, b in [(1, "Sensor", 0.9), (2, "Sensor", 0.2), (4, ["Sensor", "Gauge"], 0.5)]
    ]


async def test_query_by_geo_q(client: httpx.AsyncClient, places: list[dict[str, Any]]) -> None:
    await create_many(client, places)

    ids = await post_query(
        client,
        {
            "entities": [{"type": "Place"}],
            "geoQ": {
                "georel": "near;maxDistance==500",
                "geometry": "Point",
                "coordinates": [126.9876, 37.4292],
            },
        },
    )

    assert ids == ["urn:ngsi-ld:Place:city-hall", "urn:ngsi-ld:Place:library"]


@pytest.mark.usefixtures("sensors")
async def test_query_pages_and_counts(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        f"{BATCH}/query",
        params={"limit": 2, "offset": 1, "count": "true"},
        json={"type": "Query", "entities": [{"type": "Sensor"}]},
    )

    assert resp.status_code == 200
    assert resp.headers["ngsild-results-count"] == "3"
    assert [e["id"] for e in resp.json()] == ["urn:ngsi-ld:Sensor:2", "urn:ngsi-ld:Sensor:4"]


@pytest.mark.usefixtures("sensors")
async def test_query_in_key_values_with_a_link_context(
    client: httpx.AsyncClient, context_server: str
) -> None:
    resp = await client.post(
        f"{BATCH}/query",
        params={"options": "keyValues"},
        json={"type": "Query", "entities": [{"id": "urn:ngsi-ld:Sensor:1", "type": "Sensor"}]},
        headers=link(f"{context_server}/context-sensors-b.json"),
    )

    assert resp.status_code == 200
    assert resp.json() == [
        {"id": "urn:ngsi-ld:Sensor:1", "type": "Sensor", "level": 1, "battery": 0.9}
    ]
    assert resp.headers["link"].startswith(f"<{context_server}/context-sensors-b.json>")


@pytest.mark.usefixtures("sensors")
async def test_query_without_any_selector_is_400(client: httpx.AsyncClient) -> None:
    resp = await client.post(f"{BATCH}/query", json={"type": "Query"})

    assert_problem(resp, "BadRequestData", 400)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"entities": [{"type": "Sensor"}]}, "BadRequestData"),  # "type": "Query" missing
        ({"type": "Query", "entities": {"type": "Sensor"}}, "BadRequestData"),
        ({"type": "Query", "entities": [{"id": "nonsense"}]}, "BadRequestData"),
        ({"type": "Query", "entities": [{"type": {"name": "Sensor"}}]}, "BadRequestData"),
        ({"type": "Query", "entities": [{"type": "Sensor", "idPattern": 5}]}, "BadRequestData"),
        ({"type": "Query", "q": "level>"}, "BadRequestData"),
        ({"type": "Query", "attrs": "level"}, "BadRequestData"),
        (
            {
                "type": "Query",
                "geoQ": {"georel": "nearby", "geometry": "Point", "coordinates": [1, 2]},
            },
            "BadRequestData",
        ),
        (
            {
                "type": "Query",
                "geoQ": {
                    "georel": "within",
                    "geometry": "Point",
                    "coordinates": [1, 2],
                    "geoproperty": 5,
                },
            },
            "BadRequestData",
        ),
    ],
)
async def test_query_rejects_malformed_query_objects(
    client: httpx.AsyncClient, body: dict[str, Any], problem: str
) -> None:
    resp = await client.post(f"{BATCH}/query", json=body)

    assert_problem(resp, problem, 400)


# --- as the ETSI conformance suite exercises them ----------------------------------------


async def test_upsert_of_new_and_existing_entities_is_201_with_the_new_ids(
    client: httpx.AsyncClient,
) -> None:
    # clause 5.6.8: 201 and the ids of the entities created when some were; 204 when none was
    await create_many(client, [sensor(1, level=1)])

    resp = await client.post(
        f"{BATCH}/upsert", json=[sensor(2, level=2), sensor(1, level=5), sensor(2, level=3)]
    )

    assert resp.status_code == 201
    assert resp.json() == ["urn:ngsi-ld:Sensor:2"]
    assert await retrieve(client, "urn:ngsi-ld:Sensor:1") == sensor(1, level=5)
    assert await retrieve(client, "urn:ngsi-ld:Sensor:2") == sensor(2, level=3)  # later wins


async def test_update_adds_the_types_of_each_entity(client: httpx.AsyncClient) -> None:
    await create_many(client, [sensor(1, level=1)])

    gauge = {**sensor(1, level=2), "type": "Gauge"}
    resp = await client.post(f"{BATCH}/update", json=[gauge])

    assert resp.status_code == 204
    body = await retrieve(client, "urn:ngsi-ld:Sensor:1")
    assert body["type"] == ["Sensor", "Gauge"]
    assert body["level"]["value"] == 2


async def test_merge_patches_each_entity_and_answers_204(client: httpx.AsyncClient) -> None:
    await create_many(client, [sensor(1, level=1, battery=0.9), sensor(2, level=2, battery=0.5)])

    resp = await client.post(
        f"{BATCH}/merge",
        json=[
            {"id": "urn:ngsi-ld:Sensor:1", "level": {"value": 7}, "battery": "urn:ngsi-ld:null"},
            {
                "id": "urn:ngsi-ld:Sensor:2",
                "type": "Gauge",
                "tilt": {"type": "Property", "value": 3},
            },
        ],
    )

    assert resp.status_code == 204
    assert resp.content == b""
    assert await retrieve(client, "urn:ngsi-ld:Sensor:1") == sensor(1, level=7)
    assert await retrieve(client, "urn:ngsi-ld:Sensor:2") == {
        **sensor(2, level=2, battery=0.5, tilt=3),
        "type": ["Sensor", "Gauge"],
    }


async def test_merge_of_a_missing_or_bad_entity_is_207_and_merges_the_rest(
    client: httpx.AsyncClient,
) -> None:
    await create_many(client, [sensor(1, level=1)])

    resp = await client.post(
        f"{BATCH}/merge",
        json=[
            {"id": "urn:ngsi-ld:Sensor:1", "level": {"value": 2}},
            {"id": "urn:ngsi-ld:Sensor:9", "level": {"value": 2}},
            {"id": "urn:ngsi-ld:Sensor:1", "name": {"type": "Property", "value": None}},
        ],
    )

    assert resp.status_code == 207
    report = resp.json()
    assert report["success"] == ["urn:ngsi-ld:Sensor:1"]
    assert errors_by_id(report) == {
        "urn:ngsi-ld:Sensor:9": "ResourceNotFound",
        "urn:ngsi-ld:Sensor:1": "BadRequestData",
    }
    assert (await retrieve(client, "urn:ngsi-ld:Sensor:1"))["level"]["value"] == 2


async def test_query_answers_geo_json_when_asked(
    client: httpx.AsyncClient, places: list[dict[str, Any]]
) -> None:
    await create_many(client, places)

    resp = await client.post(
        f"{BATCH}/query",
        json={
            "type": "Query",
            "entities": [{"id": "urn:ngsi-ld:Place:city-hall", "type": "Place"}],
        },
        headers={"Accept": "application/geo+json"},
    )

    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/geo+json"
    body = resp.json()
    assert body["type"] == "FeatureCollection"
    assert body["@context"] == CORE_CONTEXT
    (feature,) = body["features"]
    assert feature["id"] == "urn:ngsi-ld:Place:city-hall"
    assert feature["geometry"]["type"] == "Point"


async def test_an_entity_twice_in_one_batch_is_written_in_order(client: httpx.AsyncClient) -> None:
    """A device's two readings in one batch (an ingest gateway's): the second sees the first,
    and queries find the last value only."""
    batch = [
        sensor(1, temp=20, hum=50),
        sensor(2, temp=5),
        sensor(1, temp=21),
        sensor(3, temp=7),
        sensor(1, temp=22),
    ]
    r = await client.post(f"{BATCH}/upsert?options=update", json=batch)
    assert r.status_code == 201 and sorted(r.json()) == [
        f"urn:ngsi-ld:Sensor:{n}" for n in (1, 2, 3)
    ]
    one = await retrieve(client, "urn:ngsi-ld:Sensor:1")
    assert one["temp"]["value"] == 22 and one["hum"]["value"] == 50  # updates kept the rest
    for q, found in (("temp==22", ["1"]), ("temp==20", []), ("temp==21", []), ("hum==50", ["1"])):
        r = await client.get("/ngsi-ld/v1/entities", params={"type": "Sensor", "q": q})
        assert [e["id"].rsplit(":", 1)[1] for e in r.json()] == found, q
