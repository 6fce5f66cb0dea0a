"""API tests of /ngsi-ld/v1/entities and /entities/{id}: create, retrieve in every
representation, replace, merge-patch, delete, and the round trip of every attribute type."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.conftest import load
from tests.ngsild_api import (
    CORE_CONTEXT,
    ENTITIES,
    assert_problem,
    create,
    entity_url,
    retrieve,
)

pytestmark = pytest.mark.anyio

STELLIO_ID = "urn:ngsi-ld:Entity:stellio-bench-0001"
HALL_ID = "urn:ngsi-ld:Building:gwacheon-city-hall"


def parse_time(text: str) -> datetime:
    """An NGSI-LD DateTime as an aware datetime (fails unless it is UTC with a 'Z')."""
    assert text.endswith("Z"), text
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- create ------------------------------------------------------------------------------


async def test_create_answers_201_with_the_entity_location(
    client: httpx.AsyncClient, stellio_entity: dict[str, Any]
) -> None:
    resp = await client.post(ENTITIES, json=stellio_entity)

    assert resp.status_code == 201
    assert resp.content == b""
    assert resp.headers["location"] == f"{ENTITIES}/{STELLIO_ID}"
    followed = await client.get(resp.headers["location"])
    assert followed.status_code == 200
    assert followed.json()["id"] == STELLIO_ID


async def test_create_twice_is_409_already_exists_and_keeps_the_first(
    client: httpx.AsyncClient, stellio_entity: dict[str, Any]
) -> None:
    await create(client, stellio_entity)
    second = {**stellio_entity, "name": {"type": "Property", "value": "an impostor"}}

    resp = await client.post(ENTITIES, json=second)

    assert_problem(resp, "AlreadyExists", 409)
    stored = await retrieve(client, STELLIO_ID)
    assert stored["name"]["value"] == "Name of my entity"


async def test_create_with_application_ld_json_and_inline_context(
    client: httpx.AsyncClient,
) -> None:
    body = {
        "@context": [{"Bus": "https://transit.example/Bus"}, CORE_CONTEXT],
        "id": "urn:ngsi-ld:Bus:gwacheon-3",
        "type": "Bus",
        "speed": {"type": "Property", "value": 31.5},
    }

    resp = await client.post(ENTITIES, json=body, headers={"Content-Type": "application/ld+json"})

    assert resp.status_code == 201
    stored = await retrieve(client, "urn:ngsi-ld:Bus:gwacheon-3")
    assert stored["type"] == "https://transit.example/Bus"  # no user context on the read
    assert stored["speed"] == {"type": "Property", "value": 31.5}


# --- retrieve: representations ---------------------------------------------------------


async def test_retrieve_normalized_gives_back_exactly_what_was_created(
    client: httpx.AsyncClient, stellio_entity: dict[str, Any]
) -> None:
    await create(client, stellio_entity)

    resp = await client.get(entity_url(STELLIO_ID))

    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    assert resp.headers["link"].startswith(f"<{CORE_CONTEXT}>")
    assert 'rel="http://www.w3.org/ns/json-ld#context"' in resp.headers["link"]
    assert resp.json() == stellio_entity


async def test_retrieve_key_values(
    client: httpx.AsyncClient, stellio_entity: dict[str, Any]
) -> None:
    await create(client, stellio_entity)

    body = await retrieve(client, STELLIO_ID, params={"options": "keyValues"})

    assert body == {
        "id": STELLIO_ID,
        "type": "Entity",
        "name": "Name of my entity",
        "description": "A short description of my entity",
        "stationCode": "BSS002JAWM",
        # a multi-attribute keeps its instances apart by datasetId (clause 4.5.4)
        "ammonium": {
            "dataset": {"urn:ngsi-ld:Dataset:Bottom": 0.34, "urn:ngsi-ld:Dataset:Surface": 0.41}
        },
        "dissolvedOxygen": 8.9,
        "waterTemperature": {
            "dataset": {"urn:ngsi-ld:Dataset:Bottom": 10.9, "urn:ngsi-ld:Dataset:Surface": 12.9}
        },
        "servesDataset": "urn:ngsi-ld:Dataset:SurfaceWaterMonitoring",
        "location": {"type": "Point", "coordinates": [3.53452158, 43.48562782]},
    }


async def test_format_parameter_equals_the_options_form(
    client: httpx.AsyncClient, stellio_entity: dict[str, Any]
) -> None:
    await create(client, stellio_entity)

    by_format = await retrieve(client, STELLIO_ID, params={"format": "keyValues"})
    by_option = await retrieve(client, STELLIO_ID, params={"options": "keyValues"})
    simplified = await retrieve(client, STELLIO_ID, params={"options": "simplified"})

    assert by_format == by_option == simplified


async def test_retrieve_concise(client: httpx.AsyncClient, stellio_entity: dict[str, Any]) -> None:
    await create(client, stellio_entity)

    body = await retrieve(client, STELLIO_ID, params={"format": "concise"})

    assert body["name"] == "Name of my entity"
    assert body["dissolvedOxygen"] == {
        "value": 8.9,
        "observedAt": "2023-04-01T10:00:00Z",
        "unitCode": "M1",
        "sandreCode": "1311",
    }
    assert body["ammonium"] == [
        {
            "value": 0.34,
            "observedAt": "2023-04-01T12:00:00Z",
            "unitCode": "M1",
            "datasetId": "urn:ngsi-ld:Dataset:Bottom",
        },
        {
            "value": 0.41,
            "observedAt": "2023-04-01T13:00:00Z",
            "unitCode": "M1",
            "datasetId": "urn:ngsi-ld:Dataset:Surface",
        },
    ]
    assert body["servesDataset"] == {"object": "urn:ngsi-ld:Dataset:SurfaceWaterMonitoring"}
    assert body["location"] == {"type": "Point", "coordinates": [3.53452158, 43.48562782]}


async def test_sys_attrs_adds_created_and_modified_at_everywhere(
    client: httpx.AsyncClient, stellio_entity: dict[str, Any]
) -> None:
    before = datetime.now(UTC)
    await create(client, stellio_entity)

    plain = await retrieve(client, STELLIO_ID)
    body = await retrieve(client, STELLIO_ID, params={"options": "sysAttrs"})

    assert "createdAt" not in plain and "createdAt" not in plain["name"]
    created = parse_time(body["createdAt"])
    assert created >= before.replace(microsecond=0)
    assert parse_time(body["modifiedAt"]) >= created
    for name in ("name", "dissolvedOxygen", "servesDataset", "location"):
        assert parse_time(body[name]["createdAt"]) == created
        assert parse_time(body[name]["modifiedAt"]) >= created
    assert "createdAt" in body["dissolvedOxygen"]["sandreCode"]
    assert all("createdAt" in instance for instance in body["ammonium"])


async def test_attrs_parameter_limits_the_attributes(
    client: httpx.AsyncClient, stellio_entity: dict[str, Any]
) -> None:
    await create(client, stellio_entity)

    body = await retrieve(client, STELLIO_ID, params={"attrs": "name,location"})

    assert set(body) == {"id", "type", "name", "location"}


async def test_attrs_naming_no_attribute_of_the_entity_is_404(
    client: httpx.AsyncClient, stellio_entity: dict[str, Any]
) -> None:
    await create(client, stellio_entity)

    resp = await client.get(entity_url(STELLIO_ID), params={"attrs": "noSuchAttribute"})

    assert_problem(resp, "ResourceNotFound", 404)


async def test_pick_keeps_only_the_named_members(
    client: httpx.AsyncClient, stellio_entity: dict[str, Any]
) -> None:
    await create(client, stellio_entity)

    body = await retrieve(client, STELLIO_ID, params={"pick": "id,stationCode"})

    assert body == {"id": STELLIO_ID, "stationCode": {"type": "Property", "value": "BSS002JAWM"}}


async def test_omit_drops_the_named_members(
    client: httpx.AsyncClient, stellio_entity: dict[str, Any]
) -> None:
    await create(client, stellio_entity)

    body = await retrieve(
        client, STELLIO_ID, params={"omit": "type,ammonium,waterTemperature,location"}
    )

    assert "type" not in body
    assert set(body) == {
        "id",
        "name",
        "description",
        "stationCode",
        "dissolvedOxygen",
        "servesDataset",
    }


@pytest.mark.parametrize(
    ("lang", "value", "tag"),
    [
        ("ko", "과천시청", "ko"),
        ("en", "Gwacheon City Hall", "en"),
        ("en-GB,ko;q=0.5", "Gwacheon City Hall", "en"),  # first listed range that matches
        ("ko,en", "과천시청", "ko"),
        # "*" is any language: still one string, as a Property with its lang (ETSI 018_07_03)
        ("*", "과천시청", "ko"),
        ("ko;q=0.4,en;q=0.9", "Gwacheon City Hall", "en"),  # ranked by weight
        ("fr,*;q=0.1", "과천시청", "ko"),
    ],
)
async def test_lang_turns_a_language_property_into_a_property(
    client: httpx.AsyncClient, every_kind: dict[str, Any], lang: str, value: str, tag: str
) -> None:
    await create(client, every_kind)

    body = await retrieve(client, HALL_ID, params={"lang": lang, "attrs": "name"})
    simple = await retrieve(
        client, HALL_ID, params={"lang": lang, "attrs": "name", "options": "keyValues"}
    )

    assert body["name"] == {"type": "Property", "value": value, "lang": tag}
    assert simple["name"] == value


async def test_accept_ld_json_puts_the_context_in_the_body(
    client: httpx.AsyncClient, stellio_entity: dict[str, Any]
) -> None:
    await create(client, stellio_entity)

    resp = await client.get(entity_url(STELLIO_ID), headers={"Accept": "application/ld+json"})

    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/ld+json"
    assert "link" not in resp.headers
    body = resp.json()
    assert body["@context"] == CORE_CONTEXT
    assert {k: v for k, v in body.items() if k != "@context"} == stellio_entity


async def test_accept_geo_json_gives_a_feature(
    client: httpx.AsyncClient, stellio_entity: dict[str, Any]
) -> None:
    await create(client, stellio_entity)

    resp = await client.get(
        entity_url(STELLIO_ID),
        params={"attrs": "stationCode,location"},
        headers={"Accept": "application/geo+json"},
    )

    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/geo+json"
    feature = resp.json()
    assert feature["type"] == "Feature"
    assert feature["id"] == STELLIO_ID
    assert feature["geometry"] == {"type": "Point", "coordinates": [3.53452158, 43.48562782]}
    assert feature["properties"] == {
        "type": "Entity",
        "stationCode": {"type": "Property", "value": "BSS002JAWM"},
        "location": stellio_entity["location"],
    }
    assert feature["@context"] == CORE_CONTEXT


async def test_geo_json_geometry_property_picks_another_geoproperty(
    client: httpx.AsyncClient, every_kind: dict[str, Any]
) -> None:
    await create(client, every_kind)

    resp = await client.get(
        entity_url(HALL_ID),
        params={"geometryProperty": "footprint", "options": "keyValues"},
        headers={"Accept": "application/geo+json"},
    )

    assert resp.status_code == 200
    feature = resp.json()
    assert feature["geometry"] == every_kind["footprint"]["value"]
    assert feature["properties"]["location"] == every_kind["location"]["value"]


async def test_retrieve_unknown_entity_is_404(client: httpx.AsyncClient) -> None:
    resp = await client.get(entity_url("urn:ngsi-ld:Entity:missing"))

    body = assert_problem(resp, "ResourceNotFound", 404)
    assert "urn:ngsi-ld:Entity:missing" in body["detail"]


# --- every attribute type ---------------------------------------------------------------


async def test_every_attribute_type_round_trips_normalized(
    client: httpx.AsyncClient, every_kind: dict[str, Any]
) -> None:
    await create(client, every_kind)

    assert await retrieve(client, HALL_ID) == every_kind


async def test_every_attribute_type_in_key_values(
    client: httpx.AsyncClient, every_kind: dict[str, Any]
) -> None:
    await create(client, every_kind)

    body = await retrieve(client, HALL_ID, params={"options": "keyValues"})

    assert body == {
        "id": HALL_ID,
        "type": "Building",
        "temperature": 21.5,
        "owner": "urn:ngsi-ld:Organization:gwacheon-city",
        "location": every_kind["location"]["value"],
        "footprint": every_kind["footprint"]["value"],
        # these keep their value member: the core @context gives it its meaning (4.5.4)
        "name": {"languageMap": {"ko": "과천시청", "en": "Gwacheon City Hall"}},
        "openingHours": {"json": every_kind["openingHours"]["json"]},
        "floorAreas": {"valueList": [1200, 1150, 980]},
        "evacuationRoute": {"objectList": ["urn:ngsi-ld:Exit:east", "urn:ngsi-ld:Exit:north"]},
        "category": {"vocab": "office"},
        "address": every_kind["address"]["value"],
    }


async def test_every_attribute_type_in_concise(
    client: httpx.AsyncClient, every_kind: dict[str, Any]
) -> None:
    await create(client, every_kind)

    body = await retrieve(client, HALL_ID, params={"format": "concise"})

    assert body["temperature"] == {
        "value": 21.5,
        "unitCode": "CEL",
        "observedAt": "2026-03-02T09:00:00Z",
        "accuracy": {"value": 0.5, "unitCode": "CEL"},
        "measuredBy": {"object": "urn:ngsi-ld:Device:thermometer-7"},
    }
    assert body["owner"] == {
        "object": "urn:ngsi-ld:Organization:gwacheon-city",
        "objectType": "Organization",
        "since": "1986-01-01",
    }
    assert body["location"] == every_kind["location"]["value"]
    assert body["name"] == {"languageMap": every_kind["name"]["languageMap"]}
    assert body["openingHours"] == {"json": every_kind["openingHours"]["json"]}
    assert body["floorAreas"] == {"valueList": [1200, 1150, 980], "unitCode": "MTK"}
    assert body["evacuationRoute"] == {"objectList": every_kind["evacuationRoute"]["objectList"]}
    assert body["category"] == {"vocab": "office"}
    assert body["address"] == {"value": every_kind["address"]["value"]}


async def test_concise_input_is_stored_as_its_normalized_form(client: httpx.AsyncClient) -> None:
    await create(client, load("entity-concise.json"))

    body = await retrieve(client, "urn:ngsi-ld:Sensor:concise-1")

    assert body == load("entity-concise-as-normalized.json")


async def test_concise_output_creates_the_same_entity_again(
    client: httpx.AsyncClient, every_kind: dict[str, Any]
) -> None:
    await create(client, every_kind)
    concise = await retrieve(client, HALL_ID, params={"format": "concise"})
    copy_id = "urn:ngsi-ld:Building:gwacheon-city-hall-copy"

    await create(client, {**concise, "id": copy_id})

    assert await retrieve(client, copy_id) == {**every_kind, "id": copy_id}


# --- replace (PUT) -----------------------------------------------------------------------


async def test_put_replaces_every_attribute_and_keeps_created_at(
    client: httpx.AsyncClient, stellio_entity: dict[str, Any]
) -> None:
    await create(client, stellio_entity)
    before = await retrieve(client, STELLIO_ID, params={"options": "sysAttrs"})
    replacement = {
        "type": "Entity",
        "stationCode": {"type": "Property", "value": "BSS009ZZZZ"},
        "depth": {"type": "Property", "value": 12, "unitCode": "MTR"},
    }

    resp = await client.put(entity_url(STELLIO_ID), json=replacement)

    assert resp.status_code == 204
    after = await retrieve(client, STELLIO_ID, params={"options": "sysAttrs"})
    assert set(after) == {"id", "type", "createdAt", "modifiedAt", "stationCode", "depth"}
    assert after["stationCode"]["value"] == "BSS009ZZZZ"
    assert after["depth"]["unitCode"] == "MTR"
    assert after["createdAt"] == before["createdAt"]
    assert parse_time(after["modifiedAt"]) >= parse_time(before["modifiedAt"])


async def test_put_on_a_missing_entity_is_404_and_creates_nothing(
    client: httpx.AsyncClient,
) -> None:
    url = entity_url("urn:ngsi-ld:Entity:ghost")

    resp = await client.put(url, json={"type": "Entity", "a": {"type": "Property", "value": 1}})

    assert_problem(resp, "ResourceNotFound", 404)
    assert (await client.get(url)).status_code == 404


# --- merge-patch (PATCH /entities/{id}) -------------------------------------------------


async def test_merge_patch_adds_merges_and_deletes_with_ngsi_ld_null(
    client: httpx.AsyncClient, stellio_entity: dict[str, Any]
) -> None:
    await create(client, stellio_entity)

    resp = await client.patch(
        entity_url(STELLIO_ID),
        json={
            "dissolvedOxygen": {"value": 9.4},  # value only: metadata and sub-property stay
            "description": "urn:ngsi-ld:null",
            "turbidity": {"type": "Property", "value": 3.1, "unitCode": "NTU"},
        },
    )

    assert resp.status_code == 204
    body = await retrieve(client, STELLIO_ID)
    assert "description" not in body
    assert body["turbidity"] == {"type": "Property", "value": 3.1, "unitCode": "NTU"}
    assert body["dissolvedOxygen"] == {**stellio_entity["dissolvedOxygen"], "value": 9.4}
    assert body["name"] == stellio_entity["name"]


async def test_merge_patch_accepts_application_merge_patch_json(
    client: httpx.AsyncClient, stellio_entity: dict[str, Any]
) -> None:
    await create(client, stellio_entity)

    resp = await client.patch(
        entity_url(STELLIO_ID),
        content=b'{"stationCode": {"type": "Property", "value": "BSS003"}}',
        headers={"Content-Type": "application/merge-patch+json"},
    )

    assert resp.status_code == 204
    assert (await retrieve(client, STELLIO_ID))["stationCode"]["value"] == "BSS003"


async def test_merge_patch_null_removes_only_the_named_dataset_instance(
    client: httpx.AsyncClient, stellio_entity: dict[str, Any]
) -> None:
    await create(client, stellio_entity)

    resp = await client.patch(
        entity_url(STELLIO_ID),
        json={
            "ammonium": {
                "type": "Property",
                "value": "urn:ngsi-ld:null",
                "datasetId": "urn:ngsi-ld:Dataset:Bottom",
            }
        },
    )

    assert resp.status_code == 204
    body = await retrieve(client, STELLIO_ID)
    assert body["ammonium"] == stellio_entity["ammonium"][1]


async def test_merge_patch_adds_entity_types(
    client: httpx.AsyncClient, stellio_entity: dict[str, Any]
) -> None:
    await create(client, stellio_entity)

    resp = await client.patch(entity_url(STELLIO_ID), json={"type": "WaterQualityStation"})

    assert resp.status_code == 204
    assert (await retrieve(client, STELLIO_ID))["type"] == ["Entity", "WaterQualityStation"]


async def test_merge_patch_of_a_missing_entity_is_404(client: httpx.AsyncClient) -> None:
    resp = await client.patch(entity_url("urn:ngsi-ld:Entity:ghost"), json={"a": 1})

    assert_problem(resp, "ResourceNotFound", 404)


async def test_merge_patch_updates_modified_at_only(
    client: httpx.AsyncClient, stellio_entity: dict[str, Any]
) -> None:
    await create(client, stellio_entity)
    before = await retrieve(client, STELLIO_ID, params={"options": "sysAttrs"})

    await client.patch(entity_url(STELLIO_ID), json={"stationCode": "BSS004"})

    after = await retrieve(client, STELLIO_ID, params={"options": "sysAttrs"})
    assert after["createdAt"] == before["createdAt"]
    assert after["stationCode"]["createdAt"] == before["stationCode"]["createdAt"]
    assert parse_time(after["stationCode"]["modifiedAt"]) >= parse_time(
        before["stationCode"]["modifiedAt"]
    )
    assert after["name"] == before["name"]  # untouched attributes keep their timestamps


# --- delete ------------------------------------------------------------------------------


async def test_delete_removes_the_entity(
    client: httpx.AsyncClient, stellio_entity: dict[str, Any]
) -> None:
    await create(client, stellio_entity)

    resp = await client.delete(entity_url(STELLIO_ID))

    assert resp.status_code == 204
    assert_problem(await client.get(entity_url(STELLIO_ID)), "ResourceNotFound", 404)
    assert_problem(await client.delete(entity_url(STELLIO_ID)), "ResourceNotFound", 404)


async def test_delete_leaves_other_entities_alone(
    client: httpx.AsyncClient, stellio_entity: dict[str, Any]
) -> None:
    other = copy.deepcopy(stellio_entity)
    other["id"] = "urn:ngsi-ld:Entity:stellio-bench-0002"
    await create(client, stellio_entity)
    await create(client, other)

    await client.delete(entity_url(STELLIO_ID))

    assert await retrieve(client, other["id"]) == other


# --- as the ETSI conformance suite exercises them ----------------------------------------


@pytest.mark.parametrize(
    ("name", "null"),
    [
        ("temperature", {"type": "Property", "value": "urn:ngsi-ld:null"}),
        ("owner", {"type": "Relationship", "object": "urn:ngsi-ld:null"}),
        ("location", {"type": "GeoProperty", "value": "urn:ngsi-ld:null"}),
        ("name", {"type": "LanguageProperty", "languageMap": {"@none": "urn:ngsi-ld:null"}}),
        ("name", {"languageMap": {"@none": "urn:ngsi-ld:null"}}),
        ("openingHours", {"type": "JsonProperty", "json": "urn:ngsi-ld:null"}),
        ("floorAreas", {"type": "ListProperty", "valueList": ["urn:ngsi-ld:null"]}),
        ("evacuationRoute", {"type": "ListRelationship", "objectList": ["urn:ngsi-ld:null"]}),
        ("category", {"type": "VocabProperty", "vocab": "urn:ngsi-ld:null"}),
        ("address", "urn:ngsi-ld:null"),
    ],
)
async def test_merge_patch_null_of_every_attribute_type_deletes_it(
    client: httpx.AsyncClient, every_kind: dict[str, Any], name: str, null: Any
) -> None:
    await create(client, every_kind)

    resp = await client.patch(entity_url(HALL_ID), json={name: null})

    assert resp.status_code == 204
    body = await retrieve(client, HALL_ID)
    assert name not in body
    assert body == {k: v for k, v in every_kind.items() if k != name}


async def test_an_ngsi_ld_null_at_creation_leaves_the_attribute_out(
    client: httpx.AsyncClient,
) -> None:
    await create(
        client,
        {
            "id": HALL_ID,
            "type": "Building",
            "name": {"type": "LanguageProperty", "languageMap": {"@none": "urn:ngsi-ld:null"}},
            "height": {"type": "Property", "value": 12},
        },
    )

    assert await retrieve(client, HALL_ID) == {
        "id": HALL_ID,
        "type": "Building",
        "height": {"type": "Property", "value": 12},
    }


async def test_merge_patch_replaces_or_deletes_the_scope(client: httpx.AsyncClient) -> None:
    await create(client, {"id": HALL_ID, "type": "Building", "scope": "/Gwacheon"})

    replaced = await client.patch(entity_url(HALL_ID), json={"scope": ["/Seoul", "/Korea"]})
    scope = (await retrieve(client, HALL_ID))["scope"]
    deleted = await client.patch(entity_url(HALL_ID), json={"scope": "urn:ngsi-ld:null"})

    assert (replaced.status_code, deleted.status_code) == (204, 204)
    assert scope == ["/Seoul", "/Korea"]
    assert "scope" not in await retrieve(client, HALL_ID)


@pytest.mark.parametrize(
    "params",
    [
        {"pick": "unknown"},
        {
            "omit": "id,type,name,description,stationCode,ammonium,"
            "dissolvedOxygen,waterTemperature,servesDataset,location"
        },
    ],
)
async def test_retrieve_leaving_nothing_after_pick_or_omit_is_404(
    client: httpx.AsyncClient, stellio_entity: dict[str, Any], params: dict[str, str]
) -> None:
    await create(client, stellio_entity)

    resp = await client.get(entity_url(STELLIO_ID), params=params)

    assert_problem(resp, "ResourceNotFound", 404)


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"format": "invalidFormat"}, "InvalidRequest"),
        ({"options": "keyValues,invalid"}, "InvalidRequest"),
        ({"format": "keyValues", "options": "invalid"}, "InvalidRequest"),
        ({"pick": "name", "attrs": "name"}, "BadRequestData"),
        ({"omit": "name", "attrs": "name"}, "BadRequestData"),
        ({"pick": "id;name"}, "BadRequestData"),
        ({"pick": "id,,name"}, "BadRequestData"),
        ({"pick": "id,locatedAt{name"}, "BadRequestData"),
        ({"pick": "id,locatedAt{}"}, "BadRequestData"),
        ({"attrs": "id,type"}, "BadRequestData"),
    ],
)
async def test_retrieve_rejects_bad_representation_parameters_before_looking(
    client: httpx.AsyncClient, params: dict[str, str], problem: str
) -> None:
    resp = await client.get(entity_url(STELLIO_ID), params=params)  # the entity does not exist

    assert_problem(resp, problem, 400)


async def test_retrieve_with_dataset_id_keeps_only_those_instances(
    client: httpx.AsyncClient, stellio_entity: dict[str, Any]
) -> None:
    await create(client, stellio_entity)
    bottom = "urn:ngsi-ld:Dataset:Bottom"

    one = await retrieve(client, STELLIO_ID, params={"datasetId": bottom})
    default = await retrieve(client, STELLIO_ID, params={"datasetId": "@none", "attrs": "name"})

    assert set(one) == {"id", "type", "ammonium", "waterTemperature"}
    assert one["ammonium"] == stellio_entity["ammonium"][0]
    assert default == {"id": STELLIO_ID, "type": "Entity", "name": stellio_entity["name"]}
    resp = await client.get(entity_url(STELLIO_ID), params={"datasetId": "not a uri"})
    assert_problem(resp, "BadRequestData", 400)
