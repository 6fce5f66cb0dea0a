"""Bearer JWTs from an OpenID Connect provider (Keycloak-shaped), served for real on loopback:
its discovery document and signing keys over HTTP, tokens signed with its RSA key."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import secrets
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

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

    codes: dict[str, dict[str, str]] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            base = f"http://127.0.0.1:{self.server.server_address[1]}/realms/city"
            path, _, query = self.path.partition("?")
            if path == "/realms/city/.well-known/openid-configuration":
                body: dict[str, Any] = {
                    "issuer": base,
                    "jwks_uri": f"{base}/certs",
                    "authorization_endpoint": f"{base}/auth",
                    "token_endpoint": f"{base}/token",
                }
            elif path == "/realms/city/certs":
                body = keys
            elif path == "/realms/city/auth":  # kim signs in at the provider
                asked = {k: v[0] for k, v in parse_qs(query).items()}
                code = secrets.token_urlsafe(12)
                codes[code] = asked
                back = (
                    f"{asked['redirect_uri']}?{urlencode({'code': code, 'state': asked['state']})}"
                )
                self.send_response(302)
                self.send_header("Location", back)
                self.end_headers()
                return
            else:
                self.send_error(404)
                return
            self._json(body)

        def do_POST(self) -> None:
            form = {
                k: v[0]
                for k, v in parse_qs(
                    self.rfile.read(int(self.headers["Content-Length"])).decode()
                ).items()
            }
            asked = codes.pop(form.get("code", ""), None)
            digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
            challenge = base64.urlsafe_b64encode(digest).decode().rstrip("=")
            if (
                asked is None
                or challenge != asked["code_challenge"]
                or form.get("redirect_uri") != asked["redirect_uri"]
                or form.get("client_id") != asked["client_id"]
            ):
                self.send_error(400)
                return
            base = f"http://127.0.0.1:{self.server.server_address[1]}/realms/city"
            id_token = _token(
                base, ["operator@gwacheon"], aud=asked["client_id"], nonce=asked["nonce"]
            )
            self._json({"id_token": id_token, "access_token": "x", "token_type": "Bearer"})

        def _json(self, body: dict[str, Any]) -> None:
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


async def test_browser_sign_in_through_the_provider(hub: Hub) -> None:
    r = await hub.client.get("/cityhub/v1/auth/oidc/login", params={"next": "/cityhub/v1/auth/me"})
    assert r.status_code == 302, r.text
    to_provider = r.headers["location"]
    asked = parse_qs(urlsplit(to_provider).query)
    assert asked["code_challenge_method"] == ["S256"] and asked["client_id"] == ["cityhub"]
    async with httpx.AsyncClient() as browser:  # the person signs in at the provider
        back = (await browser.get(to_provider)).headers["location"]  # ...which sends them back
    back_path = back.split("http://hub", 1)[1]
    r = await hub.client.get(back_path)
    assert r.status_code == 302 and r.headers["location"] == "/cityhub/v1/auth/me", r.text
    me = (await hub.client.get("/cityhub/v1/auth/me")).json()  # the session cookie is set
    assert me["name"] == "oidc:kim.operator"
    assert me["grants"] == [{"role": "operator", "tenant": "gwacheon"}]
    r = await hub.client.get(
        E, params={"type": "ParkingSpot"}, headers={"NGSILD-Tenant": "gwacheon"}
    )
    assert r.status_code == 200
    # the same answer twice: refused
    hub.client.cookies.clear()
    assert_problem(await hub.client.get(back_path), "Unauthenticated", 401)
    # a sign-in can only lead back into the hub, never to another site
    r = await hub.client.get("/cityhub/v1/auth/oidc/login", params={"next": "//evil.example/x"})
    async with httpx.AsyncClient() as browser:
        back = (await browser.get(r.headers["location"])).headers["location"]
    r = await hub.client.get(back.split("http://hub", 1)[1])
    assert r.headers["location"] == "/"
    # no password login for a person of the provider
    r = await hub.client.post(
        "/cityhub/v1/auth/login", json={"username": "oidc:kim.operator", "password": ""}
    )
    assert_problem(r, "Unauthenticated", 401)
