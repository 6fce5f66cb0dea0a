"""Access control with auth on, on both backends: the first administrator, logins, tokens, API
keys, session cookies with CSRF, roles per tenant, entity-type limits, public open data."""

from __future__ import annotations

import dataclasses
import io
import re
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from cityhub.app import create_app
from cityhub.errors import ConfigError
from cityhub.settings import Settings, load_settings
from tests.ngsild_api import assert_problem

pytestmark = pytest.mark.anyio
E = "/ngsi-ld/v1/entities"
U = "/cityhub/v1/users"
GWACHEON = {"NGSILD-Tenant": "gwacheon"}


@dataclasses.dataclass
class Hub:
    """A hub with auth on, reached over ASGI, and the first administrator's password."""

    client: httpx.AsyncClient
    admin_password: str

    async def login(self, name: str, password: str) -> dict[str, str]:
        r = await self.client.post(
            "/cityhub/v1/auth/login", json={"username": name, "password": password}
        )
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    async def user(self, name: str, *grants: dict[str, Any]) -> dict[str, str]:
        """Create a user with ``grants`` (as the administrator); their auth headers."""
        admin = await self.login("admin", self.admin_password)
        r = await self.client.post(U, json={"name": name, "grants": list(grants)}, headers=admin)
        assert r.status_code == 201, r.text
        return await self.login(name, r.json()["password"])


async def _hub(settings: Settings, **changes: Any) -> AsyncIterator[Hub]:
    app = create_app(dataclasses.replace(settings, auth="on", **changes))
    console, sys.stderr = sys.stderr, io.StringIO()
    try:
        async with app.router.lifespan_context(app):
            printed = sys.stderr.getvalue()
            sys.stderr = console
            found = re.search(r"password: (\S+)", printed)
            assert found, printed
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://hub") as c:
                yield Hub(c, found.group(1))
    finally:
        sys.stderr = console


@pytest.fixture
async def hub(settings: Settings) -> AsyncIterator[Hub]:
    """A hub with auth on."""
    async for h in _hub(settings):
        yield h


def _spot(n: int, kind: str = "ParkingSpot") -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:{kind}:{n}",
        "type": kind,
        "name": {"type": "Property", "value": f"{kind} {n}"},
    }


async def test_first_start_shows_the_admin_password_once(hub: Hub) -> None:
    admin = await hub.login("admin", hub.admin_password)
    me = (await hub.client.get("/cityhub/v1/auth/me", headers=admin)).json()
    assert me["name"] == "admin" and me["grants"] == [{"role": "admin", "tenant": "*"}]
    users = (await hub.client.get(U, headers=admin)).json()
    assert [u["name"] for u in users] == ["admin"]
    assert all("password" not in u and "password_hash" not in u for u in users)


async def test_nothing_without_credentials(hub: Hub) -> None:
    assert (await hub.client.get("/version")).status_code == 200
    for method, path in (("GET", E + "?type=ParkingSpot"), ("POST", E), ("GET", U)):
        r = await hub.client.request(method, path, json=_spot(1) if method == "POST" else None)
        problem = assert_problem(r, "Unauthenticated", 401)
        assert problem["type"] == "urn:cityhub:errors:Unauthenticated"
        assert r.headers["www-authenticate"].startswith("Bearer")
    r = await hub.client.get(E, params={"type": "X"}, headers={"Authorization": "Bearer nope"})
    assert "not valid" in assert_problem(r, "Unauthenticated", 401)["detail"]
    r = await hub.client.post(
        "/cityhub/v1/auth/login", json={"username": "admin", "password": "wrong password"}
    )
    assert_problem(r, "Unauthenticated", 401)


async def test_roles_hold_per_tenant(hub: Hub) -> None:
    op = await hub.user("op1", {"role": "operator", "tenant": "gwacheon"})
    assert (await hub.client.post(E, json=_spot(1), headers=op | GWACHEON)).status_code == 201
    r = await hub.client.get(f"{E}/urn:ngsi-ld:ParkingSpot:1", headers=op | GWACHEON)
    assert r.status_code == 200
    # another tenant, the default tenant, administration: refused, saying why
    r = await hub.client.get(
        f"{E}/urn:ngsi-ld:ParkingSpot:1", headers=op | {"NGSILD-Tenant": "seoul"}
    )
    assert (
        "op1 may not read entities in tenant 'seoul'"
        in assert_problem(r, "Forbidden", 403)["detail"]
    )
    assert_problem(
        await hub.client.get(E, params={"type": "ParkingSpot"}, headers=op), "Forbidden", 403
    )
    assert_problem(await hub.client.get(U, headers=op), "Forbidden", 403)
    # an agency reads and subscribes, but does not change city data
    police = await hub.user("police112", {"role": "agency", "tenant": "gwacheon"})
    r = await hub.client.get(f"{E}/urn:ngsi-ld:ParkingSpot:1", headers=police | GWACHEON)
    assert r.status_code == 200
    r = await hub.client.delete(f"{E}/urn:ngsi-ld:ParkingSpot:1", headers=police | GWACHEON)
    assert "police112 may not change entities" in assert_problem(r, "Forbidden", 403)["detail"]


async def test_type_limited_grant(hub: Hub) -> None:
    admin = await hub.login("admin", hub.admin_password)
    aq = _spot(7, "AirQualityObserved")
    assert (await hub.client.post(E, json=aq, headers=admin | GWACHEON)).status_code == 201
    provider = await hub.user(
        "parking-co", {"role": "provider", "tenant": "gwacheon", "types": ["ParkingSpot"]}
    )
    h = provider | GWACHEON
    assert (await hub.client.post(E, json=_spot(2), headers=h)).status_code == 201
    r = await hub.client.post(E, json=_spot(8, "AirQualityObserved"), headers=h)
    assert (
        "outside the types this account may change (ParkingSpot)"
        in assert_problem(r, "Forbidden", 403)["detail"]
    )
    r = await hub.client.patch(
        f"{E}/{aq['id']}/attrs", json={"name": {"type": "Property", "value": "x"}}, headers=h
    )
    assert_problem(r, "Forbidden", 403)
    # reads: the other types are not there for this account
    assert_problem(await hub.client.get(f"{E}/{aq['id']}", headers=h), "ResourceNotFound", 404)
    r = await hub.client.get(E, params={"type": "AirQualityObserved"}, headers=h)
    assert r.status_code == 200 and r.json() == []
    r = await hub.client.get(E, params={"type": "ParkingSpot,AirQualityObserved"}, headers=h)
    assert [e["id"] for e in r.json()] == ["urn:ngsi-ld:ParkingSpot:2"]
    r = await hub.client.get("/ngsi-ld/v1/temporal/entities/" + aq["id"], headers=h)
    assert_problem(r, "ResourceNotFound", 404)
    # a batch: the entity of another type fails alone
    batch = [_spot(3), _spot(9, "AirQualityObserved")]
    r = await hub.client.post("/ngsi-ld/v1/entityOperations/upsert", json=batch, headers=h)
    assert r.status_code == 207 and r.json()["success"] == ["urn:ngsi-ld:ParkingSpot:3"]


async def test_api_keys(hub: Hub) -> None:
    op = await hub.user("op2", {"role": "operator", "tenant": "gwacheon"})
    assert (await hub.client.post(E, json=_spot(1), headers=op | GWACHEON)).status_code == 201
    r = await hub.client.post("/cityhub/v1/apikeys", json={"label": "signage"}, headers=op)
    assert r.status_code == 201, r.text
    key, ident = r.json()["key"], r.json()["id"]
    assert key.startswith("chk_")
    for header in ({"X-API-Key": key}, {"Authorization": f"Bearer {key}"}):
        r = await hub.client.get(E, params={"type": "ParkingSpot"}, headers=header | GWACHEON)
        assert r.status_code == 200, r.text
    listed = (await hub.client.get("/cityhub/v1/apikeys", headers=op)).json()
    assert [k["id"] for k in listed] == [ident] and "key" not in listed[0]
    assert_problem(
        await hub.client.post("/cityhub/v1/apikeys", json={}, headers=op), "BadRequestData", 400
    )
    assert (await hub.client.delete(f"/cityhub/v1/apikeys/{ident}", headers=op)).status_code == 204
    r = await hub.client.get(
        E, params={"type": "ParkingSpot"}, headers={"X-API-Key": key} | GWACHEON
    )
    assert_problem(r, "Unauthenticated", 401)


async def test_session_cookie_needs_csrf_for_changes(hub: Hub) -> None:
    r = await hub.client.post(
        "/cityhub/v1/auth/login", json={"username": "admin", "password": hub.admin_password}
    )
    assert "httponly" in r.headers.get_list("set-cookie")[0].lower()
    csrf = hub.client.cookies["cityhub_csrf"]
    assert (await hub.client.get(E, params={"type": "ParkingSpot"})).status_code == 200
    r = await hub.client.post(E, json=_spot(4))
    assert "X-CSRF-Token" in assert_problem(r, "Forbidden", 403)["detail"]
    r = await hub.client.post(E, json=_spot(4), headers={"X-CSRF-Token": "guess"})
    assert_problem(r, "Forbidden", 403)
    assert (
        await hub.client.post(E, json=_spot(4), headers={"X-CSRF-Token": csrf})
    ).status_code == 201
    r = await hub.client.post("/cityhub/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 204
    hub.client.cookies.clear()
    assert_problem(await hub.client.get(E, params={"type": "ParkingSpot"}), "Unauthenticated", 401)


async def test_logout_disable_and_password_change_end_tokens(hub: Hub) -> None:
    op = await hub.user("op3", {"role": "operator"})
    assert (await hub.client.post("/cityhub/v1/auth/logout", headers=op)).status_code == 204
    assert_problem(
        await hub.client.get(E, params={"type": "T"}, headers=op), "Unauthenticated", 401
    )
    admin = await hub.login("admin", hub.admin_password)
    r = await hub.client.patch(f"{U}/op3", json={"password": "short"}, headers=admin)
    assert "at least 10 characters" in assert_problem(r, "BadRequestData", 400)["detail"]
    r = await hub.client.patch(
        f"{U}/op3", json={"password": "a new long passphrase"}, headers=admin
    )
    assert r.status_code == 204
    op = await hub.login("op3", "a new long passphrase")
    r = await hub.client.patch(f"{U}/op3", json={"disabled": True}, headers=admin)
    assert r.status_code == 204
    assert_problem(
        await hub.client.get(E, params={"type": "T"}, headers=op), "Unauthenticated", 401
    )
    r = await hub.client.post(
        "/cityhub/v1/auth/login", json={"username": "op3", "password": "a new long passphrase"}
    )
    assert_problem(r, "Unauthenticated", 401)


async def test_custom_roles(hub: Hub) -> None:
    admin = await hub.login("admin", hub.admin_password)
    roles = (await hub.client.get("/cityhub/v1/roles", headers=admin)).json()
    assert {"admin", "operator", "agency", "auditor"} <= {r["name"] for r in roles["roles"]}
    r = await hub.client.put(
        "/cityhub/v1/roles/reader", json={"permissions": ["entities:read"]}, headers=admin
    )
    assert r.status_code == 201, r.text
    r = await hub.client.put(
        "/cityhub/v1/roles/bad", json={"permissions": ["entities:fly"]}, headers=admin
    )
    assert "unknown permissions entities:fly" in assert_problem(r, "BadRequestData", 400)["detail"]
    r = await hub.client.put("/cityhub/v1/roles/admin", json={"permissions": []}, headers=admin)
    assert_problem(r, "BadRequestData", 400)
    reader = await hub.user("reader1", {"role": "reader", "tenant": "*"})
    assert (await hub.client.get(E, params={"type": "T"}, headers=reader)).status_code == 200
    assert_problem(await hub.client.post(E, json=_spot(5), headers=reader), "Forbidden", 403)
    r = await hub.client.delete("/cityhub/v1/roles/reader", headers=admin)
    assert "granted to reader1" in assert_problem(r, "BadRequestData", 400)["detail"]
    r = await hub.client.post(U, json={"name": "x1", "grants": [{"role": "nobody"}]}, headers=admin)
    assert "no role 'nobody'" in assert_problem(r, "BadRequestData", 400)["detail"]


async def test_public_types_are_open_data(settings: Settings) -> None:
    async for hub in _hub(settings, public_types="OffStreetParking"):
        admin = await hub.login("admin", hub.admin_password)
        lot = _spot(1, "OffStreetParking")
        assert (await hub.client.post(E, json=lot, headers=admin)).status_code == 201
        assert (await hub.client.post(E, json=_spot(1), headers=admin)).status_code == 201
        hub.client.cookies.clear()  # from here on: nobody logged in
        r = await hub.client.get(E, params={"type": "OffStreetParking,ParkingSpot"})
        assert [e["id"] for e in r.json()] == [lot["id"]]
        assert (await hub.client.get(f"{E}/{lot['id']}")).status_code == 200
        r = await hub.client.get(f"{E}/urn:ngsi-ld:ParkingSpot:1")
        assert_problem(r, "ResourceNotFound", 404)
        assert_problem(await hub.client.post(E, json=_spot(2)), "Unauthenticated", 401)
        assert_problem(await hub.client.get("/ngsi-ld/v1/subscriptions"), "Unauthenticated", 401)


def test_auth_off_only_on_loopback() -> None:
    with pytest.raises(ConfigError, match="only on a loopback address"):
        load_settings({"auth": "off", "host": "0.0.0.0"}, env={})
    assert load_settings({"auth": "off", "host": "127.0.0.1"}, env={}).auth == "off"
    with pytest.raises(ConfigError, match="auth must be on or off"):
        load_settings({"auth": "maybe"}, env={})


async def test_passwords_are_argon2_hashed(hub: Hub, settings: Settings) -> None:
    await hub.user("op4", {"role": "operator"})
    store = hub.client._transport.app.state.hub.extras["auth"]  # type: ignore[attr-defined]
    rows = await store.db.rows("SELECT password_hash FROM auth_users WHERE name = 'op4'")
    assert rows[0][0].startswith("$argon2id$")
    admin = await hub.login("admin", hub.admin_password)
    r = await hub.client.post(U, json={"name": "op5", "password": "aaaaaaaaaaaa"}, headers=admin)
    assert "more different characters" in assert_problem(r, "BadRequestData", 400)["detail"]


async def test_security_actions_are_audited(hub: Hub) -> None:
    await hub.user("op6", {"role": "operator"})
    r = await hub.client.post(
        "/cityhub/v1/auth/login", json={"username": "op6", "password": "not the password"}
    )
    assert_problem(r, "Unauthenticated", 401)
    auditor = await hub.user("auditor1", {"role": "auditor", "tenant": "*"})
    entries = (await hub.client.get("/cityhub/v1/audit", headers=auditor)).json()["entries"]
    seen = [(e["actor"], e["action"], e["target"]) for e in entries]
    assert ("admin", "user.create", "op6") in seen
    assert ("op6", "auth.login_failed", "") in seen
    assert ("op6", "auth.login", "") in seen
    assert (await hub.client.get("/cityhub/v1/audit/verify", headers=auditor)).json()["ok"]
    op = await hub.login("op6", await _reset(hub, "op6"))
    assert_problem(await hub.client.get("/cityhub/v1/audit", headers=op), "Forbidden", 403)


async def _reset(hub: Hub, name: str) -> str:
    admin = await hub.login("admin", hub.admin_password)
    password = "another long passphrase"
    r = await hub.client.patch(f"{U}/{name}", json={"password": password}, headers=admin)
    assert r.status_code == 204
    return password


async def test_administrative_changes_and_denials_are_audited(hub: Hub) -> None:
    admin = await hub.login("admin", hub.admin_password)
    r = await hub.client.patch(
        "/cityhub/v1/models/ParkingSpot", json={"enforce": True}, headers=admin
    )
    assert r.status_code == 204
    op = await hub.user("op7", {"role": "operator", "tenant": "gwacheon"})
    group = {"services": [{"apikey": "k1", "entity_type": "ParkingSpot"}]}
    r = await hub.client.post("/iot/services", json=group, headers=op | GWACHEON)
    assert_problem(r, "Forbidden", 403)
    entries = (await hub.client.get("/cityhub/v1/audit", headers=admin)).json()["entries"]
    seen = {(e["actor"], e["action"], e["target"], e["outcome"]) for e in entries}
    assert ("admin", "admin.models", "/cityhub/v1/models/ParkingSpot", "ok") in seen
    assert ("op7", "access.denied", "/iot/services", "denied") in seen
