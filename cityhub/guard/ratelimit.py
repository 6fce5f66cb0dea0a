"""Rate limiting: a token bucket per client (pure ASGI middleware).

Each client has a bucket holding up to ``burst`` tokens, refilled at ``rate`` tokens a second;
a request takes one, and a request finding the bucket empty is answered ``429 Too Many
Requests`` with a ``Retry-After`` header (whole seconds until a token is back) and a
ProblemDetails body. The client is

* the credential the request carries (``Authorization``, ``X-API-Key``, the session cookie),
  as a keyed hash: the secret itself is never kept or logged. The limiter runs before
  authentication and cannot tell a valid credential from a made-up one; a flood that makes up
  a new one per request is turned away by authentication, not here;
* otherwise the client address (``scope["client"]``; the last ``X-Forwarded-For`` entry only
  when ``trust_forwarded`` says a proxy we trust appends it).

Buckets live in memory, **per worker process**: with ``--workers N`` a client may make up to N
times the rate, depending on how connections are spread. At most ``max_clients`` buckets are
kept, the least recently used dropped first (a dropped client starts again with a full
bucket); every request costs O(1) and nothing runs in the background. Health checks
(``GET /version``, ``GET /cityhub/v1/status``) are never limited.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from cityhub.errors import CITYHUB_PROBLEM_BASE, NgsiError

EXEMPT = (("GET", "/version"), ("GET", "/cityhub/v1/status"))
MAX_CLIENTS = 100_000
SESSION_COOKIE = "cityhub_session"


class TooManyRequests(NgsiError):
    """429: the client is over its rate limit (a cityhub problem type: NGSI-LD has none)."""

    status = 429
    problem = "TooManyRequests"

    @property
    def type_uri(self) -> str:
        return CITYHUB_PROBLEM_BASE + self.problem


class RateLimit:
    """Token buckets per client in front of ``app`` (see the module docstring).

    ``rate``: tokens a second (at most 0 lets everything through; better leave the middleware
    out then, see :func:`cityhub.guard.middleware`); ``burst``: bucket size;
    ``exempt``: (method, path) pairs never limited (HEAD counts as GET)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        rate: float,
        burst: int,
        max_clients: int = MAX_CLIENTS,
        trust_forwarded: bool = False,
        exempt: Iterable[tuple[str, str]] = EXEMPT,
        session_cookie: str = SESSION_COOKIE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.rate = float(rate)
        self.burst = float(max(1, burst))
        self.max_clients = max(1, max_clients)
        self.trust_forwarded = trust_forwarded
        self.exempt = frozenset((m.upper(), p) for m, p in exempt)
        self.clock = clock
        self._cookie = session_cookie.encode("latin-1") + b"="
        self._salt = os.urandom(16)  # the hashes mean nothing outside this process
        # client key -> [tokens left, when last counted]; oldest use first
        self._buckets: OrderedDict[bytes, list[float]] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.rate <= 0:
            await self.app(scope, receive, send)
            return
        method = "GET" if scope["method"] == "HEAD" else scope["method"]
        if (method, scope["path"]) in self.exempt:
            await self.app(scope, receive, send)
            return
        wait_s = self.take(self.client_key(scope))
        if wait_s is None:
            await self.app(scope, receive, send)
            return
        retry = max(1, math.ceil(wait_s))
        err = TooManyRequests(
            f"more than {self.rate:g} requests a second (bursts of {self.burst:g}) from this "
            f"client; retry in {retry} s",
            title="Too many requests",
        )
        body = orjson.dumps(err.to_problem())
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(retry).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def take(self, key: bytes) -> float | None:
        """Take a token from ``key``'s bucket: None if there was one, else the seconds until
        there is one."""
        now = self.clock()
        buckets = self._buckets
        bucket = buckets.get(key)
        if bucket is None:
            if len(buckets) >= self.max_clients:
                buckets.popitem(last=False)
            buckets[key] = [self.burst - 1.0, now]
            return None
        buckets.move_to_end(key)
        tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return None
        bucket[0] = tokens
        return (1.0 - tokens) / self.rate

    def client_key(self, scope: Scope) -> bytes:
        """Whose bucket a request uses: its credential's hash, else its client address."""
        bearer: bytes | None = None
        api_key: bytes | None = None
        cookie: bytes | None = None
        forwarded: bytes | None = None
        name: bytes
        value: bytes
        for name, value in scope["headers"]:
            if name == b"authorization":
                bearer = value
            elif name == b"x-api-key":
                api_key = value
            elif name == b"cookie" and self._cookie in value:
                cookie = _cookie_value(value, self._cookie) or cookie
            elif name == b"x-forwarded-for":
                forwarded = value
        secret = bearer or api_key or cookie
        if secret:
            return b"k" + hashlib.blake2b(secret, digest_size=16, key=self._salt).digest()
        if self.trust_forwarded and forwarded:
            return b"a" + forwarded.rsplit(b",", 1)[-1].strip()
        client = scope.get("client")
        return b"a" + (str(client[0]).encode() if client else b"-")

    def __len__(self) -> int:
        """Buckets held."""
        return len(self._buckets)


def _cookie_value(header: bytes, prefix: bytes) -> bytes | None:
    for part in header.split(b";"):
        part = part.strip()
        if part.startswith(prefix):
            return part[len(prefix) :] or None
    return None
