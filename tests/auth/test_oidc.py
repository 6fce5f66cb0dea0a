"""Bearer JWTs from an OpenID Connect provider (Keycloak-shaped), served for real on loopback:
its discovery document and signing keys over HTTP, tokens signed with its RSA key."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from cityhub.settings import Settings
from tests.auth.test_access import Hub, _hub
from tests.ngsild_api import assert_problem

pytestmark = pytest.mark.anyio
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
E = "/ngsi-ld/v1/entities"


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    """A provider on loopback: /realms/city/.well-known/openid-configuration and its keys."""
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key()))
    keys = {"keys": [jwk | {"kid": "k1", "use": "sig", "alg": "RS256"}]}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            base = f"http://127.0.0.1:{self.server.server_address[1]}/realms/city"
            if self.path == "/realms/city/.well-known/openid-configuration":
                body: dict[str, Any] = {"issuer": base, "jwks_uri": f"{base}/certs"}
            elif self.path == "/realms/city/certs":
                body = keys
            else:
                self.send_error(404)
                return
            raw = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/realms/city"
    server.shutdown()
    server.server_close()


def _token(issuer: str, roles: list[str], key: Any = KEY, **claims: Any) -> str:
    now = int(time.time())
    body = {
        "iss": issuer,
        "aud": "cityhub",
        "sub": "f1e2d3",
        "preferred_username": "kim.operator",
        "iat": now,
        "exp": now + 300,
        "realm_access": {"roles": roles},
    } | claims
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture
async def hub(settings: Settings, issuer: str) -> AsyncIterator[Hub]:
    """A hub with auth on that accepts the provider's tokens."""
    async for h in _hub(dataclasses.replace(settings, oidc_issuer=issuer)):
        admin = await h.login("admin", h.admin_password)
        spot = {"id": "urn:ngsi-ld:ParkingSpot:o1", "type": "ParkingSpot"}
        for tenant in ("gwacheon", "seoul"):
            r = await h.client.post(E, json=spot, headers=admin | {"NGSILD-Tenant": tenant})
            assert r.status_code == 201
        yield h


async def _get(c: httpx.AsyncClient, token: str, tenant: str) -> httpx.Response:
    return await c.get(
        E,
        params={"type": "ParkingSpot"},
        headers={"Authorization": f"Bearer {token}", "NGSILD-Tenant": tenant},
    )


async def test_roles_from_the_token(hub: Hub, issuer: str) -> None:
    token = _token(issuer, ["offline_access", "operator@gwacheon"])
    r = await _get(hub.client, token, "gwacheon")
    assert r.status_code == 200 and [e["id"] for e in r.json()] == ["urn:ngsi-ld:ParkingSpot:o1"]
    r = await _get(hub.client, token, "seoul")
    assert "kim.operator may not read entities" in assert_problem(r, "Forbidden", 403)["detail"]
    me = await hub.client.get("/cityhub/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["kind"] == "oidc"
    assert me.json()["grants"] == [{"role": "operator", "tenant": "gwacheon"}]
    everywhere = _token(issuer, ["consumer@*"], sub="x2")
    assert (await _get(hub.client, everywhere, "seoul")).status_code == 200


@pytest.mark.parametrize(
    "why",
    ["expired", "wrong audience", "wrong issuer", "signed by another key", "not a JWT"],
)
async def test_bad_tokens_are_refused(hub: Hub, issuer: str, why: str) -> None:
    roles = ["operator@gwacheon"]
    token = {
        "expired": lambda: _token(issuer, roles, exp=int(time.time()) - 60),
        "wrong audience": lambda: _token(issuer, roles, aud="another-app"),
        "wrong issuer": lambda: _token(issuer, roles, iss="http://evil.example/realms/city"),
        "signed by another key": lambda: _token(issuer, roles, key=OTHER_KEY),
        "not a JWT": lambda: "a.b.c",
    }[why]()
    assert_problem(await _get(hub.client, token, "gwacheon"), "Unauthenticated", 401)
