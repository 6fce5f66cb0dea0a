"""API tests of ``orderBy`` on GET /entities (ETSI GS CIM 009 V1.9.1 clause 4.23): entity
members, attribute values, sub-attributes and metadata, directions, several criteria, missing
values, paging over the ordered matches, and malformed criteria. The first scenarios follow the
ETSI conformance case 019_19."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx
import pytest

from tests.ngsild_api import ENTITIES, assert_problem, create, create_many, query_ids

pytestmark = pytest.mark.anyio

FIRST, SECOND, THIRD = (f"urn:ngsi-ld:Building:{n}" for n in (1, 2, 3))
ASC, DESC = [FIRST, SECOND, THIRD], [THIRD, SECOND, FIRST]
CREATED = [SECOND, FIRST, THIRD]


def named(entity_id: str, name: str, rank: int) -> dict[str, Any]:
    """A building with a name that has a numeric sub-property."""
    return {
        "id": entity_id,
        "type": "Building",
        "name": {"type": "Property", "value": name, "rank": {"type": "Property", "value": rank}},
    }


@pytest.fixture
async def buildings(client: httpx.AsyncClient) -> None:
    """Buildings 1 (name A), 2 (B) and 3 (C), created one by one in the order 2, 1, 3, in
    different milliseconds (timestamps have millisecond resolution)."""
    for entity in (named(SECOND, "B", 2), named(FIRST, "A", 1), named(THIRD, "C", 3)):
        await create(client, entity)
        await asyncio.sleep(0.003)


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        ("name", ASC),
        ("id", ASC),
        ("createdAt", CREATED),
        ("name.createdAt", CREATED),
        ("name.rank", ASC),
        ("name;asc", ASC),
        ("name;desc", DESC),
        ("id;desc", DESC),
        ("createdAt;desc", CREATED[::-1]),
        ("type,name", ASC),
        ("type;asc,name.rank;desc,name;asc", DESC),
    ],
)
async def test_order_by(
    client: httpx.AsyncClient, buildings: None, order_by: str, expected: list[str]
) -> None:
    assert await query_ids(client, type="Building", orderBy=order_by) == expected


async def test_without_order_by_results_keep_creation_order(
    client: httpx.AsyncClient, buildings: None
) -> None:
    assert await query_ids(client, type="Building") == CREATED


async def test_order_by_a_full_iri_and_with_a_link_context(
    client: httpx.AsyncClient, buildings: None
) -> None:
    iri = "https://uri.etsi.org/ngsi-ld/default-context/name"
    assert await query_ids(client, type="Building", orderBy=f"{iri};desc") == DESC


async def test_order_by_pages_through_the_ordered_matches(client: httpx.AsyncClient) -> None:
    # more entities than the storage keeps in memory for a page (2 * (offset + limit) + 64)
    values = list(range(150))
    random.Random(7).shuffle(values)
    await create_many(
        client,
        [
            {
                "id": f"urn:ngsi-ld:Sensor:{v:03d}",
                "type": "Sensor",
                "level": {"type": "Property", "value": v},
            }
            for v in values
        ],
    )
    expected = [f"urn:ngsi-ld:Sensor:{v:03d}" for v in range(149, -1, -1)]

    pages = []
    for offset in range(0, 150, 7):
        pages += await query_ids(
            client, type="Sensor", orderBy="level;desc", limit="7", offset=str(offset)
        )
    resp = await client.get(
        ENTITIES,
        params={
            "type": "Sensor",
            "orderBy": "level",
            "limit": "3",
            "offset": "10",
            "count": "true",
        },
    )

    assert pages == expected
    assert [e["id"] for e in resp.json()] == expected[::-1][10:13]
    assert resp.headers["NGSILD-Results-Count"] == "150"


async def test_order_by_with_a_filter_orders_only_the_matches(client: httpx.AsyncClient) -> None:
    await create_many(
        client,
        [
            {
                "id": f"urn:ngsi-ld:Spot:{i}",
                "type": "Spot",
                "width": {"type": "Property", "value": w},
            }
            for i, w in enumerate([3.0, 1.5, 2.5, 0.5, 2.0])
        ],
    )

    ids = await query_ids(client, type="Spot", q="width>1", orderBy="width")

    assert ids == [
        "urn:ngsi-ld:Spot:1",
        "urn:ngsi-ld:Spot:4",
        "urn:ngsi-ld:Spot:2",
        "urn:ngsi-ld:Spot:0",
    ]


async def test_order_by_with_near_orders_by_the_criteria(client: httpx.AsyncClient) -> None:
    def place(n: int, lon: float, rank: int) -> dict[str, Any]:
        return {
            "id": f"urn:ngsi-ld:Place:{n}",
            "type": "Place",
            "rank": {"type": "Property", "value": rank},
            "location": {
                "type": "GeoProperty",
                "value": {"type": "Point", "coordinates": [lon, 37.5]},
            },
        }

    # nearest first would be 1, 2, 3; the farthest (4) is out of range
    await create_many(
        client,
        [place(1, 127.0001, 3), place(2, 127.0002, 1), place(3, 127.0003, 2), place(4, 128.0, 0)],
    )

    ids = await query_ids(
        client,
        type="Place",
        georel="near;maxDistance==1000",
        geometry="Point",
        coordinates="[127.0,37.5]",
        orderBy="rank",
        limit="2",
    )

    assert ids == ["urn:ngsi-ld:Place:2", "urn:ngsi-ld:Place:3"]


async def test_entities_without_the_value_come_last_in_both_directions(
    client: httpx.AsyncClient,
) -> None:
    await create_many(
        client,
        [
            {"id": "urn:ngsi-ld:T:none", "type": "T"},
            {"id": "urn:ngsi-ld:T:low", "type": "T", "v": {"type": "Property", "value": 1}},
            {"id": "urn:ngsi-ld:T:high", "type": "T", "v": {"type": "Property", "value": 9}},
        ],
    )

    assert await query_ids(client, type="T", orderBy="v") == [
        "urn:ngsi-ld:T:low",
        "urn:ngsi-ld:T:high",
        "urn:ngsi-ld:T:none",
    ]
    assert await query_ids(client, type="T", orderBy="v;desc") == [
        "urn:ngsi-ld:T:high",
        "urn:ngsi-ld:T:low",
        "urn:ngsi-ld:T:none",
    ]


async def test_values_of_different_kinds_order_numbers_strings_booleans_then_others(
    client: httpx.AsyncClient,
) -> None:
    values: list[Any] = [{"k": 1}, True, "10", 2, "abc", 10]
    await create_many(
        client,
        [
            {"id": f"urn:ngsi-ld:T:{i}", "type": "T", "v": {"type": "Property", "value": v}}
            for i, v in enumerate(values)
        ],
    )

    ids = await query_ids(client, type="T", orderBy="v")

    assert [values[int(i.rsplit(":", 1)[1])] for i in ids] == [2, 10, "10", "abc", True, {"k": 1}]


async def test_arrays_order_by_their_lowest_or_highest_element(client: httpx.AsyncClient) -> None:
    await create_many(
        client,
        [
            {"id": "urn:ngsi-ld:T:wide", "type": "T", "v": {"type": "Property", "value": [1, 9]}},
            {"id": "urn:ngsi-ld:T:mid", "type": "T", "v": {"type": "Property", "value": [4, 5]}},
        ],
    )

    assert await query_ids(client, type="T", orderBy="v") == [
        "urn:ngsi-ld:T:wide",
        "urn:ngsi-ld:T:mid",
    ]
    assert await query_ids(client, type="T", orderBy="v;desc") == [
        "urn:ngsi-ld:T:wide",
        "urn:ngsi-ld:T:mid",
    ]


async def test_ties_keep_creation_order(client: httpx.AsyncClient) -> None:
    await create_many(
        client,
        [
            {"id": f"urn:ngsi-ld:T:{i}", "type": "T", "v": {"type": "Property", "value": i % 2}}
            for i in range(6)
        ],
    )

    asc = await query_ids(client, type="T", orderBy="v")
    desc = await query_ids(client, type="T", orderBy="v;desc")

    assert asc == [f"urn:ngsi-ld:T:{i}" for i in (0, 2, 4, 1, 3, 5)]
    assert desc == [f"urn:ngsi-ld:T:{i}" for i in (1, 3, 5, 0, 2, 4)]


@pytest.mark.parametrize(
    "order_by",
    ["name;up", "name;asc;desc", ";desc", "name,,id", "name..rank", "name[", "name==1"],
)
async def test_malformed_order_by_is_400(
    client: httpx.AsyncClient, buildings: None, order_by: str
) -> None:
    resp = await client.get(ENTITIES, params={"type": "Building", "orderBy": order_by})
    assert_problem(resp, "BadRequestData", 400)
