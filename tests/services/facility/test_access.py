"""The three services with auth on, on both backends: the catalog lists them and sets each up
in a tenant (their default rules and SOP templates), and the access policy lets citizens see
grades and layers but not histories, and only operators change thresholds."""

from __future__ import annotations

import pytest

from cityhub.settings import Settings
from tests.auth.test_access import _hub
from tests.ngsild_api import assert_problem

pytestmark = pytest.mark.anyio
T = {"NGSILD-Tenant": "guro"}
SETUPS = {
    "facility": ["rule:facility-sensor-silent", "sop:facility-sensor-outage"],
    "electrical-fire": ["rule:electrical-panel-silent", "sop:electrical-caution"],
    "crosswalk": ["rule:crosswalk-violations", "rule:crosswalk-silent"],
}


async def test_catalog_setup_and_access(settings: Settings) -> None:
    async for hub in _hub(settings):
        c = hub.client
        op = await hub.user("op-guro", {"role": "operator", "tenant": "guro"}) | T
        listed = {s["id"]: s for s in (await c.get("/cityhub/v1/services", headers=op)).json()}
        assert listed["facility"]["layers"] == ["/cityhub/v1/facilities/layer"]
        assert listed["electrical-fire"]["models"] == ["ElectricalPanel"]
        assert listed["crosswalk"]["rules"] == ["crosswalk-violations", "crosswalk-silent"]
        for service, created in SETUPS.items():
            r = await c.post(f"/cityhub/v1/services/{service}/setup", headers=op)
            assert r.status_code == 200, r.text
            assert r.json() == {"service": service, "created": created, "kept": []}
        rule = (await c.get("/cityhub/v1/rules/facility-sensor-silent", headers=op)).json()
        assert rule["kind"] == "absence" and rule["for"] == "PT6H"
        template = (await c.get("/cityhub/v1/sops/electrical-caution", headers=op)).json()
        assert template["builtin"] is False and len(template["steps"]) == 3

        citizen = await hub.user("kim", {"role": "citizen", "tenant": "guro"}) | T
        for path in (
            "/cityhub/v1/facilities",
            "/cityhub/v1/facilities/layer",
            "/cityhub/v1/electrical/panels",
            "/cityhub/v1/electrical/layer",
            "/cityhub/v1/crosswalks/layer",
            "/cityhub/v1/facilities/thresholds",
        ):
            assert (await c.get(path, headers=citizen)).status_code == 200, path
        for path in (
            "/cityhub/v1/facilities/urn:ngsi-ld:Facility:x/report",
            "/cityhub/v1/crosswalks/stats",
        ):
            assert_problem(await c.get(path, headers=citizen), "Forbidden", 403)
        table = (await c.get("/cityhub/v1/electrical/thresholds", headers=op)).json()
        put = await c.put(
            "/cityhub/v1/electrical/thresholds", json=table["thresholds"], headers=citizen
        )
        assert_problem(put, "Forbidden", 403)
        put = await c.put("/cityhub/v1/electrical/thresholds", json=table["thresholds"], headers=op)
        assert put.status_code == 200 and put.json()["updatedBy"] == "op-guro"
        empty = (await c.get("/cityhub/v1/crosswalks/stats", headers=op)).json()
        assert empty["crosswalks"] == [] and empty["all"]["totals"]["vehicles"] == 0
