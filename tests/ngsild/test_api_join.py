"""API tests of linked entity retrieval (``join``, ``joinLevel``, ``containedBy``; clause 4.5.23)
on GET /entities/{id}, GET /entities and POST /entityOperations/query: inline and flat joins in
normalized, concise and keyValues form, two levels, pick/omit in braces, missing targets, cycles,
ListRelationships, tenants and errors. The scenarios follow ETSI conformance cases 018_10-018_14,
018_20, 018_21, 019_13-019_16 and 019_20-019_24."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.ngsild_api import (
    BATCH,
    ENTITIES,
    assert_problem,
    create_many,
    entity_url,
    query,
    retrieve,
)

pytestmark = pytest.mark.anyio

BUILDING, CITY, COUNTRY = (
    "urn:ngsi-ld:Building:B1",
    "urn:ngsi-ld:City:Seoul",
    "urn:ngsi-ld:Country:KR",
)


def rel(target: str) -> dict[str, Any]:
    """A Relationship to ``target``."""
    return {"type": "Relationship", "object": target}


def prop(value: Any) -> dict[str, Any]:
    """A Property of ``value``."""
    return {"type": "Property", "value": value}


def building(entity_id: str = BUILDING, city: str = CITY) -> dict[str, Any]:
    """A building located in ``city``."""
    return {"id": entity_id, "type": "Building", "locatedAt": rel(city)}


def city(entity_id: str = CITY, country: str | None = COUNTRY) -> dict[str, Any]:
    """A city with a name and a description, in ``country`` when given."""
    entity: dict[str, Any] = {
        "id": entity_id,
        "type": "City",
        "name": prop("Seoul"),
        "description": prop("capital of Korea"),
    }
    if country is not None:
        entity["isInCountry"] = rel(country)
    return entity


def country(entity_id: str = COUNTRY) -> dict[str, Any]:
    """A country with a name and a description."""
    return {
        "id": entity_id,
        "type": "Country",
        "name": prop("Korea"),
        "description": prop("a country in East Asia"),
    }


@pytest.fixture
async def chain(client: httpx.AsyncClient) -> None:
    """Building -locatedAt-> City -isInCountry-> Country."""
    await create_many(client, [building(), city(), country()])


# --- retrieve: one level ------------------------------------------------------------------


async def test_inline_puts_the_linked_entity_into_the_relationship(
    client: httpx.AsyncClient,
) -> None:
    await create_many(client, [building(), {"id": CITY, "type": "City"}])

    body = await retrieve(client, BUILDING, params={"join": "inline", "joinLevel": "1"})

    assert body == {
        "id": BUILDING,
        "type": "Building",
        "locatedAt": {
            "type": "Relationship",
            "object": CITY,
            "entity": {"id": CITY, "type": "City"},
        },
    }


async def test_flat_answers_the_entity_and_its_linked_entity_as_a_list(
    client: httpx.AsyncClient,
) -> None:
    await create_many(client, [building(), {"id": CITY, "type": "City"}])

    resp = await client.get(entity_url(BUILDING), params={"join": "flat", "joinLevel": "1"})

    assert resp.status_code == 200, resp.text
    assert resp.json() == [
        {"id": BUILDING, "type": "Building", "locatedAt": rel(CITY)},
        {"id": CITY, "type": "City"},
    ]


async def test_inline_key_values_replaces_the_object_by_the_entity(
    client: httpx.AsyncClient,
) -> None:
    await create_many(client, [building(), {"id": CITY, "type": "City"}])

    body = await retrieve(client, BUILDING, params={"join": "inline", "options": "keyValues"})

    assert body == {"id": BUILDING, "type": "Building", "locatedAt": {"id": CITY, "type": "City"}}


async def test_flat_key_values_keeps_the_object_id(client: httpx.AsyncClient) -> None:
    await create_many(client, [building(), {"id": CITY, "type": "City"}])

    resp = await client.get(entity_url(BUILDING), params={"join": "flat", "format": "keyValues"})

    assert resp.json() == [
        {"id": BUILDING, "type": "Building", "locatedAt": CITY},
        {"id": CITY, "type": "City"},
    ]


async def test_inline_concise_adds_the_entity_in_concise_form(
    client: httpx.AsyncClient, chain: None
) -> None:
    body = await retrieve(client, BUILDING, params={"join": "inline", "format": "concise"})

    assert body["locatedAt"] == {
        "object": CITY,
        "entity": {
            "id": CITY,
            "type": "City",
            "name": "Seoul",
            "description": "capital of Korea",
            "isInCountry": {"object": COUNTRY},
        },
    }


async def test_sys_attrs_apply_to_linked_entities(client: httpx.AsyncClient, chain: None) -> None:
    inline = await retrieve(client, BUILDING, params={"join": "inline", "options": "sysAttrs"})
    flat = await client.get(entity_url(BUILDING), params={"join": "flat", "options": "sysAttrs"})

    assert "createdAt" in inline["locatedAt"]["entity"]
    assert "createdAt" in inline["locatedAt"]["entity"]["name"]
    assert [("createdAt" in e, "modifiedAt" in e) for e in flat.json()] == [(True, True)] * 2


async def test_without_join_relationships_stay_plain(
    client: httpx.AsyncClient, chain: None
) -> None:
    for params in ({}, {"join": "@none"}, {"joinLevel": "2"}):
        body = await retrieve(client, BUILDING, params=params)
        assert body["locatedAt"] == rel(CITY), params


# --- retrieve: two levels, missing targets ------------------------------------------------


async def test_join_level_two_follows_the_linked_entity_relationships(
    client: httpx.AsyncClient, chain: None
) -> None:
    inline = await retrieve(client, BUILDING, params={"join": "inline", "joinLevel": "2"})
    flat = await client.get(entity_url(BUILDING), params={"join": "flat", "joinLevel": "2"})

    linked_city = inline["locatedAt"]["entity"]
    assert linked_city["id"] == CITY
    assert linked_city["isInCountry"] == {**rel(COUNTRY), "entity": country()}
    assert [e["id"] for e in flat.json()] == [BUILDING, CITY, COUNTRY]
    assert flat.json()[1]["isInCountry"] == rel(COUNTRY)  # flat: no entity member


async def test_join_level_two_in_key_values_nests_entities(
    client: httpx.AsyncClient, chain: None
) -> None:
    body = await retrieve(
        client, BUILDING, params={"join": "inline", "joinLevel": "2", "options": "keyValues"}
    )

    assert body == {
        "id": BUILDING,
        "type": "Building",
        "locatedAt": {
            "id": CITY,
            "type": "City",
            "name": "Seoul",
            "description": "capital of Korea",
            "isInCountry": {
                "id": COUNTRY,
                "type": "Country",
                "name": "Korea",
                "description": "a country in East Asia",
            },
        },
    }


async def test_join_level_defaults_to_one(client: httpx.AsyncClient, chain: None) -> None:
    body = await retrieve(client, BUILDING, params={"join": "inline"})

    assert body["locatedAt"]["entity"]["isInCountry"] == rel(COUNTRY)


@pytest.mark.parametrize("join", ["inline", "flat"])
async def test_a_missing_target_is_not_joined(client: httpx.AsyncClient, join: str) -> None:
    await create_many(client, [building()])

    resp = await client.get(entity_url(BUILDING), params={"join": join, "joinLevel": "1"})

    assert resp.status_code == 200, resp.text
    assert resp.json() == building()


# --- pick and omit in braces ---------------------------------------------------------------


async def test_pick_in_braces_projects_the_linked_entity(
    client: httpx.AsyncClient, chain: None
) -> None:
    params = {"join": "inline", "joinLevel": "2", "pick": "id,locatedAt{id,name}"}
    inline = await retrieve(client, BUILDING, params=params)
    flat = await client.get(entity_url(BUILDING), params={**params, "join": "flat"})

    assert inline == {
        "id": BUILDING,
        "locatedAt": {**rel(CITY), "entity": {"id": CITY, "name": prop("Seoul")}},
    }
    # isInCountry is not picked, so the country is not reached even at joinLevel 2
    assert flat.json() == [
        {"id": BUILDING, "locatedAt": rel(CITY)},
        {"id": CITY, "name": prop("Seoul")},
    ]


async def test_pick_in_nested_braces_projects_the_second_level(
    client: httpx.AsyncClient, chain: None
) -> None:
    params = {
        "join": "inline",
        "joinLevel": "2",
        "pick": "id,locatedAt{id,name,isInCountry{id,description}}",
    }
    inline = await retrieve(client, BUILDING, params=params)
    flat = await client.get(entity_url(BUILDING), params={**params, "join": "flat"})

    assert inline["locatedAt"]["entity"] == {
        "id": CITY,
        "name": prop("Seoul"),
        "isInCountry": {
            **rel(COUNTRY),
            "entity": {"id": COUNTRY, "description": prop("a country in East Asia")},
        },
    }
    assert flat.json() == [
        {"id": BUILDING, "locatedAt": rel(CITY)},
        {"id": CITY, "name": prop("Seoul"), "isInCountry": rel(COUNTRY)},
        {"id": COUNTRY, "description": prop("a country in East Asia")},
    ]


async def test_omit_applies_to_its_own_level_and_braces_to_the_linked_entity(
    client: httpx.AsyncClient, chain: None
) -> None:
    params = {"join": "inline", "joinLevel": "2", "omit": "type,locatedAt{name}"}
    body = await retrieve(client, BUILDING, params=params)

    # type is omitted from the building only; name from the city only; the country is whole
    assert body == {
        "id": BUILDING,
        "locatedAt": {
            **rel(CITY),
            "entity": {
                "id": CITY,
                "type": "City",
                "description": prop("capital of Korea"),
                "isInCountry": {**rel(COUNTRY), "entity": country()},
            },
        },
    }


async def test_omit_in_nested_braces_reaches_the_second_level(
    client: httpx.AsyncClient, chain: None
) -> None:
    params = {
        "join": "flat",
        "joinLevel": "2",
        "omit": "type,locatedAt{name,isInCountry{description}}",
    }
    resp = await client.get(entity_url(BUILDING), params=params)

    assert resp.json() == [
        {"id": BUILDING, "locatedAt": rel(CITY)},
        {
            "id": CITY,
            "type": "City",
            "description": prop("capital of Korea"),
            "isInCountry": rel(COUNTRY),
        },
        {"id": COUNTRY, "type": "Country", "name": prop("Korea")},
    ]


async def test_an_omitted_relationship_is_not_followed(
    client: httpx.AsyncClient, chain: None
) -> None:
    resp = await client.get(entity_url(BUILDING), params={"join": "flat", "omit": "locatedAt"})

    assert resp.json() == {"id": BUILDING, "type": "Building"}


async def test_attrs_select_which_relationships_are_followed(client: httpx.AsyncClient) -> None:
    other = "urn:ngsi-ld:Person:owner"
    await create_many(
        client,
        [
            {**building(), "owner": rel(other)},
            city(country=None),
            {"id": other, "type": "Person"},
        ],
    )

    body = await retrieve(client, BUILDING, params={"join": "inline", "attrs": "owner"})

    assert body == {
        "id": BUILDING,
        "type": "Building",
        "owner": {**rel(other), "entity": {"id": other, "type": "Person"}},
    }


# --- cycles, containedBy, lists, tenants ---------------------------------------------------


async def test_inline_never_repeats_an_entity_of_its_own_chain(
    client: httpx.AsyncClient,
) -> None:
    a, b = "urn:ngsi-ld:Node:a", "urn:ngsi-ld:Node:b"
    await create_many(
        client,
        [{"id": a, "type": "Node", "next": rel(b)}, {"id": b, "type": "Node", "next": rel(a)}],
    )

    inline = await retrieve(client, a, params={"join": "inline", "joinLevel": "5"})
    flat = await client.get(entity_url(a), params={"join": "flat", "joinLevel": "5"})

    assert inline["next"]["entity"] == {"id": b, "type": "Node", "next": rel(a)}
    assert [e["id"] for e in flat.json()] == [a, b]


async def test_a_self_link_is_not_joined(client: httpx.AsyncClient) -> None:
    a = "urn:ngsi-ld:Node:self"
    await create_many(client, [{"id": a, "type": "Node", "next": rel(a)}])

    body = await retrieve(client, a, params={"join": "inline"})

    assert body["next"] == rel(a)


async def test_contained_by_ids_are_not_followed(client: httpx.AsyncClient, chain: None) -> None:
    params = {"join": "inline", "joinLevel": "2", "containedBy": f"{COUNTRY},urn:ngsi-ld:X:1"}
    body = await retrieve(client, BUILDING, params=params)

    assert body["locatedAt"]["entity"]["isInCountry"] == rel(COUNTRY)


async def test_a_list_relationship_gets_the_list_of_linked_entities(
    client: httpx.AsyncClient,
) -> None:
    route = "urn:ngsi-ld:Route:1"
    stops = ["urn:ngsi-ld:Stop:1", "urn:ngsi-ld:Stop:missing", "urn:ngsi-ld:Stop:2"]
    await create_many(
        client,
        [
            {
                "id": route,
                "type": "Route",
                "stops": {"type": "ListRelationship", "objectList": stops},
            },
            {"id": stops[0], "type": "Stop"},
            {"id": stops[2], "type": "Stop"},
        ],
    )

    inline = await retrieve(client, route, params={"join": "inline"})
    key_values = await retrieve(client, route, params={"join": "inline", "format": "keyValues"})
    flat = await client.get(entity_url(route), params={"join": "flat"})

    found = [{"id": stops[0], "type": "Stop"}, {"id": stops[2], "type": "Stop"}]
    assert inline["stops"] == {
        "type": "ListRelationship",
        "objectList": [{"object": s} for s in stops],
        "entityList": found,
    }
    assert key_values["stops"] == {"objectList": stops, "entityList": found}
    assert [e["id"] for e in flat.json()] == [route, stops[0], stops[2]]


async def test_each_instance_of_a_multi_relationship_is_joined(
    client: httpx.AsyncClient,
) -> None:
    other = "urn:ngsi-ld:City:Busan"
    locations = [
        {**rel(CITY), "datasetId": "urn:ngsi-ld:dataset:now"},
        {**rel(other), "datasetId": "urn:ngsi-ld:dataset:before"},
    ]
    await create_many(
        client,
        [
            {"id": BUILDING, "type": "Building", "locatedAt": locations},
            {"id": CITY, "type": "City"},
            {"id": other, "type": "City"},
        ],
    )

    body = await retrieve(client, BUILDING, params={"join": "inline"})
    key_values = await retrieve(client, BUILDING, params={"join": "inline", "format": "keyValues"})

    assert [i["entity"]["id"] for i in body["locatedAt"]] == [CITY, other]
    assert key_values["locatedAt"] == {
        "dataset": {
            "urn:ngsi-ld:dataset:now": {"id": CITY, "type": "City"},
            "urn:ngsi-ld:dataset:before": {"id": other, "type": "City"},
        }
    }


async def test_linked_entities_come_from_the_same_tenant(client: httpx.AsyncClient) -> None:
    tenant = {"NGSILD-Tenant": "gwacheon"}
    await create_many(client, [building()], headers=tenant)
    await create_many(client, [{"id": CITY, "type": "City"}])  # the default tenant's city

    body = await retrieve(client, BUILDING, params={"join": "inline"}, headers=tenant)

    assert body["locatedAt"] == rel(CITY)


async def test_flat_in_geojson_adds_a_feature_per_linked_entity(
    client: httpx.AsyncClient,
) -> None:
    point = {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [127.0, 37.5]}}
    await create_many(client, [building(), {"id": CITY, "type": "City", "location": point}])

    resp = await client.get(
        entity_url(BUILDING),
        params={"join": "flat"},
        headers={"Accept": "application/geo+json"},
    )

    body = resp.json()
    assert body["type"] == "FeatureCollection"
    assert [f["id"] for f in body["features"]] == [BUILDING, CITY]
    assert body["features"][1]["geometry"] == point["value"]


@pytest.mark.parametrize(
    "params",
    [
        {"join": "sideways"},
        {"join": "inline", "joinLevel": "0"},
        {"join": "inline", "joinLevel": "-1"},
        {"join": "flat", "joinLevel": "two"},
        {"join": "inline", "containedBy": "not a uri"},
        {"join": "inline", "pick": "id,locatedAt{id"},
    ],
)
async def test_malformed_join_parameters_are_400(
    client: httpx.AsyncClient, chain: None, params: dict[str, str]
) -> None:
    resp = await client.get(entity_url(BUILDING), params=params)
    assert_problem(resp, "BadRequestData", 400)

    listing = await client.get(ENTITIES, params={"type": "Building", **params})
    assert_problem(listing, "BadRequestData", 400)


# --- query ----------------------------------------------------------------------------------

B2, CITY2, COUNTRY2 = "urn:ngsi-ld:Building:B2", "urn:ngsi-ld:City:Busan", "urn:ngsi-ld:Country:K2"


@pytest.fixture
async def two_chains(client: httpx.AsyncClient) -> None:
    """Two buildings, each in its own city, each city in its own country."""
    await create_many(
        client,
        [
            building(),
            building(B2, CITY2),
            city(),
            city(CITY2, COUNTRY2),
            country(),
            country(COUNTRY2),
        ],
    )


async def test_query_inline_joins_each_entity(client: httpx.AsyncClient, two_chains: None) -> None:
    body = await query(client, type="Building", join="inline", joinLevel="1")

    assert [(e["id"], e["locatedAt"]["entity"]["id"]) for e in body] == [
        (BUILDING, CITY),
        (B2, CITY2),
    ]
    assert body[0]["locatedAt"]["entity"]["isInCountry"] == rel(COUNTRY)


async def test_query_flat_appends_linked_entities_level_by_level(
    client: httpx.AsyncClient, two_chains: None
) -> None:
    resp = await client.get(
        ENTITIES, params={"type": "Building", "join": "flat", "joinLevel": "2", "count": "true"}
    )

    assert [e["id"] for e in resp.json()] == [BUILDING, B2, CITY, CITY2, COUNTRY, COUNTRY2]
    assert resp.headers["NGSILD-Results-Count"] == "2"  # the matches, not the linked entities


async def test_query_flat_lists_a_shared_target_once(client: httpx.AsyncClient) -> None:
    await create_many(client, [building(), building(B2), {"id": CITY, "type": "City"}])

    body = await query(client, type="Building", join="flat", format="keyValues")

    assert body == [
        {"id": BUILDING, "type": "Building", "locatedAt": CITY},
        {"id": B2, "type": "Building", "locatedAt": CITY},
        {"id": CITY, "type": "City"},
    ]


async def test_query_flat_does_not_repeat_a_target_that_is_also_a_match(
    client: httpx.AsyncClient,
) -> None:
    a, b = "urn:ngsi-ld:Node:a", "urn:ngsi-ld:Node:b"
    await create_many(
        client,
        [{"id": a, "type": "Node", "next": rel(b)}, {"id": b, "type": "Node", "next": rel(a)}],
    )

    flat = await query(client, type="Node", join="flat", joinLevel="3")
    inline = await query(client, type="Node", join="inline")

    assert [e["id"] for e in flat] == [a, b]
    assert inline[0]["next"]["entity"]["id"] == b
    assert inline[1]["next"]["entity"]["id"] == a


async def test_query_pick_and_omit_with_braces(client: httpx.AsyncClient, two_chains: None) -> None:
    picked = await query(
        client,
        type="Building",
        join="flat",
        joinLevel="2",
        pick="id,locatedAt{id,name,isInCountry{id,description}}",
    )
    omitted = await query(client, type="Building", join="inline", omit="locatedAt{name}")
    names_only = await query(client, type="Building", join="flat", pick="id,name")

    assert picked == [
        {"id": BUILDING, "locatedAt": rel(CITY)},
        {"id": B2, "locatedAt": rel(CITY2)},
        {"id": CITY, "name": prop("Seoul"), "isInCountry": rel(COUNTRY)},
        {"id": CITY2, "name": prop("Seoul"), "isInCountry": rel(COUNTRY2)},
        {"id": COUNTRY, "description": prop("a country in East Asia")},
        {"id": COUNTRY2, "description": prop("a country in East Asia")},
    ]
    assert [sorted(e["locatedAt"]["entity"]) for e in omitted] == [
        ["description", "id", "isInCountry", "type"]
    ] * 2
    assert names_only == [{"id": BUILDING}, {"id": B2}]


async def test_post_query_takes_join_from_the_body(
    client: httpx.AsyncClient, two_chains: None
) -> None:
    resp = await client.post(
        f"{BATCH}/query",
        json={"type": "Query", "entities": [{"type": "Building"}], "join": "flat"},
        params={"options": "keyValues"},
    )
    inline = await client.post(
        f"{BATCH}/query",
        json={
            "type": "Query",
            "entities": [{"type": "Building"}],
            "join": "inline",
            "joinLevel": 2,
        },
    )

    assert resp.status_code == 200, resp.text
    assert [e["id"] for e in resp.json()] == [BUILDING, B2, CITY, CITY2]  # joinLevel 1
    assert resp.json()[0]["locatedAt"] == CITY
    country_entity = inline.json()[0]["locatedAt"]["entity"]["isInCountry"]["entity"]
    assert country_entity["id"] == COUNTRY


async def test_post_query_with_a_malformed_join_is_400(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        f"{BATCH}/query",
        json={
            "type": "Query",
            "entities": [{"type": "Building"}],
            "join": "inline",
            "joinLevel": 0,
        },
    )
    assert_problem(resp, "BadRequestData", 400)


async def test_query_joins_many_entities_in_batched_look_ups(client: httpx.AsyncClient) -> None:
    # more targets than one look-up takes (500), each building linking to its own city
    n = 520
    buildings = [building(f"urn:ngsi-ld:Building:n{i}", f"urn:ngsi-ld:City:n{i}") for i in range(n)]
    cities = [{"id": f"urn:ngsi-ld:City:n{i}", "type": "City"} for i in range(n)]
    for start in range(0, n, 260):
        await create_many(client, buildings[start : start + 260] + cities[start : start + 260])

    body = await query(client, type="Building", join="inline", limit="1000")

    assert len(body) == n
    assert all(e["locatedAt"]["entity"]["id"] == e["locatedAt"]["object"] for e in body)
