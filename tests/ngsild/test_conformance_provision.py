"""ETSI NGSI-LD conformance suite, Provision part: cases cityhub failed before, as the suite
checks them (status, ProblemDetails type, the body after the suite's comparison).

Each test names the suite case (TP/NGSI-LD/ContextInformation/Provision/...) it mirrors. The
suite's @context (ngsi-ld-test-suite-compound.jsonld) maps its terms to
``https://ngsi-ld-test-suite/context#``; an inline context with the same mappings stands in for it.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.ngsild_api import (
    BATCH,
    CORE_CONTEXT,
    DEFAULT_VOCAB,
    ENTITIES,
    LD_JSON,
    assert_problem,
    create,
    entity_url,
    link,
    retrieve,
)

pytestmark = pytest.mark.anyio

SUITE = "https://ngsi-ld-test-suite/context#"
#: the suite's compound @context: its own terms, then the core context
SUITE_CONTEXT: list[Any] = [
    {term: SUITE + term for term in ("Building", "Vehicle", "speed", "isParked", "brandName")},
    CORE_CONTEXT,
]
VEHICLE = "urn:ngsi-ld:Vehicle:0000000000000001"


def vehicle() -> dict[str, Any]:
    """The suite's vehicle-speed-two-datasetid.jsonld (application/ld+json form)."""
    return {
        "id": VEHICLE,
        "type": "Vehicle",
        "brandName": {"type": "Property", "value": "Mercedes"},
        "isParked": {"type": "Relationship", "object": "urn:ngsi-ld:OffStreetParking:Downtown1"},
        "speed": [
            {"type": "Property", "value": 55, "datasetId": "urn:ngsi-ld:Property:speedometer"},
            {"type": "Property", "value": 54.5, "datasetId": "urn:ngsi-ld:Property:gps"},
        ],
        "@context": SUITE_CONTEXT,
    }


async def test_001_02_04_an_entity_type_that_expands_to_a_keyword_is_bad_request_data(
    client: httpx.AsyncClient,
) -> None:
    """001_02_04 EntityWithInvalidType: "type": "type" (the core context's alias of @type)."""
    body = {"id": "urn:ngsi-ld:Building:1", "type": "type", "@context": [CORE_CONTEXT]}

    resp = await client.post(ENTITIES, json=body, headers=LD_JSON)

    assert_problem(resp, "BadRequestData", 400)
    assert (await client.get(entity_url("urn:ngsi-ld:Building:1"))).status_code == 404


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_054_02_02_and_056_02_02_replace_or_merge_without_an_entity_id_is_400(
    client: httpx.AsyncClient, method: str
) -> None:
    """054_02_02 Replace / 056_02_02 Merge An Existing Entity Without Giving An Id:
    ``PUT|PATCH /entities/`` (an empty id) is 400, not 405."""
    body = {"type": "Building", "name": {"type": "Property", "value": "Pisa Tower"}}

    resp = await client.request(method, f"{ENTITIES}/", json=body)

    assert_problem(resp, "BadRequestData", 400)


async def test_405_stays_for_put_on_the_collection_without_a_slash(
    client: httpx.AsyncClient,
) -> None:
    """Only the trailing-slash form names an (empty) entity id; ``PUT /entities`` is 405."""
    resp = await client.put(ENTITIES, json={"type": "Building"})

    assert resp.status_code == 405


async def test_010_04_01_no_overwrite_report_names_attributes_by_their_expanded_iri(
    client: httpx.AsyncClient,
) -> None:
    """010_04_01 Append Entity Attributes And Ignore Existing Multi-attribute Instance:
    207 UpdateResult with ``updated`` / ``notUpdated[].attributeName`` as expanded IRIs."""
    await create(client, vehicle(), headers=LD_JSON)
    fragment = {
        "speed": {"type": "Property", "value": 56, "datasetId": "urn:ngsi-ld:Property:speedometer"},
        "attribute_to_be_added": {"type": "Property", "value": 23},
        "@context": SUITE_CONTEXT,
    }

    resp = await client.post(
        f"{entity_url(VEHICLE)}/attrs/",
        params={"options": "noOverwrite"},
        json=fragment,
        headers=LD_JSON,
    )

    assert resp.status_code == 207
    report = resp.json()
    assert report["updated"] == [DEFAULT_VOCAB + "attribute_to_be_added"]
    assert [n["attributeName"] for n in report["notUpdated"]] == [SUITE + "speed"]
    assert all(isinstance(n["reason"], str) and n["reason"] for n in report["notUpdated"])
    stored = await retrieve(client, VEHICLE)  # no context: the suite's terms as IRIs
    assert sorted(i["value"] for i in stored[SUITE + "speed"]) == [54.5, 55]
    assert stored["attribute_to_be_added"] == {"type": "Property", "value": 23}


@pytest.mark.parametrize("name", ["@invalid", "@id"])
async def test_055_03_03_replacing_an_attribute_named_like_a_keyword_is_400(
    client: httpx.AsyncClient, name: str
) -> None:
    """055_03_03 Replace Entity Attribute Giving An Invalid Attribute Name (``@invalid``)."""
    await create(client, vehicle(), headers=LD_JSON)
    attribute = {"type": "Relationship", "object": "urn:ngsi-ld:OffStreetParking:Downtown2"}

    resp = await client.put(f"{entity_url(VEHICLE)}/attrs/{name}", json=attribute)

    assert_problem(resp, "BadRequestData", 400)


async def test_append_of_an_attribute_named_like_a_keyword_is_400(
    client: httpx.AsyncClient,
) -> None:
    """The same rule in a body: a member "@foo" is not an attribute name."""
    await create(client, vehicle(), headers=LD_JSON)

    resp = await client.post(
        f"{entity_url(VEHICLE)}/attrs", json={"@foo": {"type": "Property", "value": 1}}
    )

    assert_problem(resp, "BadRequestData", 400)


async def test_003_06_01_batch_with_json_content_type_reports_an_entity_with_context(
    client: httpx.AsyncClient,
) -> None:
    """003_06_01 Create A Batch Of One Entity Containing A JSON-LD @context With A JSON
    Content Type: 207, the entity's error a BadRequestData ProblemDetails."""
    with_context = {**vehicle(), "id": "urn:ngsi-ld:Building:2"}
    plain = {"id": "urn:ngsi-ld:Building:3", "type": "Building"}

    resp = await client.post(f"{BATCH}/create", json=[with_context, plain])

    assert resp.status_code == 207
    report = resp.json()
    assert report["success"] == ["urn:ngsi-ld:Building:3"]
    [error] = report["errors"]
    assert error["entityId"] == "urn:ngsi-ld:Building:2"
    assert error["error"]["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
    assert error["error"]["title"]


async def test_003_06_01_batch_with_json_content_type_uses_the_link_context(
    client: httpx.AsyncClient, context_server: str
) -> None:
    """With application/json the Link header's context holds for every entity of the batch."""
    ctx = f"{context_server}/context-smart-data-models-parking.json"
    entity = {"id": "urn:ngsi-ld:OffStreetParking:1", "type": "OffStreetParking"}

    resp = await client.post(f"{BATCH}/create", json=[entity], headers=link(ctx))

    assert resp.status_code == 201, resp.text
    stored = await retrieve(client, entity["id"])
    assert stored["type"].startswith("https://")  # expanded by the Link context, not core


async def test_003_09_01_batch_with_ld_json_and_a_link_header_is_bad_request_data(
    client: httpx.AsyncClient,
) -> None:
    """003_09_01 Create A Batch Of One Entity With A Link Header And A JSON-LD Content Type."""
    headers = {**LD_JSON, **link(CORE_CONTEXT)}

    resp = await client.post(f"{BATCH}/create", json=[vehicle()], headers=headers)

    assert_problem(resp, "BadRequestData", 400)
    assert (await client.get(entity_url(VEHICLE))).status_code == 404
