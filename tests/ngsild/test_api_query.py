"""API tests of GET /ngsi-ld/v1/entities (query) and DELETE /entities?type= (purge):
type expressions, ids, idPattern, attrs, the q language, paging and counting."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.ngsild_api import (
    CORE_CONTEXT,
    ENTITIES,
    assert_problem,
    create_many,
    query,
    query_ids,
)

pytestmark = pytest.mark.anyio

DATA: list[dict[str, Any]] = [
    {
        "id": "urn:ngsi-ld:ParkingSpot:A1",
        "type": "ParkingSpot",
        "status": {"type": "Property", "value": "free", "observedAt": "2026-03-02T08:00:00Z"},
        "level": {"type": "Property", "value": 1},
        "width": {
            "type": "Property",
            "value": 2.5,
            "unitCode": "MTR",
            "measuredBy": {"type": "Relationship", "object": "urn:ngsi-ld:Device:laser-1"},
        },
        "address": {"type": "Property", "value": {"district": "Jungang", "floor": {"no": 1}}},
        "tags": {"type": "Property", "value": ["covered", "ev"]},
        "refParkingSite": {"type": "Relationship", "object": "urn:ngsi-ld:OffStreetParking:P1"},
        "lastInspection": {"type": "Property", "value": "2026-01-15T10:00:00Z"},
    },
    {
        "id": "urn:ngsi-ld:ParkingSpot:A2",
        "type": "ParkingSpot",
        "status": {"type": "Property", "value": "occupied", "observedAt": "2026-03-02T09:30:00Z"},
        "level": {"type": "Property", "value": 2},
        "width": {"type": "Property", "value": 3.0, "unitCode": "MTR"},
        "address": {"type": "Property", "value": {"district": "Byeolyang", "floor": {"no": 2}}},
        "tags": {"type": "Property", "value": ["open"]},
        "refParkingSite": {"type": "Relationship", "object": "urn:ngsi-ld:OffStreetParking:P1"},
        "lastInspection": {"type": "Property", "value": "2025-11-02T10:00:00Z"},
    },
    {
        "id": "urn:ngsi-ld:ParkingSpot:B1",
        "type": ["ParkingSpot", "EVChargingStation"],
        "status": {"type": "Property", "value": "free", "observedAt": "2026-03-02T10:00:00Z"},
        "level": {"type": "Property", "value": 3},
        "width": {"type": "Property", "value": 2.2, "unitCode": "MTR"},
        "tags": {"type": "Property", "value": ["ev"]},
        "refParkingSite": {"type": "Relationship", "object": "urn:ngsi-ld:OffStreetParking:P2"},
    },
    {
        "id": "urn:ngsi-ld:EVChargingStation:C1",
        "type": "EVChargingStation",
        "status": {"type": "Property", "value": "working"},
        "capacity": {"type": "Property", "value": 4},
    },
    {
        "id": "urn:ngsi-ld:Streetlight:L1",
        "type": "Streetlight",
        "status": {"type": "Property", "value": "on"},
    },
]
A1, A2, B1, C1, L1 = (e["id"] for e in DATA)


@pytest.fixture
async def city(client: httpx.AsyncClient) -> None:
    """Parking spots, a charging station and a streetlight, created in this order."""
    await create_many(client, DATA)


# --- type, id, idPattern, attrs ----------------------------------------------------------


@pytest.mark.usefixtures("city")
@pytest.mark.parametrize(
    ("types", "expected"),
    [
        ("ParkingSpot", [A1, A2, B1]),
        ("EVChargingStation", [B1, C1]),
        ("Streetlight,EVChargingStation", [B1, C1, L1]),  # comma: either type
        ("Streetlight|EVChargingStation", [B1, C1, L1]),
        ("(ParkingSpot;EVChargingStation)", [B1]),  # semicolon: both types
        ("ParkingSpot;EVChargingStation", [B1]),
        ("(ParkingSpot;EVChargingStation)|Streetlight", [B1, L1]),
        ("NoSuchType", []),
    ],
)
async def test_type_expressions(client: httpx.AsyncClient, types: str, expected: list[str]) -> None:
    assert await query_ids(client, type=types) == expected


@pytest.mark.usefixtures("city")
async def test_id_list(client: httpx.AsyncClient) -> None:
    ids = await query_ids(
        client, id=f"{L1},{A2},urn:ngsi-ld:ParkingSpot:none", type="ParkingSpot,Streetlight"
    )

    assert ids == [A2, L1]


@pytest.mark.usefixtures("city")
async def test_id_pattern(client: httpx.AsyncClient) -> None:
    assert await query_ids(client, idPattern=r"^urn:ngsi-ld:ParkingSpot:A\d$") == [A1, A2]
    assert await query_ids(client, idPattern="L1$", type="Streetlight") == [L1]


@pytest.mark.usefixtures("city")
async def test_attrs_selects_entities_having_one_of_them_and_projects(
    client: httpx.AsyncClient,
) -> None:
    found = await query(client, attrs="capacity,address")

    assert found == [
        {"id": A1, "type": "ParkingSpot", "address": DATA[0]["address"]},
        {"id": A2, "type": "ParkingSpot", "address": DATA[1]["address"]},
        {"id": C1, "type": "EVChargingStation", "capacity": DATA[3]["capacity"]},
    ]


@pytest.mark.usefixtures("city")
async def test_no_selector_at_all_is_400(client: httpx.AsyncClient) -> None:
    resp = await client.get(ENTITIES)

    assert_problem(resp, "BadRequestData", 400)


@pytest.mark.usefixtures("city")
async def test_ids_alone_do_not_select_and_are_400(client: httpx.AsyncClient) -> None:
    # clause 5.7.2.4 and ETSI suite 019_03_05: an id list filters a selection (type, attrs,
    # q, geoQ, scopeQ...), it is not one
    resp = await client.get(ENTITIES, params={"id": f"{A1},{A2}"})

    body = assert_problem(resp, "BadRequestData", 400)
    assert "type" in body["detail"]
    assert await query_ids(client, id=f"{A1},{A2}", local="true") == [A1, A2]


@pytest.mark.usefixtures("city")
@pytest.mark.parametrize("attrs", ["id,type", "status,type", "scope"])
async def test_attrs_naming_entity_members_is_400(client: httpx.AsyncClient, attrs: str) -> None:
    resp = await client.get(ENTITIES, params={"attrs": attrs})

    assert_problem(resp, "BadRequestData", 400)


@pytest.mark.usefixtures("city")
async def test_entities_with_a_trailing_slash_is_the_same_collection(
    client: httpx.AsyncClient,
) -> None:
    resp = await client.get(f"{ENTITIES}/", params={"type": "Streetlight"})

    assert resp.status_code == 200
    assert [e["id"] for e in resp.json()] == [L1]


@pytest.mark.usefixtures("city")
@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"type": "ParkingSpot", "pick": "status", "attrs": "status"}, "BadRequestData"),
        ({"type": "ParkingSpot", "pick": "id;status"}, "BadRequestData"),
        ({"type": "ParkingSpot", "omit": "id,,status"}, "BadRequestData"),
        ({"type": "ParkingSpot", "pick": "id,refParkingSite{{level}"}, "BadRequestData"),
    ],
)
async def test_bad_pick_and_omit_are_400(
    client: httpx.AsyncClient, params: dict[str, str], problem: str
) -> None:
    resp = await client.get(ENTITIES, params=params)

    assert_problem(resp, problem, 400)


async def test_dataset_id_keeps_only_those_instances_of_each_entity(
    client: httpx.AsyncClient,
) -> None:
    names = [
        {"type": "Property", "value": "Eiffel Tower"},
        {"type": "Property", "value": "Tour Eiffel", "datasetId": "urn:ngsi-ld:Dataset:fr"},
        {"type": "Property", "value": "Eiffelturm", "datasetId": "urn:ngsi-ld:Dataset:de"},
    ]
    await create_many(client, [{"id": "urn:ngsi-ld:Building:1", "type": "Building", "name": names}])

    two = await query(
        client, type="Building", datasetId="urn:ngsi-ld:Dataset:fr,urn:ngsi-ld:Dataset:de"
    )
    default = await query(client, type="Building", datasetId="@none")
    no_match = await query(client, attrs="name", datasetId="urn:ngsi-ld:Dataset:es")

    assert two[0]["name"] == names[1:]
    assert default[0]["name"] == names[0]
    # the entity still matches the query; it just has no instance left to show
    assert no_match == [{"id": "urn:ngsi-ld:Building:1", "type": "Building"}]


@pytest.mark.usefixtures("city")
async def test_response_headers_and_representation(client: httpx.AsyncClient) -> None:
    resp = await client.get(ENTITIES, params={"type": "Streetlight"})

    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    assert resp.headers["link"].startswith(f"<{CORE_CONTEXT}>")
    assert "ngsild-results-count" not in resp.headers
    assert resp.json() == [DATA[4]]


@pytest.mark.usefixtures("city")
async def test_ld_json_list_carries_the_context_in_every_entity(
    client: httpx.AsyncClient,
) -> None:
    resp = await client.get(
        ENTITIES, params={"type": "EVChargingStation"}, headers={"Accept": "application/ld+json"}
    )

    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/ld+json"
    assert [e["@context"] for e in resp.json()] == [CORE_CONTEXT, CORE_CONTEXT]


@pytest.mark.usefixtures("city")
async def test_key_values_and_sys_attrs_apply_to_lists(client: httpx.AsyncClient) -> None:
    simple = await query(client, type="EVChargingStation", options="keyValues", attrs="status")
    with_sys = await query(client, type="Streetlight", options="sysAttrs")

    assert simple == [
        {"id": B1, "type": ["ParkingSpot", "EVChargingStation"], "status": "free"},
        {"id": C1, "type": "EVChargingStation", "status": "working"},
    ]
    assert {"createdAt", "modifiedAt"} <= set(with_sys[0])
    assert {"createdAt", "modifiedAt"} <= set(with_sys[0]["status"])


# --- q -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("city")
@pytest.mark.parametrize(
    ("q", "expected"),
    [
        # comparisons
        ('status=="free"', [A1, B1]),
        ('status!="free"', [A2, C1, L1]),
        ("level>1", [A2, B1]),
        ("level>=2", [A2, B1]),
        ("level<2", [A1]),
        ("level<=2", [A1, A2]),
        ("width==3", [A2]),  # 3.0 stored, integer literal: numbers compare as numbers
        ("lastInspection>2026-01-01T00:00:00Z", [A1]),  # DateTime values
        # ranges and lists
        ("level==2..3", [A2, B1]),
        ("width==2.3..2.9", [A1]),
        ('status=="free","working"', [A1, B1, C1]),
        ("level==1,3", [A1, B1]),
        ('status!="free","occupied"', [C1, L1]),
        # arrays match on any element
        ('tags=="ev"', [A1, B1]),
        # regular expressions
        ("status~=^o", [A2, L1]),
        ("status~=(?i)^FR", [A1, B1]),
        ("status!~=e", [C1, L1]),  # neither "working" nor "on" holds an e
        # AND, OR, parentheses; AND binds tighter
        ('status=="free";level>1', [B1]),
        ('status=="on"|level==2', [A2, L1]),
        ('status=="free";level==1|level==2', [A1, A2]),
        ('status=="free";(level==1|level==3)', [A1, B1]),
        # paths: sub-attribute, metadata, compound keys
        ("width.measuredBy==urn:ngsi-ld:Device:laser-1", [A1]),
        ('width.unitCode=="MTR"', [A1, A2, B1]),
        ("status.observedAt>=2026-03-02T09:00:00Z", [A2, B1]),
        ('address[district]=="Byeolyang"', [A2]),
        ("address[floor][no]==1", [A1]),
        # relationships compare their object
        ("refParkingSite==urn:ngsi-ld:OffStreetParking:P1", [A1, A2]),
        ('refParkingSite=="urn:ngsi-ld:OffStreetParking:P2"', [B1]),
        # existence
        ("capacity", [C1]),
        ("!refParkingSite", [C1, L1]),
        ("address;!capacity", [A1, A2]),
    ],
)
async def test_q(client: httpx.AsyncClient, q: str, expected: list[str]) -> None:
    assert await query_ids(client, q=q) == expected


@pytest.mark.usefixtures("city")
async def test_q_combines_with_type(client: httpx.AsyncClient) -> None:
    assert await query_ids(client, type="EVChargingStation", q='status=="free"') == [B1]


@pytest.mark.usefixtures("city")
@pytest.mark.parametrize(
    "q", ["status=", "level>", "(level==1", "level==1;", 'status=="open', "level>>1"]
)
async def test_malformed_q_is_400(client: httpx.AsyncClient, q: str) -> None:
    resp = await client.get(ENTITIES, params={"q": q})

    body = assert_problem(resp, "BadRequestData", 400)  # clause 5.7.2.4
    assert "q" in body["detail"]


# --- limit, offset, count ----------------------------------------------------------------


@pytest.mark.usefixtures("city")
async def test_limit_offset_and_count(client: httpx.AsyncClient) -> None:
    first = await client.get(ENTITIES, params={"q": "status", "limit": 2, "count": "true"})
    second = await client.get(
        ENTITIES, params={"q": "status", "limit": 2, "offset": 2, "count": "true"}
    )
    last = await client.get(ENTITIES, params={"q": "status", "limit": 2, "offset": 4})

    assert [e["id"] for e in first.json()] == [A1, A2]
    assert [e["id"] for e in second.json()] == [B1, C1]
    assert [e["id"] for e in last.json()] == [L1]
    assert first.headers["ngsild-results-count"] == "5"
    assert second.headers["ngsild-results-count"] == "5"
    assert "ngsild-results-count" not in last.headers


@pytest.mark.usefixtures("city")
async def test_count_with_limit_zero_only_counts(client: httpx.AsyncClient) -> None:
    resp = await client.get(ENTITIES, params={"type": "ParkingSpot", "limit": 0, "count": "true"})

    assert resp.status_code == 200
    assert resp.json() == []
    assert resp.headers["ngsild-results-count"] == "3"


@pytest.mark.usefixtures("city")
async def test_count_of_an_empty_result_is_zero(client: httpx.AsyncClient) -> None:
    resp = await client.get(ENTITIES, params={"type": "Bench", "count": "true"})

    assert resp.json() == []
    assert resp.headers["ngsild-results-count"] == "0"


@pytest.mark.usefixtures("city")
async def test_offset_past_the_end_is_an_empty_page(client: httpx.AsyncClient) -> None:
    assert await query_ids(client, type="ParkingSpot", offset=10) == []


async def test_default_page_size_is_20(client: httpx.AsyncClient) -> None:
    await create_many(
        client, [{"id": f"urn:ngsi-ld:Bench:{n:02}", "type": "Bench"} for n in range(25)]
    )

    resp = await client.get(ENTITIES, params={"type": "Bench", "count": "true"})

    assert len(resp.json()) == 20
    assert resp.headers["ngsild-results-count"] == "25"


async def test_limit_above_the_maximum_is_403_too_many_results(client: httpx.AsyncClient) -> None:
    resp = await client.get(ENTITIES, params={"type": "Bench", "limit": 1001})

    assert_problem(resp, "TooManyResults", 403)


async def test_limit_at_the_maximum_is_fine(client: httpx.AsyncClient) -> None:
    await create_many(client, [{"id": "urn:ngsi-ld:Bench:1", "type": "Bench"}])

    assert await query_ids(client, type="Bench", limit=1000) == ["urn:ngsi-ld:Bench:1"]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "ten"},
        {"limit": "-1"},
        {"offset": "-5"},
        {"count": "yes"},
        {"limit": "0"},  # without count=true there is nothing to answer
    ],
)
async def test_bad_paging_parameters_are_400(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    resp = await client.get(ENTITIES, params={"type": "Bench", **params})

    assert_problem(resp, "BadRequestData", 400)


# --- purge (DELETE /entities?type=) -----------------------------------------------------


@pytest.mark.usefixtures("city")
async def test_purge_deletes_every_entity_of_the_type(client: httpx.AsyncClient) -> None:
    resp = await client.delete(ENTITIES, params={"type": "EVChargingStation"})

    assert resp.status_code == 204
    assert await query_ids(client, type="ParkingSpot,EVChargingStation,Streetlight") == [
        A1,
        A2,
        L1,
    ]


@pytest.mark.usefixtures("city")
async def test_purge_honours_q(client: httpx.AsyncClient) -> None:
    resp = await client.delete(ENTITIES, params={"type": "ParkingSpot", "q": 'status=="free"'})

    assert resp.status_code == 204
    assert await query_ids(client, type="ParkingSpot") == [A2]


@pytest.mark.usefixtures("city")
async def test_purge_without_type_is_400_and_deletes_nothing(client: httpx.AsyncClient) -> None:
    resp = await client.delete(ENTITIES, params={"q": "status"})

    assert_problem(resp, "BadRequestData", 400)
    assert len(await query_ids(client, q="status")) == 5
