"""API tests of discovery: /types, /types/{type}, /attributes, /attributes/{attr}."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.ngsild_api import BASE, DEFAULT_VOCAB, assert_problem, create_many, link

pytestmark = pytest.mark.anyio

TYPES, ATTRIBUTES = f"{BASE}/types", f"{BASE}/attributes"
SDM_PARKING = "https://smartdatamodels.org/dataModel.Parking/"


@pytest.fixture
async def inventory(client: httpx.AsyncClient) -> None:
    """Two parking spots (one also a charging station), a charger and a streetlight."""
    await create_many(
        client,
        [
            {
                "id": "urn:ngsi-ld:ParkingSpot:1",
                "type": "ParkingSpot",
                "status": {"type": "Property", "value": "free"},
                "location": {
                    "type": "GeoProperty",
                    "value": {"type": "Point", "coordinates": [127, 37]},
                },
                "refParkingSite": {
                    "type": "Relationship",
                    "object": "urn:ngsi-ld:OffStreetParking:1",
                },
            },
            {
                "id": "urn:ngsi-ld:ParkingSpot:2",
                "type": ["ParkingSpot", "EVChargingStation"],
                "status": {"type": "Property", "value": "occupied"},
                "capacity": {"type": "Property", "value": 2},
            },
            {
                "id": "urn:ngsi-ld:EVChargingStation:1",
                "type": "EVChargingStation",
                "status": {"type": "Property", "value": "working"},
                "capacity": {"type": "Property", "value": 4},
                "name": {"type": "LanguageProperty", "languageMap": {"ko": "충전소"}},
            },
            {
                "id": "urn:ngsi-ld:Streetlight:1",
                "type": "Streetlight",
                "status": {"type": "Relationship", "object": "urn:ngsi-ld:Status:on"},
            },
        ],
    )


@pytest.mark.usefixtures("inventory")
async def test_types_lists_every_entity_type(client: httpx.AsyncClient) -> None:
    resp = await client.get(TYPES)

    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    body = resp.json()
    assert body["type"] == "EntityTypeList"
    assert body["id"].startswith("urn:ngsi-ld:EntityTypeList:")
    assert sorted(body["typeList"]) == ["EVChargingStation", "ParkingSpot", "Streetlight"]


@pytest.mark.usefixtures("inventory")
async def test_types_with_details(client: httpx.AsyncClient) -> None:
    resp = await client.get(TYPES, params={"details": "true"})

    assert resp.status_code == 200
    by_name = {t["typeName"]: t for t in resp.json()}
    assert set(by_name) == {"EVChargingStation", "ParkingSpot", "Streetlight"}
    spot = by_name["ParkingSpot"]
    assert spot["id"] == DEFAULT_VOCAB + "ParkingSpot"
    assert spot["type"] == "EntityType"
    assert sorted(spot["attributeNames"]) == [
        "capacity",
        "location",
        "refParkingSite",
        "status",
    ]
    assert sorted(by_name["Streetlight"]["attributeNames"]) == ["status"]


@pytest.mark.usefixtures("inventory")
async def test_type_information(client: httpx.AsyncClient) -> None:
    resp = await client.get(f"{TYPES}/EVChargingStation")

    assert resp.status_code == 200
    info = resp.json()
    assert info["id"] == DEFAULT_VOCAB + "EVChargingStation"
    assert info["type"] == "EntityTypeInfo"
    assert info["typeName"] == "EVChargingStation"
    assert info["entityCount"] == 2
    details = {a["attributeName"]: a for a in info["attributeDetails"]}
    assert set(details) == {"capacity", "name", "status"}
    assert details["name"]["attributeTypes"] == ["LanguageProperty"]
    assert details["capacity"] == {
        "id": DEFAULT_VOCAB + "capacity",
        "type": "Attribute",
        "attributeName": "capacity",
        "attributeTypes": ["Property"],
    }


@pytest.mark.usefixtures("inventory")
async def test_unknown_type_is_404(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(f"{TYPES}/Bench"), "ResourceNotFound", 404)


@pytest.mark.usefixtures("inventory")
async def test_attributes_lists_every_attribute_name(client: httpx.AsyncClient) -> None:
    resp = await client.get(ATTRIBUTES)

    assert resp.status_code == 200
    body = resp.json()
    assert body["type"] == "AttributeList"
    assert body["id"].startswith("urn:ngsi-ld:AttributeList:")
    assert sorted(body["attributeList"]) == [
        "capacity",
        "location",
        "name",
        "refParkingSite",
        "status",
    ]


@pytest.mark.usefixtures("inventory")
async def test_attributes_with_details(client: httpx.AsyncClient) -> None:
    resp = await client.get(ATTRIBUTES, params={"details": "true"})

    by_name = {a["attributeName"]: a for a in resp.json()}
    assert by_name["capacity"] == {
        "id": DEFAULT_VOCAB + "capacity",
        "type": "Attribute",
        "attributeName": "capacity",
        "typeNames": ["EVChargingStation", "ParkingSpot"],
    }
    assert by_name["refParkingSite"]["typeNames"] == ["ParkingSpot"]


@pytest.mark.usefixtures("inventory")
async def test_attribute_information(client: httpx.AsyncClient) -> None:
    status = (await client.get(f"{ATTRIBUTES}/status")).json()
    capacity = (await client.get(f"{ATTRIBUTES}/capacity")).json()
    ref = (await client.get(f"{ATTRIBUTES}/refParkingSite")).json()

    assert status["id"] == "https://uri.etsi.org/ngsi-ld/status"  # a core @context term
    assert status["type"] == "Attribute"
    assert status["attributeName"] == "status"
    assert status["attributeCount"] == 4
    assert status["attributeTypes"] == ["Property", "Relationship"]
    assert status["typeNames"] == ["EVChargingStation", "ParkingSpot", "Streetlight"]
    # counted once per entity, though ParkingSpot:2 has two types
    assert capacity["attributeCount"] == 2
    # only one of the two parking spots has it
    assert ref["attributeCount"] == 1


@pytest.mark.usefixtures("inventory")
async def test_unknown_attribute_is_404(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(f"{ATTRIBUTES}/colour"), "ResourceNotFound", 404)


async def test_discovery_of_an_empty_broker(client: httpx.AsyncClient) -> None:
    types = await client.get(TYPES)
    attributes = await client.get(ATTRIBUTES)

    assert types.json()["typeList"] == []
    assert attributes.json()["attributeList"] == []


async def test_discovery_speaks_the_requests_context(
    client: httpx.AsyncClient, parking: dict[str, Any]
) -> None:
    await create_many(client, [parking], headers={"Content-Type": "application/ld+json"})
    context = link(parking["@context"][0])

    plain = (await client.get(TYPES)).json()
    compact = (await client.get(TYPES, headers=context)).json()
    info = await client.get(f"{TYPES}/OffStreetParking", headers=context)
    attr = await client.get(f"{ATTRIBUTES}/availableSpotNumber", headers=context)

    assert plain["typeList"] == [SDM_PARKING + "OffStreetParking"]
    assert compact["typeList"] == ["OffStreetParking"]
    assert info.status_code == 200
    assert info.json()["id"] == SDM_PARKING + "OffStreetParking"
    assert info.json()["entityCount"] == 1
    assert attr.json()["id"] == SDM_PARKING + "availableSpotNumber"
    assert attr.json()["typeNames"] == ["OffStreetParking"]


@pytest.mark.usefixtures("inventory")
async def test_discovery_in_ld_json(client: httpx.AsyncClient) -> None:
    resp = await client.get(TYPES, headers={"Accept": "application/ld+json"})

    assert resp.headers["content-type"] == "application/ld+json"
    assert (
        resp.json()["@context"]
        == "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld"
    )


async def test_details_must_be_a_boolean(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(TYPES, params={"details": "yes"}), "BadRequestData", 400)
    assert_problem(await client.get(ATTRIBUTES, params={"details": "1"}), "BadRequestData", 400)


@pytest.mark.usefixtures("inventory")
@pytest.mark.parametrize("path", [TYPES, ATTRIBUTES])
async def test_lists_answer_with_a_trailing_slash(client: httpx.AsyncClient, path: str) -> None:
    # the ETSI conformance suite asks for GET /types/
    plain = await client.get(path)
    slashed = await client.get(f"{path}/")

    assert slashed.status_code == 200
    assert {k: v for k, v in slashed.json().items() if k != "id"} == {
        k: v for k, v in plain.json().items() if k != "id"
    }
