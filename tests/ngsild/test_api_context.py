"""API tests of JSON-LD @context handling: Link header and body contexts, the offline core
context, remote contexts (served locally), and /jsonldContexts (hosted contexts)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.ngsild_api import (
    CONTEXTS,
    CORE_CONTEXT,
    DEFAULT_VOCAB,
    ENTITIES,
    LD_JSON,
    assert_problem,
    create,
    entity_url,
    link,
    query_ids,
    retrieve,
    without_context,
)

pytestmark = pytest.mark.anyio

A_ONTOLOGY = "https://vendor-a.example/ontology#"
B_TERMS = "https://vendor-b.example/terms/"
ROOM = "urn:ngsi-ld:Room:101"
SDM_PARKING = "https://smartdatamodels.org/dataModel.Parking/"
PARKING_ID = "urn:ngsi-ld:OffStreetParking:gwacheon-jungang-1"


@pytest.fixture
def vendor_a(context_server: str) -> str:
    """URL of vendor A's context (Room, temperature, kind as a vocab term)."""
    return f"{context_server}/context-sensors-a.json"


@pytest.fixture
def vendor_b(context_server: str) -> str:
    """URL of vendor B's context: the same short names as vendor A, other IRIs."""
    return f"{context_server}/context-sensors-b.json"


# --- Link header -------------------------------------------------------------------------


async def test_same_short_name_under_two_contexts_is_two_attributes(
    client: httpx.AsyncClient, vendor_a: str, vendor_b: str
) -> None:
    await create(
        client,
        {"id": ROOM, "type": "Room", "temperature": {"type": "Property", "value": 21}},
        headers=link(vendor_a),
    )
    resp = await client.post(
        entity_url(ROOM) + "/attrs",
        json={"temperature": {"type": "Property", "value": 70}},
        headers=link(vendor_b),
    )
    assert resp.status_code == 204

    as_a = await retrieve(client, ROOM, headers=link(vendor_a))
    as_b = await retrieve(client, ROOM, headers=link(vendor_b))
    expanded = await retrieve(client, ROOM)

    assert as_a["type"] == "Room"
    assert as_a["temperature"]["value"] == 21
    assert as_a[B_TERMS + "temperature"]["value"] == 70
    assert as_b["type"] == A_ONTOLOGY + "Room"
    assert as_b["temperature"]["value"] == 70
    assert expanded[A_ONTOLOGY + "temperature"]["value"] == 21
    assert expanded[B_TERMS + "temperature"]["value"] == 70


async def test_response_link_header_names_the_request_context(
    client: httpx.AsyncClient, vendor_a: str
) -> None:
    await create(client, {"id": ROOM, "type": "Room"}, headers=link(vendor_a))

    resp = await client.get(entity_url(ROOM), headers=link(vendor_a))

    assert resp.headers["link"].startswith(f"<{vendor_a}>")
    assert 'rel="http://www.w3.org/ns/json-ld#context"' in resp.headers["link"]


async def test_query_expands_types_and_q_attributes_with_the_context(
    client: httpx.AsyncClient, vendor_a: str, vendor_b: str
) -> None:
    await create(
        client,
        {"id": ROOM, "type": "Room", "temperature": {"type": "Property", "value": 21}},
        headers=link(vendor_a),
    )

    async def ids(context: str, **params: Any) -> list[str]:
        resp = await client.get(ENTITIES, params=params, headers=link(context))
        assert resp.status_code == 200
        return [e["id"] for e in resp.json()]

    assert await ids(vendor_a, type="Room") == [ROOM]
    assert await ids(vendor_b, type="Room") == []
    assert await ids(vendor_a, q="temperature>20") == [ROOM]
    assert await ids(vendor_b, q="temperature>20") == []
    assert await query_ids(client, type=A_ONTOLOGY + "Room") == [ROOM]


async def test_vocab_values_expand_and_compact_with_the_context(
    client: httpx.AsyncClient, vendor_a: str
) -> None:
    await create(
        client,
        {"id": ROOM, "type": "Room", "kind": {"type": "VocabProperty", "vocab": "Office"}},
        headers=link(vendor_a),
    )

    as_a = await retrieve(client, ROOM, headers=link(vendor_a))
    expanded = await retrieve(client, ROOM)

    assert as_a["kind"] == {"type": "VocabProperty", "vocab": "Office"}
    assert expanded[A_ONTOLOGY + "kind"]["vocab"] == A_ONTOLOGY + "Office"


async def test_terms_no_context_defines_use_the_default_vocabulary(
    client: httpx.AsyncClient,
) -> None:
    await create(client, {"id": ROOM, "type": "Room", "size": 20})

    resp = await client.get(
        ENTITIES, params={"type": DEFAULT_VOCAB + "Room", "attrs": DEFAULT_VOCAB + "size"}
    )

    assert resp.status_code == 200
    assert resp.json() == [{"id": ROOM, "type": "Room", "size": {"type": "Property", "value": 20}}]


# --- JSON-LD bodies ----------------------------------------------------------------------


async def test_ld_json_body_context_and_ld_json_answer(
    client: httpx.AsyncClient, parking: dict[str, Any]
) -> None:
    resp = await client.post(ENTITIES, json=parking, headers=LD_JSON)
    assert resp.status_code == 201

    expanded = await retrieve(client, PARKING_ID)
    compact = await client.get(
        entity_url(PARKING_ID),
        headers={**link(parking["@context"][0]), "Accept": "application/ld+json"},
    )

    assert expanded["type"] == SDM_PARKING + "OffStreetParking"
    assert expanded[SDM_PARKING + "availableSpotNumber"]["value"] == 132
    assert expanded["location"] == parking["location"]  # a core term: never expanded away
    assert compact.headers["content-type"] == "application/ld+json"
    body = compact.json()
    assert body["@context"] == parking["@context"][0]
    assert without_context(body) == without_context(parking)


async def test_smart_data_model_entities_round_trip_with_their_context(
    client: httpx.AsyncClient, air_quality: dict[str, Any]
) -> None:
    await create(client, air_quality, headers=LD_JSON)

    body = await retrieve(client, air_quality["id"], headers=link(air_quality["@context"][0]))
    ids = await query_ids(
        client, type="https://smartdatamodels.org/dataModel.Environment/AirQualityObserved"
    )

    assert body == without_context(air_quality)
    assert ids == [air_quality["id"]]


async def test_inline_context_object_in_the_body(client: httpx.AsyncClient) -> None:
    body = {
        "@context": {
            "temperature": "https://inline.example/temp",
            "Room": "https://inline.example/Room",
        },
        "id": ROOM,
        "type": "Room",
        "temperature": {"type": "Property", "value": 19},
    }

    await create(client, body, headers=LD_JSON)

    stored = await retrieve(client, ROOM)
    assert stored["type"] == "https://inline.example/Room"
    assert stored["https://inline.example/temp"]["value"] == 19


@pytest.mark.parametrize(
    "url",
    [
        "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld",
        "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.3.jsonld",
        "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.4.jsonld",
        "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.5.jsonld",
        "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.6.jsonld",
        "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.7.jsonld",
        "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld",
        "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld",
    ],
)
async def test_every_core_context_url_works_without_network(
    client: httpx.AsyncClient,
    url: str,
    unreachable_context_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # any remote fetch now goes through a proxy that refuses connections
    dead_proxy = unreachable_context_url.rsplit("/", 1)[0]
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, dead_proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    body = {"@context": url, "id": ROOM, "type": "Room", "size": {"type": "Property", "value": 3}}

    created = await client.post(ENTITIES, json=body, headers=LD_JSON)
    read = await client.get(entity_url(ROOM), headers=link(url))
    elsewhere = await client.get(
        entity_url(ROOM), headers=link("https://uri.etsi.org/ngsi-ld/v1/not-the-core.jsonld")
    )

    assert created.status_code == 201
    assert read.status_code == 200
    assert read.json() == without_context(body)
    assert_problem(elsewhere, "LdContextNotAvailable", 503)  # the network really is gone


# --- @context errors ---------------------------------------------------------------------


async def test_link_header_with_ld_json_is_400(client: httpx.AsyncClient, vendor_a: str) -> None:
    body = {"@context": vendor_a, "id": ROOM, "type": "Room"}

    resp = await client.post(ENTITIES, json=body, headers={**LD_JSON, **link(vendor_a)})

    assert_problem(resp, "BadRequestData", 400)
    assert (await client.get(entity_url(ROOM))).status_code == 404


async def test_context_in_a_plain_json_body_is_400(
    client: httpx.AsyncClient, vendor_a: str
) -> None:
    resp = await client.post(ENTITIES, json={"@context": vendor_a, "id": ROOM, "type": "Room"})

    assert_problem(resp, "BadRequestData", 400)
    assert (await client.get(entity_url(ROOM))).status_code == 404


async def test_ld_json_body_without_context_is_400(client: httpx.AsyncClient) -> None:
    resp = await client.post(ENTITIES, json={"id": ROOM, "type": "Room"}, headers=LD_JSON)

    assert_problem(resp, "BadRequestData", 400)


async def test_unreachable_remote_context_is_503(
    client: httpx.AsyncClient, unreachable_context_url: str
) -> None:
    resp = await client.post(
        ENTITIES, json={"id": ROOM, "type": "Room"}, headers=link(unreachable_context_url)
    )

    assert_problem(resp, "LdContextNotAvailable", 503)
    assert (await client.get(entity_url(ROOM))).status_code == 404


async def test_remote_context_answering_404_is_503(
    client: httpx.AsyncClient, context_server: str
) -> None:
    missing = f"{context_server}/context-that-does-not-exist.json"

    resp = await client.get(ENTITIES, params={"type": "Room"}, headers=link(missing))

    assert_problem(resp, "LdContextNotAvailable", 503)


async def test_remote_document_without_context_member_is_503(
    client: httpx.AsyncClient, context_server: str
) -> None:
    # a bare term map (a common mistake): JSON, but not a JSON-LD context document
    url = f"{context_server}/context-without-context-member.json"

    resp = await client.post(ENTITIES, json={"id": ROOM, "type": "Room"}, headers=link(url))

    assert_problem(resp, "LdContextNotAvailable", 503)
    assert (await client.get(entity_url(ROOM))).status_code == 404


@pytest.mark.parametrize(
    "header",
    [
        "https://example.org/context.jsonld",  # no <...>
        '<https://example.org/context.jsonld>; rel="alternate"',
    ],
)
async def test_malformed_link_header_is_400(client: httpx.AsyncClient, header: str) -> None:
    resp = await client.get(ENTITIES, params={"type": "Room"}, headers={"Link": header})

    assert_problem(resp, "InvalidRequest", 400)


# --- /jsonldContexts ---------------------------------------------------------------------


async def add_context(client: httpx.AsyncClient, context: Any) -> str:
    """POST /jsonldContexts; returns the path of the hosted context."""
    resp = await client.post(CONTEXTS, json={"@context": context})
    assert resp.status_code == 201, resp.text
    location: str = resp.headers["location"]
    assert location.startswith(f"{CONTEXTS}/")
    return location


async def test_host_list_serve_and_delete_a_context(client: httpx.AsyncClient) -> None:
    context = {"Tree": "https://trees.example/Tree", "height": "https://trees.example/height"}

    path = await add_context(client, context)
    listed = await client.get(CONTEXTS)
    detailed = await client.get(CONTEXTS, params={"details": "true"})
    served = await client.get(path)

    assert listed.status_code == 200
    assert listed.json() == [f"http://hub{path}"]
    (info,) = detailed.json()
    assert info["URL"] == f"http://hub{path}"
    assert info["localId"] == path.rsplit("/", 1)[-1]
    assert info["kind"] == "Hosted"
    assert served.status_code == 200
    assert served.headers["content-type"] == "application/json"  # as ETSI suite 053_01 checks
    assert served.json() == {"@context": context}

    deleted = await client.delete(path)

    assert deleted.status_code == 204
    assert_problem(await client.get(path), "ResourceNotFound", 404)
    assert (await client.get(CONTEXTS)).json() == []
    assert_problem(await client.delete(path), "ResourceNotFound", 404)


async def test_a_hosted_context_is_usable_by_its_url(client: httpx.AsyncClient) -> None:
    path = await add_context(client, {"Tree": "https://trees.example/Tree"})
    url = f"http://hub{path}"
    tree = {"id": "urn:ngsi-ld:Tree:1", "type": "Tree"}

    await create(client, tree, headers=link(url))
    await create(client, {**tree, "id": "urn:ngsi-ld:Tree:2", "@context": url}, headers=LD_JSON)

    assert (await retrieve(client, "urn:ngsi-ld:Tree:1"))["type"] == "https://trees.example/Tree"
    assert await query_ids(client, type="https://trees.example/Tree") == [
        "urn:ngsi-ld:Tree:1",
        "urn:ngsi-ld:Tree:2",
    ]
    resp = await client.get(ENTITIES, params={"type": "Tree"}, headers=link(url))
    assert [e["type"] for e in resp.json()] == ["Tree", "Tree"]


async def test_hosted_context_may_import_a_remote_one(
    client: httpx.AsyncClient, vendor_b: str
) -> None:
    path = await add_context(client, [vendor_b, {"Tree": "https://trees.example/Tree"}])

    await create(
        client,
        {"id": ROOM, "type": "Room", "temperature": 18},
        headers=link(f"http://hub{path}"),
    )

    stored = await retrieve(client, ROOM)
    assert stored["type"] == B_TERMS + "Room"
    assert stored[B_TERMS + "temperature"]["value"] == 18


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        # not an add-@context request at all: InvalidRequest (ETSI suite 050_02)
        ({"context": {"a": "https://a.example/a"}}, "InvalidRequest"),  # no @context member
        (["https://example.org/context.jsonld"], "InvalidRequest"),
        # an @context that is not a valid one: BadRequestData
        ({"@context": 5}, "BadRequestData"),
        ({"@context": {"a": 5}}, "BadRequestData"),  # a term must map to an IRI or an object
    ],
)
async def test_adding_an_invalid_context_is_400(
    client: httpx.AsyncClient, body: Any, problem: str
) -> None:
    resp = await client.post(CONTEXTS, json=body)

    assert_problem(resp, problem, 400)
    assert (await client.get(CONTEXTS)).json() == []


async def test_adding_a_context_that_imports_an_unreachable_one_is_503(
    client: httpx.AsyncClient, unreachable_context_url: str
) -> None:
    resp = await client.post(CONTEXTS, json={"@context": [unreachable_context_url]})

    assert_problem(resp, "LdContextNotAvailable", 503)
    assert (await client.get(CONTEXTS)).json() == []


async def test_unknown_hosted_context_is_404(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(f"{CONTEXTS}/no-such-id"), "ResourceNotFound", 404)
    assert_problem(await client.delete(f"{CONTEXTS}/no-such-id"), "ResourceNotFound", 404)


async def test_core_context_url_is_named_in_plain_answers(client: httpx.AsyncClient) -> None:
    await create(client, {"id": ROOM, "type": "Room"})

    resp = await client.get(entity_url(ROOM))

    assert resp.headers["link"].startswith(f"<{CORE_CONTEXT}>")


# --- /jsonldContexts as the ETSI conformance suite exercises it ---------------------------


async def test_contexts_are_hub_wide_not_per_tenant(client: httpx.AsyncClient) -> None:
    # a context is named by its URL, which every tenant resolves alike (clause 5.13)
    resp = await client.post(
        CONTEXTS,
        json={"@context": {"Tree": "https://trees.example/Tree"}},
        headers={"NGSILD-Tenant": "gwacheon"},
    )
    assert resp.status_code == 201
    path = resp.headers["location"]

    for tenant in ({}, {"NGSILD-Tenant": "gwacheon"}, {"NGSILD-Tenant": "anyang"}):
        assert (await client.get(CONTEXTS, headers=tenant)).json() == [f"http://hub{path}"]
        assert (await client.get(path, headers=tenant)).status_code == 200


async def test_serve_with_details_describes_the_context(client: httpx.AsyncClient) -> None:
    path = await add_context(client, {"Tree": "https://trees.example/Tree"})

    resp = await client.get(path, params={"details": "true"})

    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    info = resp.json()
    assert set(info) == {"URL", "localId", "kind", "createdAt"}
    assert info["URL"] == f"http://hub{path}"
    assert info["kind"] == "Hosted"


async def test_remote_contexts_in_use_are_listed_served_and_deleted_as_cached(
    client: httpx.AsyncClient, vendor_a: str
) -> None:
    hosted = await add_context(client, {"Tree": "https://trees.example/Tree"})
    await create(client, {"id": ROOM, "type": "Room"}, headers=link(vendor_a))

    cached = (await client.get(CONTEXTS, params={"kind": "Cached", "details": "true"})).json()
    hosted_only = (await client.get(CONTEXTS, params={"kind": "Hosted"})).json()
    every = (await client.get(CONTEXTS)).json()
    served = await client.get(f"{CONTEXTS}/{quote(vendor_a, safe='')}")

    assert [(c["URL"], c["localId"], c["kind"]) for c in cached] == [(vendor_a, vendor_a, "Cached")]
    assert hosted_only == [f"http://hub{hosted}"]
    assert every == [f"http://hub{hosted}", vendor_a]
    assert served.status_code == 200
    assert served.json()["@context"]["Room"] == A_ONTOLOGY + "Room"
    reloaded = await client.delete(
        f"{CONTEXTS}/{quote(vendor_a, safe='')}", params={"reload": "true"}
    )
    assert reloaded.status_code == 204
    assert (await client.get(CONTEXTS, params={"kind": "Cached"})).json() == [vendor_a]
    deleted = await client.delete(f"{CONTEXTS}/{quote(vendor_a, safe='')}")
    assert deleted.status_code == 204
    assert (await client.get(CONTEXTS, params={"kind": "Cached"})).json() == []


@pytest.mark.parametrize(
    "params", [{"kind": "other"}, {"details": "other"}, {"details": "true", "kind": "other"}]
)
async def test_listing_with_a_bad_kind_or_details_is_400(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    resp = await client.get(CONTEXTS, params=params)

    assert_problem(resp, "BadRequestData", 400)


@pytest.mark.parametrize(
    ("reload", "known", "problem", "status"),
    [
        ("true", False, "BadRequestData", 400),  # reload is for cached contexts only
        ("true", True, "BadRequestData", 400),
        ("xxx", False, "BadRequestData", 400),
        ("false", False, "ResourceNotFound", 404),
    ],
)
async def test_delete_context_reload_parameter(
    client: httpx.AsyncClient, reload: str, known: bool, problem: str, status: int
) -> None:
    path = await add_context(client, {"Tree": "https://trees.example/Tree"})
    target = path if known else f"{CONTEXTS}/wrong_id_context"

    resp = await client.delete(target, params={"reload": reload})

    assert_problem(resp, problem, status)
    assert (await client.get(path)).status_code == 200


async def test_context_lists_answer_with_a_trailing_slash(client: httpx.AsyncClient) -> None:
    path = await add_context(client, {"Tree": "https://trees.example/Tree"})

    assert (await client.get(f"{CONTEXTS}/")).json() == [f"http://hub{path}"]
