"""Property-based fuzzing of the HTTP API over real sockets: whatever is sent, the hub answers
with a status below 500 and, for errors, a ProblemDetails body; nothing it answers in one
tenant comes from another; and its log shows no unhandled error afterwards."""

from __future__ import annotations

import string
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_cli import Server

pytestmark = pytest.mark.slow
FUZZ = settings(
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SECRET = "urn:ngsi-ld:ParkingSpot:secret-of-seoul"

_text = st.text(
    alphabet=string.ascii_letters + string.digits + " :;,.|()[]{}<>=!~\"'%&*/\\-_@#$^+?\u0000한글",
    max_size=40,
)
_json: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=5),
    max_leaves=20,
)
# entity-shaped bodies get further than arbitrary JSON, into the attribute parsers
_attr = st.fixed_dictionaries(
    {"type": st.sampled_from(["Property", "GeoProperty", "Relationship", "X", 3])},
    optional={
        "value": _json,
        "object": _json,
        "observedAt": _json,
        "unitCode": _json,
        "datasetId": _json,
    },
)
_entity = st.fixed_dictionaries(
    {"id": st.one_of(_text, st.just("urn:ngsi-ld:ParkingSpot:f1")), "type": _json},
    optional={"status": _attr, "location": _attr, "@context": _json, "scope": _json},
)
_params = st.dictionaries(
    st.sampled_from(
        [
            "type",
            "q",
            "attrs",
            "pick",
            "omit",
            "georel",
            "geometry",
            "coordinates",
            "limit",
            "offset",
            "options",
            "format",
            "idPattern",
            "scopeQ",
            "lang",
            "count",
            "orderBy",
            "timerel",
            "timeAt",
            "endTimeAt",
            "lastN",
            "aggrMethods",
            "aggrPeriodDuration",
        ]
    ),
    _text,
    max_size=6,
)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, httpx.Client]]:
    """A hub process (auth off, loopback) with an entity in tenant seoul only."""
    srv = Server("--data-dir", str(tmp_path_factory.mktemp("fuzz")))
    client = httpx.Client(base_url=srv.url, timeout=30)
    r = client.post(
        "/ngsi-ld/v1/entities",
        json={"id": SECRET, "type": "ParkingSpot", "status": {"type": "Property", "value": "x"}},
        headers={"NGSILD-Tenant": "seoul"},
    )
    assert r.status_code == 201, r.text
    yield srv, client
    client.close()
    log = srv.output()
    srv.stop()
    assert "Traceback" not in log and "unhandled error" not in log, log[-3000:]


def _check(r: httpx.Response) -> None:
    assert r.status_code < 500, (r.status_code, r.text)
    if r.status_code >= 400 and r.status_code != 405:
        body = r.json()
        assert {"type", "title", "status", "detail"} <= set(body), body
    if r.status_code < 300 and r.request.headers.get("ngsild-tenant") != "seoul":
        assert SECRET not in r.text, r.text  # seoul's entity, answered in another tenant


@FUZZ
@given(body=st.one_of(_json, _entity, st.lists(_entity, max_size=3)))
def test_writes_never_fail_on_the_server(hub: tuple[Server, httpx.Client], body: Any) -> None:
    _, c = hub
    for path in (
        "/ngsi-ld/v1/entities",
        "/ngsi-ld/v1/entityOperations/upsert",
        "/ngsi-ld/v1/entityOperations/update",
        "/ngsi-ld/v1/subscriptions",
        "/ngsi-ld/v1/temporal/entities",
    ):
        _check(c.post(path, json=body, headers={"NGSILD-Tenant": "gwacheon"}))
    _check(c.patch("/ngsi-ld/v1/entities/urn:ngsi-ld:ParkingSpot:f1/attrs", json=body))


@FUZZ
@given(params=_params, tenant=st.sampled_from(["gwacheon", "", "seoul2", "se oul"]))
def test_queries_never_fail_nor_leak(
    hub: tuple[Server, httpx.Client], params: dict[str, str], tenant: str
) -> None:
    _, c = hub
    headers = {"NGSILD-Tenant": tenant} if tenant else {}
    for path in (
        "/ngsi-ld/v1/entities",
        "/ngsi-ld/v1/temporal/entities",
        "/ngsi-ld/v1/types",
        f"/ngsi-ld/v1/entities/{SECRET}",
        f"/ngsi-ld/v1/temporal/entities/{SECRET}",
    ):
        _check(c.get(path, params=params, headers=headers))


@FUZZ
@given(
    raw=st.binary(max_size=200),
    ctype=st.sampled_from(["application/json", "application/ld+json", "text/plain", ""]),
)
def test_raw_bytes(hub: tuple[Server, httpx.Client], raw: bytes, ctype: str) -> None:
    _, c = hub
    headers = {"Content-Type": ctype} if ctype else {}
    for path in ("/ngsi-ld/v1/entities", "/ngsi-ld/v1/entityOperations/upsert", "/iot/json"):
        _check(c.post(path, content=raw, headers=headers))
