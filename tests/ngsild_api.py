"""Shortcuts shared by the NGSI-LD API tests (tests/ngsild/test_api_*.py).

Request helpers that assert the happy-path status, so a test reads as the scenario it checks,
and :func:`assert_problem`, the one check of an NGSI-LD ProblemDetails error response.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

BASE = "/ngsi-ld/v1"
ENTITIES = f"{BASE}/entities"
BATCH = f"{BASE}/entityOperations"
CONTEXTS = f"{BASE}/jsonldContexts"
CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld"
DEFAULT_VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
PROBLEM_BASE = "https://uri.etsi.org/ngsi-ld/errors/"
CITYHUB_PROBLEM_BASE = "urn:cityhub:errors:"
LD_JSON = {"Content-Type": "application/ld+json"}


def entity_url(entity_id: str) -> str:
    """The URL of one entity."""
    return f"{ENTITIES}/{quote(entity_id, safe=':')}"


def link(url: str) -> dict[str, str]:
    """A Link header naming ``url`` as the request's JSON-LD @context."""
    rel = 'rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
    return {"Link": f"<{url}>; {rel}"}


def without_context(payload: dict[str, Any]) -> dict[str, Any]:
    """A JSON-LD payload as a plain JSON body (its @context removed)."""
    return {k: v for k, v in payload.items() if k != "@context"}


def assert_problem(resp: httpx.Response, name: str, status: int) -> dict[str, Any]:
    """Assert an NGSI-LD ProblemDetails response of error type ``name``; returns the body."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = resp.json()
    assert body["type"] in (PROBLEM_BASE + name, CITYHUB_PROBLEM_BASE + name), body
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    return body


async def create(client: httpx.AsyncClient, entity: dict[str, Any], **kw: Any) -> None:
    """POST /entities, expecting 201 Created."""
    resp = await client.post(ENTITIES, json=entity, **kw)
    assert resp.status_code == 201, resp.text


async def create_many(client: httpx.AsyncClient, entities: list[dict[str, Any]], **kw: Any) -> None:
    """POST /entityOperations/create, expecting every entity to be created."""
    resp = await client.post(f"{BATCH}/create", json=entities, **kw)
    assert resp.status_code == 201, resp.text


async def retrieve(client: httpx.AsyncClient, entity_id: str, **kw: Any) -> dict[str, Any]:
    """GET /entities/{id}, expecting 200; returns the body."""
    resp = await client.get(entity_url(entity_id), **kw)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def query(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    """GET /entities with query parameters, expecting 200; returns the entities."""
    resp = await client.get(ENTITIES, params=params)
    assert resp.status_code == 200, resp.text
    body: list[dict[str, Any]] = resp.json()
    return body


async def query_ids(client: httpx.AsyncClient, **params: Any) -> list[str]:
    """The ids GET /entities answers with, in response order."""
    return [e["id"] for e in await query(client, **params)]
