"""The OpenAPI description (cityhub/openapi/openapi.json) against the hub: it is valid OpenAPI
3.1; it documents every route the app serves, with its methods, and nothing else (a route added
without documenting it fails here); its public operations are the ones the access policy opens;
it is served at /cityhub/v1/openapi.json; and a live hub answers schemathesis-generated requests
of every operation without a server error, with documented status codes, content types,
headers and bodies."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.formats import unregister_string_format
from starlette.applications import Starlette
from starlette.routing import Route

from cityhub import __version__
from cityhub.app import create_app
from cityhub.auth.policy import required
from cityhub.openapi import routes as openapi_routes
from cityhub.openapi.routes import spec
from cityhub.settings import Settings
from tests.test_cli import Server

METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")
#: (path, method) the app serves that the description leaves out on purpose
UNDOCUMENTED = {
    # an entity id missing from the URL: always 400 (ETSI 054_02_02, 056_02_02)
    ("/ngsi-ld/v1/entities/", "PUT"),
    ("/ngsi-ld/v1/entities/", "PATCH"),
    # DELETE /jsonldContexts/{contextId} with an empty id ({ident:path} matches ""): 404
    ("/ngsi-ld/v1/jsonldContexts/", "DELETE"),
}
TRAILING_SLASH = "x-cityhub-trailing-slash"


def _template(path: str) -> str:
    """A path with its parameters unnamed: /a/{entity_id:path} and /a/{entityId} are alike."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def _operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec()["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method.upper(), item[method]


def _resolve(node: Any) -> Any:
    """A ``$ref`` within the document, followed (ValueError when it points nowhere)."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = spec()
        for part in node["$ref"].removeprefix("#/").split("/"):
            if not isinstance(target, dict) or part not in target:
                raise ValueError(f"dangling $ref {node['$ref']}")
            target = target[part]
        node = target
    return node


def _refs(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        if "$ref" in node:
            yield node
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


# --- the document ---------------------------------------------------------------------------


def test_spec_is_valid_openapi_31() -> None:
    doc = spec()
    assert doc["openapi"].startswith("3.1.")
    schemathesis.openapi.from_dict(copy.deepcopy(doc)).validate()  # the 3.1 meta-schema
    for ref in _refs(doc):
        _resolve(ref)
    ids = [op["operationId"] for _, _, op in _operations()]
    assert len(ids) == len(set(ids)), "operationIds must be unique"
    for path, method, op in _operations():
        params = [_resolve(p) for p in op.get("parameters", [])]
        named = {p["name"] for p in params if p["in"] == "path"}
        assert named == set(re.findall(r"\{([^}]*)\}", path)), f"{method} {path}: path parameters"
        assert op.get("summary"), f"{method} {path} has no summary"
        codes = set(op["responses"])
        assert codes and all(re.fullmatch(r"[1-5]\d\d", c) for c in codes), f"{method} {path}"
        for code in (c for c in codes if int(c) >= 400):
            problem = _resolve(op["responses"][code])["content"]["application/json"]["schema"]
            assert problem == {"$ref": "#/components/schemas/ProblemDetails"}, (method, path, code)


# --- the description against the routes ------------------------------------------------------


async def _served(tmp_path: Path) -> set[tuple[str, str]]:
    """(path template, method) of every route of the app, HEAD aside. Routes built with
    method_route accept every method and dispatch themselves: their methods are the ``Allow``
    header of their 405 answer to OPTIONS, as a client sees them."""
    app = create_app(Settings(auth="off", data_dir=str(tmp_path), rate_limit_per_s=0.0))
    served: set[tuple[str, str]] = set()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
        for route in app.routes:
            assert isinstance(route, Route), f"{route!r}: only Routes can be checked here"
            probe = re.sub(r"\{[^}]*\}", "x", route.path)
            answer = await client.request("OPTIONS", probe)
            assert answer.status_code == 405, f"OPTIONS {probe}: {answer.status_code}"
            allowed = {m.strip() for m in answer.headers["allow"].split(",")} - {"HEAD"}
            assert allowed, route.path
            served |= {(_template(route.path), m) for m in allowed}
    return served


def _documented() -> set[tuple[str, str]]:
    """(path template, method) the description has, trailing-slash twins included."""
    found: set[tuple[str, str]] = set()
    doc = spec()
    for path, method, _ in _operations():
        found.add((_template(path), method))
        if doc["paths"][path].get(TRAILING_SLASH):
            found.add((_template(path) + "/", method))
    return found


@pytest.mark.anyio
async def test_every_route_is_documented_and_every_operation_served(tmp_path: Path) -> None:
    served = await _served(tmp_path)
    documented = _documented() | UNDOCUMENTED
    missing = sorted(served - documented)
    assert not missing, f"served but not in cityhub/openapi/openapi.json: {missing}"
    stale = sorted(documented - served)
    assert not stale, f"in cityhub/openapi/openapi.json but not served: {stale}"


def test_public_operations_are_the_ones_the_policy_opens() -> None:
    doc = spec()
    for path, method, op in _operations():
        public = op.get("security", doc["security"]) == []
        concrete = re.sub(r"\{[^}]*\}", "x", path)
        assert (required(method, concrete) is None) == public, (
            f"{method} {path}: the description says {'public' if public else 'protected'}, "
            "cityhub/auth/policy.py does not agree"
        )


# --- the route serving it --------------------------------------------------------------------


@pytest.mark.anyio
async def test_served_description_names_this_hub() -> None:
    app = Starlette(routes=openapi_routes.routes)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test:8080") as c:
        answer = await c.get("/cityhub/v1/openapi.json")
        assert (await c.post("/cityhub/v1/openapi.json")).status_code == 405
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert body["servers"] == [{"url": "http://hub.test:8080"}]
    assert body["info"]["version"] == __version__
    assert body["paths"] == spec()["paths"] and body["components"] == spec()["components"]
    assert spec()["servers"] == [{"url": "/"}]  # the shipped document is not changed


@pytest.mark.anyio
async def test_description_is_public_when_access_control_is_on(tmp_path: Path) -> None:
    app = create_app(Settings(auth="on", data_dir=str(tmp_path), rate_limit_per_s=0.0))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as c:
        assert (await c.get("/ngsi-ld/v1/types")).status_code == 401
        answer = await c.get("/cityhub/v1/openapi.json")
    assert answer.status_code == 200, answer.text
    assert answer.json()["openapi"] == spec()["openapi"]


# --- a live hub ------------------------------------------------------------------------------

#: what the live hub holds before the run (the description's examples name them)
PARKING = "urn:ngsi-ld:OffStreetParking:gwacheon-01"
SUBSCRIPTION = "urn:ngsi-ld:Subscription:gwacheon-parking"
SEED: list[tuple[str, str, Any]] = [
    (
        "/ngsi-ld/v1/entities",
        "POST",
        {
            "id": PARKING,
            "type": "OffStreetParking",
            "availableSpotNumber": {
                "type": "Property",
                "value": 42,
                "observedAt": "2026-11-22T09:00:00Z",
            },
            "location": {
                "type": "GeoProperty",
                "value": {"type": "Point", "coordinates": [126.9876, 37.4292]},
            },
            "refParkingSpot": {
                "type": "Relationship",
                "object": "urn:ngsi-ld:ParkingSpot:gwacheon-01-1",
            },
        },
    ),
    (
        "/ngsi-ld/v1/entities",
        "POST",
        {"id": "urn:ngsi-ld:ParkingSpot:gwacheon-01-1", "type": "ParkingSpot", "status": "free"},
    ),
    (
        "/ngsi-ld/v1/subscriptions",
        "POST",
        {
            "id": SUBSCRIPTION,
            "type": "Subscription",
            "entities": [{"type": "OffStreetParking"}],
            "isActive": False,
            "notification": {"endpoint": {"uri": "http://127.0.0.1:9/notify"}},
        },
    ),
    (
        "/iot/services",
        "POST",
        {"services": [{"apikey": "air-2026", "entity_type": "AirQualityObserved"}]},
    ),
    ("/iot/devices", "POST", {"devices": [{"device_id": "aq-031", "apikey": "air-2026"}]}),
    ("/iot/json?k=air-2026&i=aq-031", "POST", {"pm10": -5}),  # refused: a dead letter
]
#: ids generated for `format: uri` values: the ones the hub holds, and others like them
_URIS = st.sampled_from(
    [PARKING, SUBSCRIPTION, "urn:ngsi-ld:ParkingSpot:gwacheon-01-1"]
) | st.builds(
    "urn:ngsi-ld:{}:{}".format,
    st.sampled_from(["OffStreetParking", "ParkingSpot", "Subscription"]),
    st.text("abc-019", min_size=1, max_size=6),
)
LIVE_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def live_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`cityhub serve` (auth off, no rate limit: tests/conftest.py) with a little data."""
    hub = Server("--data-dir", str(tmp_path_factory.mktemp("openapi") / "data"))
    try:
        with httpx.Client(base_url=hub.url) as client:
            for url, method, body in SEED:
                answer = client.request(method, url, json=body)
                assert answer.status_code < 500, answer.text
        yield hub
        # unhandled errors, in requests or in the background: where, and the exception
        crashes = [
            line
            for line in hub.output().splitlines()
            if "unhandled error" in line or re.match(r"\w[\w.]*(Error|Exception)\b", line)
        ]
        assert not crashes, "\n".join(crashes)
    finally:
        hub.stop()


@pytest.fixture
def live_schema(live_hub: Server) -> Iterator[schemathesis.BaseSchema]:
    schemathesis.openapi.format("uri", _URIS)
    try:
        config = schemathesis.Config.from_dict(
            {
                "base-url": live_hub.url,
                "request-timeout": 10,
                # access control is off: no made-up credentials (tests/auth tests the gate)
                "generation": {"with-security-parameters": False},
                # the coverage phase: boundary values of every parameter and body member, valid
                # ones (the fuzzing phase sends invalid ones too); other methods are the route
                # test's business
                "phases": {
                    "coverage": {"unexpected-methods": [], "generation": {"mode": "positive"}}
                },
                # 503 LdContextNotAvailable (an @context that cannot be fetched) is an answer,
                # where the operation documents it (status_code_conformance checks that)
                "checks": {
                    "not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "503"]}
                },
            }
        )
        yield schemathesis.openapi.from_dict(copy.deepcopy(spec()), config=config)
    finally:
        unregister_string_format("uri")


def _streams(op: dict[str, Any]) -> bool:
    """Whether an operation answers with an endless stream (server-sent events)."""
    return any(
        "text/event-stream" in _resolve(answer).get("content", {})
        for answer in op["responses"].values()
    )


live = schemathesis.pytest.from_fixture("live_schema")
STREAMS = [op["operationId"] for _, _, op in _operations() if _streams(op)]
if STREAMS:  # they never end
    live = live.exclude(operation_id=STREAMS)


@pytest.mark.slow
@live.parametrize()
@settings(
    max_examples=10,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_live_hub_answers_as_described(case: schemathesis.Case[Any]) -> None:
    case.call_and_validate(checks=LIVE_CHECKS)
