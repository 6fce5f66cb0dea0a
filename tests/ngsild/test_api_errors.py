"""API tests of error handling: every bad request gets an NGSI-LD ProblemDetails body with the
right type and status, never a 500, and changes nothing."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest

from tests.ngsild_api import (
    BASE,
    BATCH,
    CONTEXTS,
    ENTITIES,
    PROBLEM_BASE,
    assert_problem,
    create,
    entity_url,
    retrieve,
)

pytestmark = pytest.mark.anyio

LAMP_ID = "urn:ngsi-ld:Streetlight:gwacheon-042"
LAMP: dict[str, Any] = {
    "id": LAMP_ID,
    "type": "Streetlight",
    "power": {"type": "Property", "value": 120, "unitCode": "WTT"},
    "status": {"type": "Property", "value": "on"},
    "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [126.99, 37.43]}},
    "circuit": {"type": "Relationship", "object": "urn:ngsi-ld:Circuit:7"},
}
LAMP_URL = entity_url(LAMP_ID)


@pytest.fixture
async def lamp(client: httpx.AsyncClient) -> dict[str, Any]:
    """The streetlight as stored (with system attributes), after creating it."""
    await create(client, LAMP)
    return await retrieve(client, LAMP_ID, params={"options": "sysAttrs"})


async def assert_unchanged(client: httpx.AsyncClient, stored: dict[str, Any]) -> None:
    """The streetlight is exactly as it was, timestamps included."""
    assert await retrieve(client, LAMP_ID, params={"options": "sysAttrs"}) == stored


async def assert_nothing_stored(client: httpx.AsyncClient) -> None:
    """The broker holds no entity at all (in the default tenant)."""
    types = await client.get(f"{BASE}/types")
    assert types.json()["typeList"] == []


# --- media types -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", ENTITIES),
        ("PUT", LAMP_URL),
        ("POST", f"{LAMP_URL}/attrs"),
        ("PATCH", f"{LAMP_URL}/attrs"),
        ("PATCH", f"{LAMP_URL}/attrs/power"),
        ("PUT", f"{LAMP_URL}/attrs/power"),
        ("POST", f"{BATCH}/create"),
        ("POST", f"{BATCH}/upsert"),
        ("POST", f"{BATCH}/query"),
        ("POST", CONTEXTS),
    ],
)
@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "application/merge-patch+json", None]
)
async def test_unsupported_content_type_is_415(
    client: httpx.AsyncClient,
    lamp: dict[str, Any],
    method: str,
    path: str,
    content_type: str | None,
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}

    resp = await client.request(method, path, content=b'{"power": 1}', headers=headers)

    assert_problem(resp, "UnsupportedMediaType", 415)
    await assert_unchanged(client, lamp)


async def test_content_type_parameters_are_ignored(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        ENTITIES,
        json=LAMP,
        headers={"Content-Type": "application/json; charset=utf-8"},
    )

    assert resp.status_code == 201


@pytest.mark.parametrize(
    "path", [LAMP_URL, f"{ENTITIES}?type=Streetlight", f"{BASE}/types", f"{BASE}/attributes"]
)
@pytest.mark.parametrize("accept", ["text/html", "application/xml, text/*", "image/png;q=1.0"])
async def test_unacceptable_accept_is_406(
    client: httpx.AsyncClient, lamp: dict[str, Any], path: str, accept: str
) -> None:
    resp = await client.get(path, headers={"Accept": accept})

    assert_problem(resp, "NotAcceptable", 406)


async def test_geo_json_is_not_offered_by_discovery(client: httpx.AsyncClient) -> None:
    resp = await client.get(f"{BASE}/types", headers={"Accept": "application/geo+json"})

    assert_problem(resp, "NotAcceptable", 406)


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        ("*/*", "application/json"),
        ("application/*", "application/json"),
        ("text/html, application/ld+json", "application/ld+json"),
        ("application/json;q=0.5, application/ld+json", "application/ld+json"),
        ("application/ld+json;q=0.2, application/json;q=0.9", "application/json"),
        ("application/geo+json", "application/geo+json"),
    ],
)
async def test_accept_negotiation(
    client: httpx.AsyncClient, lamp: dict[str, Any], accept: str, media_type: str
) -> None:
    resp = await client.get(LAMP_URL, headers={"Accept": accept})

    assert resp.status_code == 200
    assert resp.headers["content-type"] == media_type


# --- malformed bodies --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", ENTITIES),
        ("POST", f"{LAMP_URL}/attrs"),
        ("PATCH", f"{LAMP_URL}/attrs"),
        ("PATCH", LAMP_URL),
        ("POST", f"{BATCH}/update"),
    ],
)
@pytest.mark.parametrize(
    "raw", [b'{"id": "urn:x:1", "type": ', b"{'single': 'quotes'}", b"", b"\xff\xfe", b"[" * 2000]
)
async def test_invalid_json_is_400_invalid_request(
    client: httpx.AsyncClient, lamp: dict[str, Any], method: str, path: str, raw: bytes
) -> None:
    resp = await client.request(
        method, path, content=raw, headers={"Content-Type": "application/json"}
    )

    assert_problem(resp, "InvalidRequest", 400)
    await assert_unchanged(client, lamp)


def with_attr(name: str, value: Any) -> dict[str, Any]:
    """The streetlight payload with one attribute set (or replaced) to ``value``."""
    payload = copy.deepcopy(LAMP)
    payload[name] = value
    return payload


BAD_ENTITIES = {
    "id not a URI": {**LAMP, "id": "streetlight 42"},
    "id missing": {k: v for k, v in LAMP.items() if k != "id"},
    "id not a string": {**LAMP, "id": 42},
    "type missing": {k: v for k, v in LAMP.items() if k != "type"},
    "type empty": {**LAMP, "type": ""},
    "type not a string": {**LAMP, "type": {"name": "Streetlight"}},
    "no type in the type list": {**LAMP, "type": []},
    "unknown attribute type": with_attr("power", {"type": "Propertie", "value": 1}),
    "attribute type not a string": with_attr("power", {"type": 5, "value": 1}),
    "null attribute": with_attr("power", None),
    "null value": with_attr("power", {"type": "Property", "value": None}),
    "property without value": with_attr("power", {"type": "Property", "unitCode": "WTT"}),
    "null sub-attribute": with_attr("power", {"type": "Property", "value": 1, "accuracy": None}),
    "relationship object not a URI": with_attr(
        "circuit", {"type": "Relationship", "object": "circuit 7"}
    ),
    "relationship without object": with_attr("circuit", {"type": "Relationship"}),
    "geoproperty value not GeoJSON": with_attr(
        "location", {"type": "GeoProperty", "value": "Gwacheon"}
    ),
    "unknown geometry type": with_attr(
        "location", {"type": "GeoProperty", "value": {"type": "Circle", "coordinates": [1, 2]}}
    ),
    "longitude out of range": with_attr(
        "location",
        {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [226.9, 37.4]}},
    ),
    "point without coordinates": with_attr(
        "location", {"type": "GeoProperty", "value": {"type": "Point"}}
    ),
    "open polygon ring": with_attr(
        "location",
        {
            "type": "GeoProperty",
            "value": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]},
        },
    ),
    "self-intersecting polygon": with_attr(
        "location",
        {
            "type": "GeoProperty",
            "value": {
                "type": "Polygon",
                "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]],
            },
        },
    ),
    "observedAt not a DateTime": with_attr(
        "power", {"type": "Property", "value": 1, "observedAt": "yesterday"}
    ),
    "datasetId not a URI": with_attr(
        "power", {"type": "Property", "value": 1, "datasetId": "main meter"}
    ),
    "same datasetId twice": with_attr(
        "power",
        [
            {"type": "Property", "value": 1, "datasetId": "urn:ngsi-ld:Dataset:a"},
            {"type": "Property", "value": 2, "datasetId": "urn:ngsi-ld:Dataset:a"},
        ],
    ),
    "two default instances": with_attr(
        "power", [{"type": "Property", "value": 1}, {"type": "Property", "value": 2}]
    ),
    "unitCode not a string": with_attr("power", {"type": "Property", "value": 1, "unitCode": 7}),
    "attribute name with a space": with_attr("rated power", 1),
    "languageMap of numbers": with_attr(
        "label", {"type": "LanguageProperty", "languageMap": {"en": 1}}
    ),
    "valueList not a list": with_attr("history", {"type": "ListProperty", "valueList": 1}),
    "objectList of non-URIs": with_attr(
        "route", {"type": "ListRelationship", "objectList": [{"object": "nowhere"}]}
    ),
    "empty vocab": with_attr("category", {"type": "VocabProperty", "vocab": ""}),
    "jsonProperty without json": with_attr("raw", {"type": "JsonProperty"}),
    "scope not a path": {**LAMP, "scope": "Gwacheon"},
    "entity not an object": [LAMP],
}


@pytest.mark.parametrize("payload", list(BAD_ENTITIES.values()), ids=list(BAD_ENTITIES))
async def test_bad_entities_are_400_bad_request_data_and_store_nothing(
    client: httpx.AsyncClient, payload: Any
) -> None:
    resp = await client.post(ENTITIES, json=payload)

    assert_problem(resp, "BadRequestData", 400)
    await assert_nothing_stored(client)


BAD_FRAGMENTS = {
    "one good and one null attribute": {
        "status": {"type": "Property", "value": "off"},
        "power": None,
    },
    "one good and one bad GeoJSON": {
        "status": "off",
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [1]}},
    },
    "unknown attribute type": {"status": {"type": "Status", "value": "off"}},
    "relationship to a non-URI": {"circuit": {"type": "Relationship", "object": "7"}},
}


@pytest.mark.parametrize("fragment", list(BAD_FRAGMENTS.values()), ids=list(BAD_FRAGMENTS))
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", f"{LAMP_URL}/attrs"),
        ("PATCH", f"{LAMP_URL}/attrs"),
        ("PATCH", LAMP_URL),
        ("PUT", LAMP_URL),
    ],
)
async def test_bad_fragments_change_nothing(
    client: httpx.AsyncClient,
    lamp: dict[str, Any],
    method: str,
    path: str,
    fragment: dict[str, Any],
) -> None:
    body = {"type": "Streetlight", **fragment} if method == "PUT" else fragment

    resp = await client.request(method, path, json=body)

    assert_problem(resp, "BadRequestData", 400)
    await assert_unchanged(client, lamp)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", f"{LAMP_URL}/attrs/power", None),
        ("PATCH", f"{LAMP_URL}/attrs/power", {"value": None}),
        ("PATCH", f"{LAMP_URL}/attrs/power", "urn:ngsi-ld:null"),
        ("PATCH", f"{LAMP_URL}/attrs/power", {"type": "Relationship", "object": "power plant"}),
        ("PATCH", f"{LAMP_URL}/attrs/location", {"value": {"type": "Point", "coordinates": []}}),
        ("PUT", f"{LAMP_URL}/attrs/power", {"type": "Property"}),
        ("PUT", f"{LAMP_URL}/attrs/power", None),
        ("PATCH", LAMP_URL, {"type": 42}),
        ("PATCH", LAMP_URL, {"id": "urn:ngsi-ld:Streetlight:other"}),
        ("PUT", LAMP_URL, {"id": "urn:ngsi-ld:Streetlight:other", "type": "Streetlight"}),
        ("PUT", LAMP_URL, [LAMP]),
        ("POST", f"{LAMP_URL}/attrs", {"type": ["Streetlight", 3]}),
        ("POST", f"{LAMP_URL}/attrs", ["power"]),
        ("PATCH", f"{LAMP_URL}/attrs", "power"),
    ],
)
async def test_bad_attribute_updates_change_nothing(
    client: httpx.AsyncClient, lamp: dict[str, Any], method: str, path: str, body: Any
) -> None:
    resp = await client.request(
        method,
        path,
        content=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )

    assert_problem(resp, "BadRequestData", 400)
    await assert_unchanged(client, lamp)


async def test_a_batch_of_bad_entities_creates_nothing(client: httpx.AsyncClient) -> None:
    resp = await client.post(f"{BATCH}/create", json=list(BAD_ENTITIES.values())[:-1])

    assert resp.status_code == 207
    report = resp.json()
    assert report["success"] == []
    assert len(report["errors"]) == len(BAD_ENTITIES) - 1
    assert {e["error"]["type"] for e in report["errors"]} == {PROBLEM_BASE + "BadRequestData"}
    await assert_nothing_stored(client)


async def test_body_larger_than_the_limit_is_413(client: httpx.AsyncClient) -> None:
    huge = with_attr("log", "x" * (4 * 1024 * 1024))

    resp = await client.post(ENTITIES, json=huge)

    assert_problem(resp, "PayloadTooLarge", 413)
    await assert_nothing_stored(client)


# --- bad parameters ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        # a q that is not valid is BadRequestData (clause 5.7.2.4)
        ({"q": "power>"}, "BadRequestData"),
        ({"q": "power=100"}, "BadRequestData"),
        ({"q": "status==on"}, "BadRequestData"),  # strings need quotes
        ({"q": "power~=[unclosed"}, "BadRequestData"),
        (
            {
                "type": "Streetlight",
                "georel": "around",
                "geometry": "Point",
                "coordinates": "[1,2]",
            },
            "BadRequestData",
        ),
        (
            {"type": "Streetlight", "georel": "near", "geometry": "Point", "coordinates": "[1,2]"},
            "BadRequestData",
        ),
        ({"id": "lamp-42"}, "BadRequestData"),
        ({"type": "Streetlight", "idPattern": "(unclosed"}, "BadRequestData"),
        ({"type": "(Streetlight"}, "BadRequestData"),
        # unknown values of format / options are InvalidRequest (ETSI suite 018_16)
        ({"type": "Streetlight", "options": "fancy"}, "InvalidRequest"),
        ({"type": "Streetlight", "options": "keyValues,concise"}, "BadRequestData"),
        ({"type": "Streetlight", "format": "verbose"}, "InvalidRequest"),
        ({"type": "Streetlight", "pick": "power", "omit": "status"}, "BadRequestData"),
        ({"type": "Streetlight", "attrs": ","}, "BadRequestData"),
        ({"type": "Streetlight", "scopeQ": "Gwacheon"}, "BadRequestData"),
        ({"type": "Streetlight", "offset": "99999999999999999999999"}, "BadRequestData"),
    ],
)
async def test_bad_query_parameters_are_400(
    client: httpx.AsyncClient, lamp: dict[str, Any], params: dict[str, str], problem: str
) -> None:
    resp = await client.get(ENTITIES, params=params)

    assert_problem(resp, problem, 400)


@pytest.mark.parametrize("entity_id", ["lamp-42", "urn:ngsi-ld:Streetlight:has space"])
async def test_bad_entity_id_in_the_url_is_400(client: httpx.AsyncClient, entity_id: str) -> None:
    for method in ("GET", "DELETE"):
        resp = await client.request(method, f"{ENTITIES}/{entity_id}")
        assert_problem(resp, "BadRequestData", 400)


async def test_bad_dataset_id_on_delete_is_400(
    client: httpx.AsyncClient, lamp: dict[str, Any]
) -> None:
    resp = await client.delete(f"{LAMP_URL}/attrs/power", params={"datasetId": "not a uri"})

    assert_problem(resp, "BadRequestData", 400)
    await assert_unchanged(client, lamp)


# --- routing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/nowhere",
        "/ngsi-ld/v1",
        "/ngsi-ld/v2/entities",
        f"{BASE}/entitiez",
        f"{BASE}/subscriptionz",
    ],
)
async def test_unknown_path_is_404_resource_not_found(client: httpx.AsyncClient, path: str) -> None:
    resp = await client.get(path)

    assert_problem(resp, "ResourceNotFound", 404)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", ENTITIES, {"GET", "POST", "DELETE"}),
        ("PATCH", ENTITIES, {"GET", "POST", "DELETE"}),
        ("POST", LAMP_URL, {"GET", "PUT", "PATCH", "DELETE"}),
        ("DELETE", f"{BASE}/types", {"GET"}),
        ("POST", f"{BASE}/attributes", {"GET"}),
        ("GET", f"{BATCH}/create", {"POST"}),
        ("PUT", CONTEXTS, {"GET", "POST"}),
    ],
)
async def test_wrong_method_is_405_with_allow(
    client: httpx.AsyncClient, method: str, path: str, allowed: set[str]
) -> None:
    resp = await client.request(method, path)

    assert resp.status_code == 405
    body = resp.json()
    assert body["type"].startswith(PROBLEM_BASE)
    assert body["status"] == 405
    assert set(resp.headers["allow"].split(", ")) - {"HEAD"} == allowed


# --- never a 500 -------------------------------------------------------------------------


ODD_REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", ENTITIES, {"params": {"type": "Streetlight", "limit": "1" * 40}}),
    ("GET", ENTITIES, {"params": {"q": "(" * 200 + "power" + ")" * 200}}),
    ("GET", ENTITIES, {"params": {"q": "power" * 3000}}),
    ("GET", ENTITIES, {"params": {"q": "power==2026-13-45T00:00:00Z"}}),
    ("GET", ENTITIES, {"params": {"q": "location[coordinates]>1"}}),
    (
        "GET",
        ENTITIES,
        {
            "params": {
                "type": "Streetlight",
                "georel": "within",
                "geometry": "Polygon",
                "coordinates": "[[[[[[1]]]]]]",
            }
        },
    ),
    (
        "GET",
        ENTITIES,
        {
            "params": {
                "type": "Streetlight",
                "georel": "near;maxDistance==1e999",
                "geometry": "Point",
                "coordinates": "[1,2]",
            }
        },
    ),
    (
        "GET",
        ENTITIES,
        {
            "params": {
                "type": "Streetlight",
                "coordinates": "[1e999,1]",
                "georel": "near;maxDistance==1",
                "geometry": "Point",
            }
        },
    ),
    ("GET", LAMP_URL, {"params": {"lang": ";;;,,,"}}),
    ("GET", LAMP_URL, {"headers": {"Accept": ";q=;;"}}),
    ("GET", LAMP_URL, {"headers": {"Link": '<>; rel="http://www.w3.org/ns/json-ld#context"'}}),
    (
        "GET",
        LAMP_URL,
        {"headers": {"Link": '<ftp://example.org/c>; rel="http://www.w3.org/ns/json-ld#context"'}},
    ),
    ("GET", LAMP_URL, {"headers": {"Link": "garbage"}}),
    ("GET", f"{BASE}/types/%00", {}),
    (
        "POST",
        ENTITIES,
        {
            "content": b'{"id": "urn:x:1", "type": "X", "v": 1e999}',
            "headers": {"Content-Type": "application/json"},
        },
    ),
    (
        "POST",
        ENTITIES,
        {
            "json": {"id": "urn:x:1", "type": "X", "@context": [5]},
            "headers": {"Content-Type": "application/ld+json"},
        },
    ),
    (
        "POST",
        ENTITIES,
        {
            "json": {"id": "urn:x:1", "type": "X", "@context": {"@vocab": 5}},
            "headers": {"Content-Type": "application/ld+json"},
        },
    ),
    (
        "POST",
        ENTITIES,
        {
            "json": {"id": "urn:x:1", "type": "X", "@context": {"t": {"@id": 5}}},
            "headers": {"Content-Type": "application/ld+json"},
        },
    ),
    ("POST", f"{BATCH}/create", {"json": [None, 5, "x", [], {}]}),
    ("POST", f"{BATCH}/delete", {"json": [None, 5, {"id": "urn:x:1"}]}),
    ("POST", f"{BATCH}/query", {"json": {"type": "Query", "entities": [{"type": {"x": 1}}]}}),
    ("POST", f"{BATCH}/query", {"json": {"type": "Query", "entities": [5]}}),
    (
        "POST",
        f"{BATCH}/query",
        {
            "json": {
                "type": "Query",
                "geoQ": {
                    "georel": "within",
                    "geometry": "Point",
                    "coordinates": [1, 2],
                    "geoproperty": 5,
                },
            }
        },
    ),
    ("POST", f"{BATCH}/query", {"json": {"type": "Query", "geoQ": []}}),
    ("POST", f"{BATCH}/query", {"json": {"type": "Query", "attrs": [1, 2]}}),
    ("POST", f"{BATCH}/query", {"json": {"type": "Query", "q": 5}}),
    ("POST", CONTEXTS, {"json": {"@context": {"@vocab": []}}}),
    ("PATCH", f"{LAMP_URL}/attrs/power", {"json": {"datasetId": 5, "value": 1}}),
    ("PATCH", f"{LAMP_URL}/attrs/power", {"json": {"type": ["Property"], "value": 1}}),
    ("PATCH", LAMP_URL, {"json": {"power": {"type": "Property", "value": 1, "datasetId": ["x"]}}}),
    ("DELETE", f"{LAMP_URL}/attrs/power", {"params": {"datasetId": ""}}),
    (
        "GET",
        ENTITIES,
        {"params": {"type": "Streetlight"}, "headers": {"NGSILD-Tenant": "ü".encode() * 10}},
    ),
]


@pytest.mark.parametrize(("method", "path", "kw"), ODD_REQUESTS)
async def test_odd_requests_never_cause_a_server_error(
    client: httpx.AsyncClient, lamp: dict[str, Any], method: str, path: str, kw: dict[str, Any]
) -> None:
    resp = await client.request(method, path, **kw)

    assert resp.status_code < 500 or resp.status_code == 503, resp.text
    if resp.status_code >= 400:
        body = resp.json()
        assert body["type"].startswith(PROBLEM_BASE)
        assert body["status"] == resp.status_code
