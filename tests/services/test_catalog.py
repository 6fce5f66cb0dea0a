"""The service catalog on both backends: a service lists its rules and templates, and setting
it up in a tenant creates what the tenant lacks, keeps what the operator changed, and is
audited."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cityhub.services.catalog import SERVICES, Service, register
from cityhub.settings import Settings
from tests.auth.test_access import _hub
from tests.ngsild_api import assert_problem

pytestmark = pytest.mark.anyio
T = {"NGSILD-Tenant": "gwacheon"}
RULE = {
    "id": "demo-hot",
    "kind": "threshold",
    "entityType": "WeatherObserved",
    "q": "temperature>=35",
    "event": {"eventCode": "ENV0301", "eventName": "폭염", "category": "environment"},
}
SOP = {
    "id": "demo-heat",
    "name": "폭염 대응",
    "match": {"eventCodes": ["ENV0301"]},
    "steps": [{"id": "check", "title": "취약 가구 확인", "role": "operator"}],
}


@pytest.fixture
def demo_service() -> Iterator[Service]:
    """A service registered for the test only."""
    found = register(Service("demo", "폭염 알림", "Heat alerts", "test", (RULE,), (SOP,)))
    yield found
    SERVICES.pop("demo", None)


async def test_setup_creates_what_is_missing(settings: Settings, demo_service: Service) -> None:
    async for hub in _hub(settings):
        op = await hub.user("op-gc", {"role": "operator", "tenant": "gwacheon"}) | T
        c = hub.client
        listed = {s["id"]: s for s in (await c.get("/cityhub/v1/services", headers=op)).json()}
        assert listed["demo"]["rules"] == ["demo-hot"] and listed["demo"]["sops"] == ["demo-heat"]
        r = await c.post("/cityhub/v1/services/demo/setup", headers=op)
        assert r.status_code == 200, r.text
        assert r.json()["created"] == ["rule:demo-hot", "sop:demo-heat"]
        assert (await c.get("/cityhub/v1/rules/demo-hot", headers=op)).status_code == 200
        assert (await c.get("/cityhub/v1/sops/demo-heat", headers=op)).json()["builtin"] is False
        # the operator changes the rule; setting up again keeps it
        changed = RULE | {"q": "temperature>=33"}
        r = await c.put("/cityhub/v1/rules/demo-hot", json=changed, headers=op)
        assert r.status_code in (200, 204), r.text
        r = await c.post("/cityhub/v1/services/demo/setup", headers=op)
        assert r.json() == {
            "service": "demo",
            "created": [],
            "kept": ["rule:demo-hot", "sop:demo-heat"],
        }
        rule = (await c.get("/cityhub/v1/rules/demo-hot", headers=op)).json()
        assert rule["q"] == "temperature>=33"
        # a citizen may look, not set up; an unknown service is 404
        citizen = await hub.user("kim", {"role": "citizen", "tenant": "gwacheon"}) | T
        r = await c.post("/cityhub/v1/services/demo/setup", headers=citizen)
        assert_problem(r, "Forbidden", 403)
        r = await c.post("/cityhub/v1/services/nope/setup", headers=op)
        assert_problem(r, "ResourceNotFound", 404)
        admin = await hub.login("admin", hub.admin_password)
        log = (
            await c.get("/cityhub/v1/audit", params={"action": "service.setup"}, headers=admin)
        ).json()
        entries = log["entries"] if isinstance(log, dict) else log
        assert len(entries) == 2 and entries[0]["target"] == "demo"
