"""Security headers: on every response, errors included; HSTS only over HTTPS; routes win."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from cityhub.app import create_app
from cityhub.guard import middleware
from cityhub.guard.headers import API_CSP, SecurityHeaders
from cityhub.guard.ratelimit import RateLimit
from cityhub.settings import Settings

pytestmark = pytest.mark.anyio
EXPECTED = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "cross-origin-resource-policy": "same-origin",
}


async def _json(request: Request) -> Response:
    return JSONResponse({"ok": True})


async def _own_csp(request: Request) -> Response:
    return Response(
        "<p>page</p>",
        media_type="text/html",
        headers={"Content-Security-Policy": "default-src 'self'", "X-Frame-Options": "SAMEORIGIN"},
    )


async def _stream(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(3):
            yield b"chunk%d\n" % i

    return StreamingResponse(chunks(), media_type="text/plain")


def _client(app: object, base: str = "http://hub") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base)  # type: ignore[arg-type]


def _mini(**options: object) -> Starlette:
    app = Starlette(
        routes=[Route("/j", _json), Route("/page", _own_csp), Route("/stream", _stream)]
    )
    app.add_middleware(SecurityHeaders, **options)
    return app


def _hub(tmp_path: Path) -> Starlette:
    settings = Settings(
        database=f"sqlite:///{tmp_path / 'h.db'}", data_dir=str(tmp_path), auth="off"
    )
    app = create_app(settings)
    for m in reversed(middleware(settings)):  # as create_app will: outermost first
        app.add_middleware(m.cls, *m.args, **m.kwargs)
    return app


async def test_hub_responses_and_errors_carry_the_headers(tmp_path: Path) -> None:
    async with _client(_hub(tmp_path)) as c:
        ok = await c.get("/version")
        missing = await c.get("/ngsi-ld/v1/no-such-thing")
        wrong = await c.delete("/version")
    assert ok.status_code == 200 and missing.status_code == 404 and wrong.status_code == 405
    assert missing.json()["type"].endswith("ResourceNotFound")
    for r in (ok, missing, wrong):
        for name, value in EXPECTED.items():
            assert r.headers[name] == value, (r.url, name)
        assert "strict-transport-security" not in r.headers


async def test_hsts_only_over_https() -> None:
    app = _mini()
    async with _client(app, "https://hub") as c:
        assert (await c.get("/j")).headers["strict-transport-security"] == "max-age=31536000"
    async with _client(app) as c:
        assert "strict-transport-security" not in (await c.get("/j")).headers
        proxied = await c.get("/j", headers={"X-Forwarded-Proto": "https"})
        assert proxied.headers["strict-transport-security"] == "max-age=31536000"
        plain = await c.get("/j", headers={"X-Forwarded-Proto": "http"})
        assert "strict-transport-security" not in plain.headers


async def test_headers_a_route_set_are_kept_and_nothing_is_doubled() -> None:
    async with _client(_mini()) as c:
        r = await c.get("/page")
    assert r.headers["content-security-policy"] == "default-src 'self'"
    assert r.headers["x-frame-options"] == "SAMEORIGIN"
    assert r.headers["x-content-type-options"] == "nosniff"
    names = [k.lower() for k, _ in r.headers.raw]
    assert len(names) == len(set(names))


async def test_streaming_passes_and_csp_is_a_parameter() -> None:
    async with _client(_mini(csp="default-src 'self'; img-src *", hsts=None), "https://hub") as c:
        r = await c.get("/stream")
    assert r.text == "chunk0\nchunk1\nchunk2\n"
    assert r.headers["content-security-policy"] == "default-src 'self'; img-src *"
    assert "strict-transport-security" not in r.headers
    async with _client(_mini(csp=None)) as c:
        assert "content-security-policy" not in (await c.get("/j")).headers
    assert EXPECTED["content-security-policy"] == API_CSP


async def test_a_429_carries_the_headers_too() -> None:
    settings = Settings(rate_limit_per_s=1.0, rate_limit_burst=1)
    app = Starlette(routes=[Route("/j", _json)], middleware=middleware(settings))
    async with _client(app) as c:
        assert (await c.get("/j")).status_code == 200
        r = await c.get("/j")
    assert r.status_code == 429 and r.headers["retry-after"] == "1"
    for name, value in EXPECTED.items():
        assert r.headers[name] == value


def test_middleware_list_follows_the_settings() -> None:
    on = Settings(rate_limit_per_s=5.0, rate_limit_burst=10)
    stack = middleware(on)
    assert [m.cls for m in stack] == [SecurityHeaders, RateLimit]
    assert stack[1].kwargs == {"rate": 5.0, "burst": 10, "trust_forwarded": False}
    off = dataclasses.replace(on, rate_limit_per_s=0.0)
    assert [m.cls for m in middleware(off)] == [SecurityHeaders]  # no per-request cost at all
