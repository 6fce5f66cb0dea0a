"""The role matrix: for each built-in role and API family, what a user granted the role in one
tenant may do there and in another tenant, and what one granted it in every tenant may do. The
expected table is written out by hand from docs/security.md, not derived from the code's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from cityhub.settings import Settings
from tests.auth.test_access import Hub, _hub

pytestmark = pytest.mark.anyio
OWN = {"NGSILD-Tenant": "gwacheon", "fiware-service": "gwacheon"}
OTHER = {"NGSILD-Tenant": "seoul", "fiware-service": "seoul"}
SPOT = {"id": "urn:ngsi-ld:ParkingSpot:m1", "type": "ParkingSpot"}
SUB = {
    "type": "Subscription",
    "entities": [{"type": "ParkingSpot"}],
    "notification": {"endpoint": {"uri": "http://notify.example.invalid/hook"}},
}

#: family -> (method, path, body)
REQUESTS: dict[str, tuple[str, str, Any]] = {
    "entities:read": ("GET", "/ngsi-ld/v1/entities?type=ParkingSpot", None),
    "entities:write": ("POST", "/ngsi-ld/v1/entityOperations/upsert", [SPOT]),
    "history:read": (
        "GET",
        "/ngsi-ld/v1/temporal/entities?type=ParkingSpot&timerel=after&timeAt=2020-01-01T00:00:00Z",
        None,
    ),
    "subscriptions:read": ("GET", "/ngsi-ld/v1/subscriptions", None),
    "subscriptions:write": ("POST", "/ngsi-ld/v1/subscriptions", SUB),
    "iot:admin": ("GET", "/iot/services", None),
    "models:read": ("GET", "/cityhub/v1/models", None),
    "models:admin": ("PATCH", "/cityhub/v1/models/ParkingSpot", {"enforce": False}),
    "status:read": ("GET", "/cityhub/v1/status", None),
    "users:admin": ("GET", "/cityhub/v1/users", None),
    "audit:read": ("GET", "/cityhub/v1/audit", None),
    "events:read": ("GET", "/cityhub/v1/events", None),
    "events:write": ("POST", "/cityhub/v1/events", {"eventCode": "T1", "eventName": "test"}),
    "care:walk": ("GET", "/cityhub/v1/care/walks", None),
    "linked:request": (
        "POST",
        "/cityhub/v1/linked/requests",
        {"service": "112-video", "location": {"type": "Point", "coordinates": [126.99, 37.43]}},
    ),
}

#: role -> families it may use (by hand, from docs/security.md)
ALLOWED: dict[str, set[str]] = {
    "admin": set(REQUESTS),
    "supervisor": {
        "entities:read",
        "entities:write",
        "history:read",
        "subscriptions:read",
        "subscriptions:write",
        "iot:admin",
        "models:read",
        "status:read",
        "audit:read",
        "events:read",
        "events:write",
        "linked:request",
        "care:walk",
    },
    "operator": {
        "entities:read",
        "entities:write",
        "history:read",
        "subscriptions:read",
        "subscriptions:write",
        "models:read",
        "status:read",
        "events:read",
        "events:write",
        "linked:request",
        "care:walk",
    },
    "agency": {
        "entities:read",
        "history:read",
        "subscriptions:read",
        "subscriptions:write",
        "models:read",
        "events:read",
        "linked:request",
    },
    "provider": {"entities:read", "entities:write", "history:read", "models:read"},
    "consumer": {
        "entities:read",
        "history:read",
        "subscriptions:read",
        "subscriptions:write",
        "models:read",
    },
    "citizen": {"entities:read", "models:read", "care:walk"},
    "auditor": {"audit:read", "status:read", "models:read"},
}


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """One event loop for the module's hub."""
    return "asyncio"


#: families whose resources concern every tenant: only grants for every tenant (*) count
GLOBAL = {"users:admin", "audit:read", "status:read", "models:admin"}


@pytest.fixture(scope="module")
async def matrix_hub(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[Hub, dict[tuple[str, str], dict[str, str]]]]:
    """One hub (SQLite) with two users per role: granted in tenant gwacheon, and in every
    tenant; both tenants hold data."""
    path = tmp_path_factory.mktemp("matrix")
    settings = Settings(database=f"sqlite:///{path / 'hub.db'}", data_dir=str(path))
    async for hub in _hub(settings, sqlite_synchronous="NORMAL", rate_limit_per_s=0.0):
        admin = await hub.login("admin", hub.admin_password)
        for tenant in (OWN, OTHER):
            r = await hub.client.post("/ngsi-ld/v1/entities", json=SPOT, headers=admin | tenant)
            assert r.status_code == 201, r.text
        users = {}
        for role in ALLOWED:
            for where, tenant in (("local", "gwacheon"), ("global", "*")):
                name = f"{role}-{where}"
                users[role, where] = await hub.user(name, {"role": role, "tenant": tenant})
        yield hub, users


@pytest.mark.parametrize("family", sorted(REQUESTS))
@pytest.mark.parametrize("role", sorted(ALLOWED))
async def test_role_matrix(
    matrix_hub: tuple[Hub, dict[tuple[str, str], dict[str, str]]], role: str, family: str
) -> None:
    hub, users = matrix_hub
    method, path, body = REQUESTS[family]
    allowed = family in ALLOWED[role]

    async def status(where: str, tenant: dict[str, str]) -> int:
        r = await hub.client.request(method, path, json=body, headers=users[role, where] | tenant)
        assert r.status_code < 400 or r.status_code == 403, (role, family, r.text)
        return r.status_code

    local_own, local_other = await status("local", OWN), await status("local", OTHER)
    global_other = await status("global", OTHER)
    if family in GLOBAL:  # a grant for one tenant is not enough
        assert local_own == 403, (role, family)
        assert (global_other < 400) == allowed, (role, family)
    elif family == "models:read":  # reading the data models: a grant anywhere
        assert (local_own < 400) == allowed and (local_other < 400) == allowed
    else:  # per tenant: in its own tenant as the role says, never in another one
        assert (local_own < 400) == allowed, (role, family, local_own)
        assert local_other == 403, (role, family)
        assert (global_other < 400) == allowed, (role, family)
