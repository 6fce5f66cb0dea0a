"""Rate limiting: token buckets per credential or client address, 429 with Retry-After."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from cityhub.guard.ratelimit import RateLimit

pytestmark = pytest.mark.anyio


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _ok(request: Request) -> Response:
    return PlainTextResponse("ok")


def _app(clock: Clock, **options: object) -> tuple[Starlette, RateLimit]:
    app = Starlette(
        routes=[
            Route("/ngsi-ld/v1/entities", _ok, methods=["GET", "POST"]),
            Route("/version", _ok),
            Route("/cityhub/v1/status", _ok),
        ]
    )
    limiter = RateLimit(app, clock=clock, **{"rate": 2.0, "burst": 3, **options})  # type: ignore[arg-type]
    return app, limiter


def _client(limiter: RateLimit, ip: str = "203.0.113.7") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=limiter, client=(ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://hub")


async def _statuses(c: httpx.AsyncClient, n: int, **kw: object) -> list[int]:
    return [(await c.get("/ngsi-ld/v1/entities", **kw)).status_code for _ in range(n)]  # type: ignore[arg-type]


async def test_burst_then_429_with_retry_after_then_refill() -> None:
    clock = Clock()
    _, limiter = _app(clock)
    async with _client(limiter) as c:
        assert await _statuses(c, 3) == [200, 200, 200]
        r = await c.get("/ngsi-ld/v1/entities")
        assert r.status_code == 429
        assert r.headers["retry-after"] == "1"  # half a second to the next token: rounded up
        assert r.headers["content-type"] == "application/json"
        problem = r.json()
        assert problem["type"] == "urn:cityhub:errors:TooManyRequests"
        assert problem["status"] == 429 and problem["title"] == "Too many requests"
        assert "2 requests a second" in problem["detail"]
        clock.now += 0.5  # one token back
        assert await _statuses(c, 2) == [200, 429]
        clock.now += 60  # refilled, but never above the burst
        assert await _statuses(c, 4) == [200, 200, 200, 429]


async def test_retry_after_counts_whole_seconds_at_low_rates() -> None:
    clock = Clock()
    _, limiter = _app(clock, rate=0.1, burst=1)
    async with _client(limiter) as c:
        assert await _statuses(c, 1) == [200]
        clock.now += 2.5
        r = await c.get("/ngsi-ld/v1/entities")
    assert r.status_code == 429 and r.headers["retry-after"] == "8"  # 7.5 s left


async def test_each_credential_has_its_own_bucket_and_the_secret_is_not_kept() -> None:
    clock = Clock()
    _, limiter = _app(clock, burst=2)
    async with _client(limiter) as c:
        a = {"Authorization": "Bearer token-of-a"}
        b = {"X-API-Key": "key-of-b"}
        s = {"Cookie": "theme=dark; cityhub_session=sess-of-c"}
        assert await _statuses(c, 3, headers=a) == [200, 200, 429]
        assert await _statuses(c, 3, headers=b) == [200, 200, 429]
        assert await _statuses(c, 3, headers=s) == [200, 200, 429]
        assert await _statuses(c, 3) == [200, 200, 429]  # the address: a bucket of its own
    keys = list(limiter._buckets)
    assert len(keys) == 4
    for secret in (b"token-of-a", b"key-of-b", b"sess-of-c"):
        assert not any(secret in k for k in keys)


async def test_addresses_are_separate_and_forwarded_for_needs_trust() -> None:
    clock = Clock()
    _, limiter = _app(clock, burst=1)
    async with _client(limiter, "198.51.100.1") as one, _client(limiter, "198.51.100.2") as two:
        assert await _statuses(one, 2) == [200, 429]
        assert await _statuses(two, 2) == [200, 429]
        # an untrusted X-Forwarded-For changes nothing: no fresh bucket by making one up
        assert await _statuses(one, 1, headers={"X-Forwarded-For": "192.0.2.9"}) == [429]
    _, trusting = _app(clock, burst=1, trust_forwarded=True)
    async with _client(trusting, "10.0.0.2") as proxy:
        spoofed = {"X-Forwarded-For": "192.0.2.1, 198.51.100.50"}  # the proxy appended the last
        assert await _statuses(proxy, 2, headers=spoofed) == [200, 429]
        other = {"X-Forwarded-For": "192.0.2.1, 198.51.100.51"}
        assert await _statuses(proxy, 1, headers=other) == [200]
    assert b"a198.51.100.50" in trusting._buckets


async def test_health_checks_are_never_limited() -> None:
    clock = Clock()
    _, limiter = _app(clock, burst=1)
    async with _client(limiter) as c:
        assert await _statuses(c, 2) == [200, 429]
        for _ in range(20):
            assert (await c.get("/version")).status_code == 200
            assert (await c.get("/cityhub/v1/status")).status_code == 200
            assert (await c.head("/version")).status_code == 200
        assert (await c.post("/version")).status_code == 429  # only GET is exempt


async def test_rate_zero_lets_everything_through() -> None:
    clock = Clock()
    _, limiter = _app(clock, rate=0.0, burst=1)
    async with _client(limiter) as c:
        assert set(await _statuses(c, 50)) == {200}
    assert len(limiter) == 0


async def test_bucket_count_is_bounded_least_recently_used_first() -> None:
    clock = Clock()
    _, limiter = _app(clock, burst=1, max_clients=3)
    async with _client(limiter) as c:
        for key in ("k1", "k2", "k3"):
            assert await _statuses(c, 1, headers={"X-API-Key": key}) == [200]
        assert await _statuses(c, 1, headers={"X-API-Key": "k1"}) == [429]  # k1 used last now
        assert await _statuses(c, 1, headers={"X-API-Key": "k4"}) == [200]  # evicts k2
        assert len(limiter) == 3
        assert await _statuses(c, 1, headers={"X-API-Key": "k3"}) == [429]  # kept
        assert await _statuses(c, 1, headers={"X-API-Key": "k2"}) == [200]  # forgotten: fresh
        assert len(limiter) == 3
