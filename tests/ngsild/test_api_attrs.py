"""API tests of /entities/{id}/attrs and /entities/{id}/attrs/{attr}: append, update,
partial update, replace and delete of attributes, including multi-attributes (datasetId)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.ngsild_api import DEFAULT_VOCAB, assert_problem, create, entity_url, retrieve

pytestmark = pytest.mark.anyio

STATION = "urn:ngsi-ld:Entity:stellio-bench-0001"
ATTRS = entity_url(STATION) + "/attrs"
BOTTOM, SURFACE = "urn:ngsi-ld:Dataset:Bottom", "urn:ngsi-ld:Dataset:Surface"


@pytest.fixture
async def station(client: httpx.AsyncClient, stellio_entity: dict[str, Any]) -> dict[str, Any]:
    """The Stellio benchmark entity, created; returns its payload."""
    await create(client, stellio_entity)
    return stellio_entity


# --- append (POST .../attrs) -------------------------------------------------------------


async def test_append_adds_new_and_overwrites_existing_attributes(
    client: httpx.AsyncClient, station: dict[str, Any]
) -> None:
    resp = await client.post(
        ATTRS,
        json={
            "stationCode": {"type": "Property", "value": "BSS777"},
            "turbidity": {"type": "Property", "value": 3.1, "unitCode": "NTU"},
        },
    )

    assert resp.status_code == 204
    body = await retrieve(client, STATION)
    assert body["stationCode"] == {"type": "Property", "value": "BSS777"}
    assert body["turbidity"] == {"type": "Property", "value": 3.1, "unitCode": "NTU"}
    assert body["name"] == station["name"]


async def test_append_no_overwrite_is_207_listing_what_was_not_updated(
    client: httpx.AsyncClient, station: dict[str, Any]
) -> None:
    resp = await client.post(
        ATTRS,
        params={"options": "noOverwrite"},
        json={
            "stationCode": {"type": "Property", "value": "BSS777"},
            "turbidity": {"type": "Property", "value": 3.1},
        },
    )

    assert resp.status_code == 207
    report = resp.json()
    # expanded attribute names, as the ETSI suite expects (010_04_01)
    assert report["updated"] == [DEFAULT_VOCAB + "turbidity"]
    assert [n["attributeName"] for n in report["notUpdated"]] == [DEFAULT_VOCAB + "stationCode"]
    assert isinstance(report["notUpdated"][0]["reason"], str)
    body = await retrieve(client, STATION)
    assert body["stationCode"] == station["stationCode"]
    assert body["turbidity"]["value"] == 3.1


async def test_append_no_overwrite_with_only_new_attributes_is_204(
    client: httpx.AsyncClient, station: dict[str, Any]
) -> None:
    resp = await client.post(
        ATTRS,
        params={"options": "noOverwrite"},
        json={"salinity": {"type": "Property", "value": 0.2}},
    )

    assert resp.status_code == 204
    assert (await retrieve(client, STATION))["salinity"]["value"] == 0.2


async def test_append_to_a_missing_entity_is_404(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        entity_url("urn:ngsi-ld:Entity:ghost") + "/attrs",
        json={"a": {"type": "Property", "value": 1}},
    )

    assert_problem(resp, "ResourceNotFound", 404)


# --- update (PATCH .../attrs) ------------------------------------------------------------


async def test_update_changes_existing_attributes_with_204(
    client: httpx.AsyncClient, station: dict[str, Any]
) -> None:
    resp = await client.patch(
        ATTRS,
        json={
            "stationCode": {"type": "Property", "value": "BSS100"},
            "servesDataset": {"type": "Relationship", "object": "urn:ngsi-ld:Dataset:Other"},
        },
    )

    assert resp.status_code == 204
    body = await retrieve(client, STATION)
    assert body["stationCode"]["value"] == "BSS100"
    assert body["servesDataset"]["object"] == "urn:ngsi-ld:Dataset:Other"


async def test_update_appends_attributes_and_instances_the_entity_lacks(
    client: httpx.AsyncClient, station: dict[str, Any]
) -> None:
    # as the ETSI conformance suite expects (011_01_03): 204, the new attribute appended
    resp = await client.patch(
        ATTRS,
        json={
            "stationCode": {"type": "Property", "value": "BSS100"},
            "noSuchThing": {"type": "Property", "value": 1},
            "ammonium": {"type": "Property", "value": 0.2, "datasetId": "urn:ngsi-ld:Dataset:X"},
        },
    )

    assert resp.status_code == 204
    body = await retrieve(client, STATION)
    assert body["noSuchThing"] == {"type": "Property", "value": 1}
    assert body["stationCode"]["value"] == "BSS100"
    assert [i["value"] for i in body["ammonium"]] == [0.34, 0.41, 0.2]


async def test_update_of_a_missing_entity_is_404(client: httpx.AsyncClient) -> None:
    resp = await client.patch(
        entity_url("urn:ngsi-ld:Entity:ghost") + "/attrs",
        json={"a": {"type": "Property", "value": 1}},
    )

    assert_problem(resp, "ResourceNotFound", 404)


# --- partial update of one attribute (PATCH .../attrs/{attr}) ----------------------------


async def test_partial_update_of_the_value_keeps_metadata_and_sub_attributes(
    client: httpx.AsyncClient, station: dict[str, Any]
) -> None:
    resp = await client.patch(f"{ATTRS}/dissolvedOxygen", json={"value": 7.7})

    assert resp.status_code == 204
    body = await retrieve(client, STATION)
    assert body["dissolvedOxygen"] == {**station["dissolvedOxygen"], "value": 7.7}


async def test_partial_update_of_metadata_keeps_the_value(
    client: httpx.AsyncClient, station: dict[str, Any]
) -> None:
    resp = await client.patch(
        f"{ATTRS}/dissolvedOxygen", json={"observedAt": "2023-04-02T10:00:00Z", "unitCode": "M2"}
    )

    assert resp.status_code == 204
    attr = (await retrieve(client, STATION))["dissolvedOxygen"]
    assert attr["value"] == 8.9
    assert attr["observedAt"] == "2023-04-02T10:00:00Z"
    assert attr["unitCode"] == "M2"
    assert attr["sandreCode"] == station["dissolvedOxygen"]["sandreCode"]


async def test_partial_update_of_a_relationship_object(
    client: httpx.AsyncClient, station: dict[str, Any]
) -> None:
    resp = await client.patch(
        f"{ATTRS}/servesDataset", json={"object": "urn:ngsi-ld:Dataset:Groundwater"}
    )

    assert resp.status_code == 204
    body = await retrieve(client, STATION)
    assert body["servesDataset"] == {
        "type": "Relationship",
        "object": "urn:ngsi-ld:Dataset:Groundwater",
    }


async def test_partial_update_of_a_missing_attribute_is_404(
    client: httpx.AsyncClient, station: dict[str, Any]
) -> None:
    resp = await client.patch(f"{ATTRS}/noSuchThing", json={"value": 1})

    assert_problem(resp, "ResourceNotFound", 404)
    assert "noSuchThing" not in await retrieve(client, STATION)


async def test_partial_update_keeps_created_at_and_moves_modified_at(
    client: httpx.AsyncClient, station: dict[str, Any]
) -> None:
    before = await retrieve(client, STATION, params={"options": "sysAttrs"})

    await client.patch(f"{ATTRS}/stationCode", json={"value": "BSS555"})

    after = await retrieve(client, STATION, params={"options": "sysAttrs"})
    assert after["stationCode"]["createdAt"] == before["stationCode"]["createdAt"]
    assert after["stationCode"]["modifiedAt"] >= before["stationCode"]["modifiedAt"]
    assert after["modifiedAt"] >= before["modifiedAt"]


# --- replace one attribute (PUT .../attrs/{attr}) ---------------------------------------


async def test_put_attribute_replaces_it_whole(
    client: httpx.AsyncClient, station: dict[str, Any]
) -> None:
    resp = await client.put(
        f"{ATTRS}/dissolvedOxygen", json={"type": "Property", "value": 9.9, "unitCode": "M1"}
    )

    assert resp.status_code == 204
    body = await retrieve(client, STATION)
    # observedAt and the sub-property are gone: PUT replaces, PATCH merges
    assert body["dissolvedOxygen"] == {"type": "Property", "value": 9.9, "unitCode": "M1"}


async def test_put_attribute_may_change_its_type(
    client: httpx.AsyncClient, station: dict[str, Any]
) -> None:
    resp = await client.put(
        f"{ATTRS}/stationCode",
        json={"type": "Relationship", "object": "urn:ngsi-ld:Station:BSS002JAWM"},
    )

    assert resp.status_code == 204
    body = await retrieve(client, STATION)
    assert body["stationCode"] == {
        "type": "Relationship",
        "object": "urn:ngsi-ld:Station:BSS002JAWM",
    }


async def test_put_of_a_missing_attribute_is_404(
    client: httpx.AsyncClient, station: dict[str, Any]
) -> None:
    resp = await client.put(f"{ATTRS}/noSuchThing", json={"type": "Property", "value": 1})

    assert_problem(resp, "ResourceNotFound", 404)
    assert "noSuchThing" not in await retrieve(client, STATION)


# --- delete one attribute (DELETE .../attrs/{attr}) -------------------------------------


async def test_delete_attribute(client: httpx.AsyncClient, station: dict[str, Any]) -> None:
    resp = await client.delete(f"{ATTRS}/description")

    assert resp.status_code == 204
    body = await retrieve(client, STATION)
    assert "description" not in body
    assert body["name"] == station["name"]


async def test_delete_of_a_missing_attribute_is_404(
    client: httpx.AsyncClient, station: dict[str, Any]
) -> None:
    resp = await client.delete(f"{ATTRS}/noSuchThing")

    assert_problem(resp, "ResourceNotFound", 404)
    assert await retrieve(client, STATION) == station


# --- multi-attributes (datasetId) --------------------------------------------------------


async def test_append_an_instance_with_a_new_dataset_id(
    client: httpx.AsyncClient, station: dict[str, Any]
) -> None:
    middle = {
        "type": "Property",
        "value": 0.38,
        "unitCode": "M1",
        "datasetId": "urn:ngsi-ld:Dataset:Middle",
    }

    resp = await client.post(ATTRS, json={"ammonium": middle})

    assert resp.status_code == 204
    assert (await retrieve(client, STATION))["ammonium"] == [*station["ammonium"], middle]


async def test_append_a_default_instance_next_to_dataset_instances(
    client: httpx.AsyncClient, station: dict[str, Any]
) -> None:
    default = {"type": "Property", "value": 0.4}

    await client.post(ATTRS, json={"ammonium": default})

    simplified = await retrieve(client, STATION, params={"options": "keyValues"})
    assert simplified["ammonium"] == {"dataset": {BOTTOM: 0.34, SURFACE: 0.41, "@none": 0.4}}


async def test_partial_update_of_one_instance_by_dataset_id(
    client: httpx.AsyncClient, station: dict[str, Any]
) -> None:
    resp = await client.patch(f"{ATTRS}/ammonium", json={"value": 0.5, "datasetId": SURFACE})

    assert resp.status_code == 204
    bottom, surface = (await retrieve(client, STATION))["ammonium"]
    assert bottom == station["ammonium"][0]
    assert surface == {**station["ammonium"][1], "value": 0.5}


async def test_partial_update_of_an_unknown_dataset_id_is_404(
    client: httpx.AsyncClient, station: dict[str, Any]
) -> None:
    resp = await client.patch(
        f"{ATTRS}/ammonium", json={"value": 0.5, "datasetId": "urn:ngsi-ld:Dataset:Nowhere"}
    )

    body = assert_problem(resp, "ResourceNotFound", 404)
    assert (
        body["detail"]
        == "attribute ammonium has no instance with datasetId urn:ngsi-ld:Dataset:Nowhere"
    )


async def test_update_attrs_targets_instances_by_dataset_id(
    client: httpx.AsyncClient, station: dict[str, Any]
) -> None:
    resp = await client.patch(
        ATTRS,
        json={"waterTemperature": {"type": "Property", "value": 11.5, "datasetId": BOTTOM}},
    )

    assert resp.status_code == 204
    simplified = await retrieve(client, STATION, params={"options": "keyValues"})
    assert simplified["waterTemperature"] == {"dataset": {BOTTOM: 11.5, SURFACE: 12.9}}


async def test_delete_one_instance_by_dataset_id(
    client: httpx.AsyncClient, station: dict[str, Any]
) -> None:
    resp = await client.delete(f"{ATTRS}/ammonium", params={"datasetId": BOTTOM})

    assert resp.status_code == 204
    assert (await retrieve(client, STATION))["ammonium"] == station["ammonium"][1]


async def test_delete_of_an_unknown_dataset_id_is_404(
    client: httpx.AsyncClient, station: dict[str, Any]
) -> None:
    resp = await client.delete(
        f"{ATTRS}/ammonium", params={"datasetId": "urn:ngsi-ld:Dataset:Nowhere"}
    )

    assert_problem(resp, "ResourceNotFound", 404)
    assert (await retrieve(client, STATION))["ammonium"] == station["ammonium"]


async def test_delete_without_dataset_id_needs_a_default_instance(
    client: httpx.AsyncClient, station: dict[str, Any]
) -> None:
    resp = await client.delete(f"{ATTRS}/ammonium")

    body = assert_problem(resp, "ResourceNotFound", 404)
    assert body["detail"] == "attribute ammonium has no default instance"
    assert (await retrieve(client, STATION))["ammonium"] == station["ammonium"]


async def test_delete_all_removes_every_instance(
    client: httpx.AsyncClient, station: dict[str, Any]
) -> None:
    resp = await client.delete(f"{ATTRS}/ammonium", params={"deleteAll": "true"})

    assert resp.status_code == 204
    body = await retrieve(client, STATION)
    assert "ammonium" not in body
    assert body["waterTemperature"] == station["waterTemperature"]


# --- as the ETSI conformance suite exercises them ----------------------------------------


async def test_attrs_urls_with_a_trailing_slash_append_and_update(
    client: httpx.AsyncClient, station: dict[str, Any]
) -> None:
    appended = await client.post(f"{ATTRS}/", json={"salinity": {"type": "Property", "value": 1}})
    updated = await client.patch(f"{ATTRS}/", json={"salinity": {"type": "Property", "value": 2}})

    assert (appended.status_code, updated.status_code) == (204, 204)
    assert (await retrieve(client, STATION))["salinity"] == {"type": "Property", "value": 2}


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", ATTRS, {"PATCH", "POST"}),
        ("GET", f"{ATTRS}/", {"PATCH", "POST"}),
        ("DELETE", ATTRS, {"PATCH", "POST"}),
        ("GET", f"{ATTRS}/name", {"DELETE", "PATCH", "PUT"}),
        ("POST", f"{ATTRS}/name", {"DELETE", "PATCH", "PUT"}),
    ],
)
async def test_no_retrieve_attribute_operation_exists_so_get_is_405(
    client: httpx.AsyncClient, station: dict[str, Any], method: str, path: str, allow: set[str]
) -> None:
    resp = await client.request(method, path)

    assert resp.status_code == 405
    assert resp.json()["status"] == 405
    assert set(resp.headers["allow"].split(", ")) == allow
    assert await retrieve(client, STATION) == station


async def test_append_adds_the_entity_types_of_the_fragment(
    client: httpx.AsyncClient, station: dict[str, Any]
) -> None:
    resp = await client.post(
        ATTRS,
        json={"type": ["Entity", "WaterStation"], "salinity": {"type": "Property", "value": 1}},
    )

    assert resp.status_code == 204
    body = await retrieve(client, STATION)
    assert body["type"] == ["Entity", "WaterStation"]
    assert body["salinity"]["value"] == 1


async def test_update_adds_the_entity_types_of_the_fragment(
    client: httpx.AsyncClient, station: dict[str, Any]
) -> None:
    resp = await client.patch(ATTRS, json={"type": "WaterStation"})
    again = await client.patch(ATTRS, json={"type": ["WaterStation", "Entity"]})

    assert (resp.status_code, again.status_code) == (204, 204)
    assert (await retrieve(client, STATION))["type"] == ["Entity", "WaterStation"]


async def test_append_replaces_the_scope_or_adds_to_it_with_no_overwrite(
    client: httpx.AsyncClient,
) -> None:
    await create(client, {"id": STATION, "type": "Entity", "scope": "/Madrid/Gardens"})

    replaced = await client.post(ATTRS, json={"scope": "/CompanyA/UnitC"})
    scope_after_replace = (await retrieve(client, STATION))["scope"]
    added = await client.post(
        ATTRS, params={"options": "noOverwrite"}, json={"scope": ["/Madrid/Gardens"]}
    )

    assert (replaced.status_code, added.status_code) == (204, 204)
    assert scope_after_replace == "/CompanyA/UnitC"
    assert (await retrieve(client, STATION))["scope"] == ["/CompanyA/UnitC", "/Madrid/Gardens"]


async def test_update_replaces_an_existing_scope_but_adds_none(
    client: httpx.AsyncClient, station: dict[str, Any]
) -> None:
    resp = await client.patch(ATTRS, json={"scope": "/CompanyA/UnitC"})

    assert resp.status_code == 207
    assert resp.json() == {
        "updated": [],
        "notUpdated": [{"attributeName": "scope", "reason": "the entity has no scope"}],
    }
    assert "scope" not in await retrieve(client, STATION)
    await create(client, {"id": "urn:ngsi-ld:Entity:scoped", "type": "Entity", "scope": "/A"})
    scoped = entity_url("urn:ngsi-ld:Entity:scoped")
    assert (await client.patch(f"{scoped}/attrs", json={"scope": "/B"})).status_code == 204
    assert (await retrieve(client, "urn:ngsi-ld:Entity:scoped"))["scope"] == "/B"


@pytest.mark.parametrize(
    ("name", "null_fragment"),
    [
        ("description", {"type": "Property", "value": "urn:ngsi-ld:null"}),
        ("servesDataset", {"type": "Relationship", "object": "urn:ngsi-ld:null"}),
        ("location", {"type": "GeoProperty", "value": "urn:ngsi-ld:null"}),
    ],
)
async def test_update_with_ngsi_ld_null_deletes_the_attribute(
    client: httpx.AsyncClient, station: dict[str, Any], name: str, null_fragment: dict[str, Any]
) -> None:
    resp = await client.patch(ATTRS, json={name: null_fragment})

    assert resp.status_code == 204
    body = await retrieve(client, STATION)
    assert name not in body
    assert "urn:ngsi-ld:null" not in str(body)


async def test_update_with_ngsi_ld_null_deletes_only_the_named_instance(
    client: httpx.AsyncClient, station: dict[str, Any]
) -> None:
    null = {"type": "Property", "value": "urn:ngsi-ld:null", "datasetId": BOTTOM}

    resp = await client.patch(ATTRS, json={"ammonium": null})

    assert resp.status_code == 204
    assert (await retrieve(client, STATION))["ammonium"] == station["ammonium"][1]


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("description", {"value": "urn:ngsi-ld:null"}),
        ("description", {"type": "Property", "value": "urn:ngsi-ld:null"}),
        ("servesDataset", {"type": "Relationship", "object": "urn:ngsi-ld:null"}),
        ("location", {"type": "GeoProperty", "value": "urn:ngsi-ld:null"}),
    ],
)
async def test_partial_update_with_ngsi_ld_null_deletes_the_attribute(
    client: httpx.AsyncClient, station: dict[str, Any], name: str, fragment: dict[str, Any]
) -> None:
    resp = await client.patch(f"{ATTRS}/{name}", json=fragment)

    assert resp.status_code == 204
    assert resp.content == b""
    body = await retrieve(client, STATION)
    assert name not in body
    assert body["name"] == station["name"]


async def test_partial_update_with_ngsi_ld_null_deletes_the_dataset_instance(
    client: httpx.AsyncClient, station: dict[str, Any]
) -> None:
    resp = await client.patch(
        f"{ATTRS}/ammonium", json={"value": "urn:ngsi-ld:null", "datasetId": SURFACE}
    )

    assert resp.status_code == 204
    assert (await retrieve(client, STATION))["ammonium"] == station["ammonium"][0]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        # one fragment per request; an instance is chosen by datasetId, not by a list
        (
            [{"value": 0.5, "datasetId": BOTTOM}, {"value": 0.6, "datasetId": SURFACE}],
            "JSON object",
        ),
        (0.5, "JSON object"),
        ({}, "empty object"),
        (
            {"type": "Relationship", "object": "urn:ngsi-ld:Dataset:X", "datasetId": BOTTOM},
            "cannot make it",
        ),
        ({"datasetId": "urn:ngsi-ld:null"}, "datasetId cannot be deleted"),
    ],
)
async def test_partial_update_takes_one_fragment_object_of_the_same_type(
    client: httpx.AsyncClient, station: dict[str, Any], body: Any, detail: str
) -> None:
    resp = await client.patch(f"{ATTRS}/ammonium", json=body)

    problem = assert_problem(resp, "BadRequestData", 400)
    assert detail in problem["detail"]
    assert (await retrieve(client, STATION))["ammonium"] == station["ammonium"]


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
@pytest.mark.parametrize("name", ["scope", "type", "id"])
async def test_entity_members_are_not_attributes_to_write(
    client: httpx.AsyncClient, station: dict[str, Any], method: str, name: str
) -> None:
    resp = await client.request(method, f"{ATTRS}/{name}", json={"type": "Property", "value": 1})

    assert_problem(resp, "BadRequestData", 400)
    assert await retrieve(client, STATION) == station


@pytest.mark.parametrize(
    "body",
    [
        42,
        "urn:ngsi-ld:null",
        [{"type": "Property", "value": 1}, {"type": "Property", "value": 2}],
        {"type": "Property", "value": "urn:ngsi-ld:null"},
    ],
)
async def test_put_attribute_needs_an_attribute_object_with_a_value(
    client: httpx.AsyncClient, station: dict[str, Any], body: Any
) -> None:
    resp = await client.put(f"{ATTRS}/stationCode", json=body)

    assert_problem(resp, "BadRequestData", 400)
    assert await retrieve(client, STATION) == station


async def test_put_attribute_replaces_only_the_instance_of_its_dataset_id(
    client: httpx.AsyncClient, station: dict[str, Any]
) -> None:
    before = await retrieve(client, STATION, params={"options": "sysAttrs"})

    resp = await client.put(
        f"{ATTRS}/ammonium", json={"type": "Property", "value": 0.9, "datasetId": SURFACE}
    )

    assert resp.status_code == 204
    after = await retrieve(client, STATION, params={"options": "sysAttrs"})
    bottom, surface = after["ammonium"]
    assert bottom == before["ammonium"][0]
    assert surface["value"] == 0.9 and "unitCode" not in surface
    assert surface["createdAt"] == before["ammonium"][1]["createdAt"]


async def test_put_attribute_of_a_missing_instance_is_404(
    client: httpx.AsyncClient, station: dict[str, Any]
) -> None:
    resp = await client.put(f"{ATTRS}/ammonium", json={"type": "Property", "value": 0.9})

    body = assert_problem(resp, "ResourceNotFound", 404)
    assert body["detail"] == "attribute ammonium has no default instance"
