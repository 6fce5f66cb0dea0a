"""API tests of multi-tenancy (NGSILD-Tenant): tenants see nothing of each other, the first
write creates a tenant, and reads from a tenant that was never written are 404."""

from __future__ import annotations

import httpx
import pytest

from tests.ngsild_api import (
    BASE,
    BATCH,
    ENTITIES,
    assert_problem,
    create,
    entity_url,
    query_ids,
    retrieve,
)

pytestmark = pytest.mark.anyio

GWACHEON = {"NGSILD-Tenant": "gwacheon"}
ANYANG = {"NGSILD-Tenant": "anyang"}
LIGHT = "urn:ngsi-ld:Streetlight:1"


def streetlight(power: int) -> dict[str, object]:
    """A streetlight entity with a power reading."""
    return {"id": LIGHT, "type": "Streetlight", "power": {"type": "Property", "value": power}}


async def test_an_entity_lives_only_in_its_tenant(client: httpx.AsyncClient) -> None:
    await create(client, streetlight(100), headers=GWACHEON)
    await create(client, {"id": "urn:ngsi-ld:Bench:1", "type": "Bench"}, headers=ANYANG)

    in_gwacheon = await retrieve(client, LIGHT, headers=GWACHEON)
    in_anyang = await client.get(entity_url(LIGHT), headers=ANYANG)
    in_default = await client.get(entity_url(LIGHT))

    assert in_gwacheon["power"]["value"] == 100
    assert_problem(in_anyang, "ResourceNotFound", 404)
    assert_problem(in_default, "ResourceNotFound", 404)


async def test_the_same_id_in_two_tenants_is_two_entities(client: httpx.AsyncClient) -> None:
    await create(client, streetlight(1))
    await create(client, streetlight(2), headers=GWACHEON)
    await create(client, streetlight(3), headers=ANYANG)

    await client.delete(entity_url(LIGHT), headers=ANYANG)
    await client.patch(entity_url(LIGHT) + "/attrs", json={"power": 20}, headers=GWACHEON)

    assert (await retrieve(client, LIGHT))["power"]["value"] == 1
    assert (await retrieve(client, LIGHT, headers=GWACHEON))["power"]["value"] == 20
    assert (await client.get(entity_url(LIGHT), headers=ANYANG)).status_code == 404


async def test_queries_and_discovery_see_only_their_tenant(client: httpx.AsyncClient) -> None:
    await create(client, streetlight(1), headers=GWACHEON)
    await create(client, {"id": "urn:ngsi-ld:Bench:1", "type": "Bench"})

    gwacheon = await client.get(ENTITIES, params={"type": "Streetlight,Bench"}, headers=GWACHEON)
    default = await query_ids(client, type="Streetlight,Bench")
    types = await client.get(f"{BASE}/types", headers=GWACHEON)
    attrs = await client.get(f"{BASE}/attributes")

    assert [e["id"] for e in gwacheon.json()] == [LIGHT]
    assert default == ["urn:ngsi-ld:Bench:1"]
    assert types.json()["typeList"] == ["Streetlight"]
    assert attrs.json()["attributeList"] == []


async def test_batch_operations_stay_in_their_tenant(client: httpx.AsyncClient) -> None:
    resp = await client.post(f"{BATCH}/create", json=[streetlight(5)], headers=GWACHEON)
    assert resp.status_code == 201

    found = await client.post(
        f"{BATCH}/query",
        json={"type": "Query", "entities": [{"type": "Streetlight"}]},
        headers=GWACHEON,
    )
    purge = await client.delete(ENTITIES, params={"type": "Streetlight"})

    assert [e["id"] for e in found.json()] == [LIGHT]
    assert purge.status_code == 204  # the default tenant has none; Gwacheon keeps its own
    assert (await retrieve(client, LIGHT, headers=GWACHEON))["power"]["value"] == 5


async def test_reads_from_a_tenant_never_written_are_404_nonexistent_tenant(
    client: httpx.AsyncClient,
) -> None:
    await create(client, streetlight(1))
    unknown = {"NGSILD-Tenant": "nowhere"}

    answers = [
        await client.get(entity_url(LIGHT), headers=unknown),
        await client.get(ENTITIES, params={"type": "Streetlight"}, headers=unknown),
        await client.get(f"{BASE}/types", headers=unknown),
        await client.get(f"{BASE}/attributes", headers=unknown),
        await client.post(
            f"{BATCH}/query",
            json={"type": "Query", "entities": [{"type": "Streetlight"}]},
            headers=unknown,
        ),
        await client.delete(entity_url(LIGHT), headers=unknown),
        await client.patch(entity_url(LIGHT) + "/attrs", json={"power": 1}, headers=unknown),
    ]

    for resp in answers:
        assert_problem(resp, "NonexistentTenant", 404)


async def test_the_first_write_creates_the_tenant(client: httpx.AsyncClient) -> None:
    before = await client.get(f"{BASE}/types", headers=ANYANG)

    await create(client, streetlight(7), headers=ANYANG)

    after = await client.get(f"{BASE}/types", headers=ANYANG)
    assert_problem(before, "NonexistentTenant", 404)
    assert after.status_code == 200
    assert after.json()["typeList"] == ["Streetlight"]


async def test_a_rejected_write_does_not_create_the_tenant(client: httpx.AsyncClient) -> None:
    resp = await client.post(ENTITIES, json={"id": "bad id", "type": "X"}, headers=ANYANG)

    assert_problem(resp, "BadRequestData", 400)
    assert_problem(await client.get(f"{BASE}/types", headers=ANYANG), "NonexistentTenant", 404)


@pytest.mark.parametrize("tenant", ["two words", "semi;colon", "x" * 65, "../etc"])
async def test_invalid_tenant_names_are_400(client: httpx.AsyncClient, tenant: str) -> None:
    resp = await client.post(ENTITIES, json=streetlight(1), headers={"NGSILD-Tenant": tenant})

    assert_problem(resp, "BadRequestData", 400)
