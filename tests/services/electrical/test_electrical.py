"""Electrical-fire sensing on both backends, through the HTTP API: Daejeon market panels whose
leakage, temperature and arc readings are graded caution or danger, one event per panel (the
service's caution SOP, the fire SOP once it turns dangerous), cleared only after the readings
stayed normal for a while (or by the sweep for a panel that went silent), thresholds a city
calibrates, and the panel list and layer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cityhub.settings import Settings
from tests.ngsild_api import assert_problem
from tests.services.facility.city import City, city, point, prop, stamp

pytestmark = pytest.mark.anyio
BASE = "/cityhub/v1/electrical"
A17 = "urn:ngsi-ld:ElectricalPanel:daejeon-jungang-market-A17"
B03 = "urn:ngsi-ld:ElectricalPanel:daejeon-jungang-market-B03"
T0 = datetime(2026, 2, 11, 5, 0, tzinfo=UTC)


def at(minutes: float) -> str:
    """T0 plus ``minutes``."""
    return stamp(T0, minutes=minutes)


def panel(panel_id: str, name: str, lon: float, lat: float) -> dict[str, Any]:
    """A market panel with a first, normal reading."""
    return {
        "id": panel_id,
        "type": "ElectricalPanel",
        "name": prop(name),
        "buildingType": prop("traditionalMarket"),
        "leakageCurrent": prop(12.0, at(0), "4K"),
        "temperature": prop(35.0, at(0), "CEL"),
        "arcEvents": prop(0, at(0)),
        "location": point(lon, lat),
    }


async def read(c: City, panel_id: str, minute: float, leak: float, temp: float, arcs: int) -> None:
    """One report of a panel's sensor."""
    t = at(minute)
    await c.update(
        panel_id,
        {
            "leakageCurrent": prop(leak, t, "4K"),
            "temperature": prop(temp, t, "CEL"),
            "arcEvents": prop(arcs, t),
        },
    )


async def test_caution_danger_and_clearing(settings: Settings) -> None:
    async with city(settings) as c:
        r = await c.client.post("/cityhub/v1/services/electrical-fire/setup")
        assert r.json()["created"] == ["rule:electrical-panel-silent", "sop:electrical-caution"]
        await c.create(
            panel(A17, "중앙시장 A동 17호", 127.4270, 36.3290),
            panel(B03, "중앙시장 B동 3호", 127.4275, 36.3288),
        )
        assert (await c.entity(A17))["anomalyGrade"] == "normal"

        await read(c, A17, 5, 42.0, 41.0, 0)  # leakage over 30 mA: caution
        (caution,) = await c.events(state="open")
        assert (caution["eventCode"], caution["category"]) == ("ELC0001", "fire")
        assert (caution["severity"], caution["eventGrade"]) == ("medium", "caution")
        assert caution["description"] == "중앙시장 A동 17호: leakageCurrent 42 mA ≥ 30 mA (caution)"
        assert caution["sop"]["template"] == "electrical-caution"
        await read(c, A17, 10, 45.0, 41.0, 0)  # the same anomaly again: an occurrence
        (again,) = await c.events(state="open")
        assert again["id"] == caution["id"] and again["occurrenceCount"] == 2

        await read(c, A17, 15, 45.0, 66.0, 2)  # arcs: danger; the fire SOP takes over
        (danger,) = await c.events(state="open")
        assert danger["id"] != caution["id"]
        assert (danger["eventCode"], danger["severity"]) == ("ELC0002", "high")
        assert danger["sop"]["template"] == "fire"
        assert danger["description"] == (
            "중앙시장 A동 17호: leakageCurrent 45 mA ≥ 30 mA (caution); temperature 66 °C ≥ "
            "60 °C (caution); arcEvents 2 events ≥ 1 events (danger)"
        )
        escalated = await c.get(f"/cityhub/v1/events/{caution['id']}")
        assert escalated["status"] == "cleared"
        panels = await c.get(f"{BASE}/panels", grade="danger")
        assert [p["id"] for p in panels["panels"]] == [A17]
        assert panels["panels"][0]["arcEvents"] == 2
        assert panels["panels"][0]["since"] == "2026-02-11T05:15:00.000Z"

        await read(c, A17, 20, 8.0, 30.0, 0)  # normal again: recovering, still open
        await read(c, A17, 35, 8.0, 30.0, 0)  # 15 minutes normal: not yet
        assert (await c.entity(A17))["anomalyGrade"] == "recovering"
        assert [e["id"] for e in await c.events(state="open")] == [danger["id"]]
        await read(c, A17, 55, 8.0, 30.0, 0)  # 35 minutes normal: cleared
        assert await c.events(state="open") == []
        done = await c.get(f"/cityhub/v1/events/{danger['id']}")
        assert done["status"] == "cleared"
        assert (await c.entity(A17))["anomalyGrade"] == "normal"

        # B03 turns caution, recovers, then its sensor goes silent: the sweep clears it
        await read(c, B03, 5, 12.0, 71.0, 0)
        await read(c, B03, 6, 12.0, 40.0, 0)
        (open_b,) = await c.events(state="open")
        service = c.app.state.hub.extras["electrical"]
        assert await service.sweep(T0 + timedelta(minutes=30)) == []  # 24 minutes: not yet
        assert await service.sweep(T0 + timedelta(minutes=40)) == [B03]
        await c.settle()
        assert await c.events(state="open") == []
        assert (await c.get(f"/cityhub/v1/events/{open_b['id']}"))["status"] == "cleared"

        listed = await c.get(f"{BASE}/panels")
        assert listed["byGrade"] == {
            "danger": 0,
            "caution": 0,
            "recovering": 0,
            "normal": 2,
            "ungraded": 0,
        }
        layer = await c.get(f"{BASE}/layer")
        assert {f["id"]: f["properties"]["color"] for f in layer["features"]} == {
            A17: "#2e7d32",
            B03: "#2e7d32",
        }
        assert layer["features"][0]["geometry"]["type"] == "Point"


async def test_thresholds_a_city_calibrates(settings: Settings) -> None:
    async with city(settings) as c:
        await c.create(panel(A17, "중앙시장 A동 17호", 127.4270, 36.3290))
        shown = await c.get(f"{BASE}/thresholds")
        assert shown["custom"] is False and shown["thresholds"]["clearAfter"] == "PT30M"
        assert shown["thresholds"]["measures"]["leakageCurrent"] == {
            "caution": 30.0,
            "danger": 100.0,
            "unit": "mA",
        }
        table = {
            "measures": {"leakageCurrent": {"unit": "mA", "caution": 20, "danger": 50}},
            "clearAfter": "PT0S",
        }
        r = await c.client.put(f"{BASE}/thresholds", json=table)
        assert r.status_code == 200 and r.json()["custom"] is True, r.text
        await read(c, A17, 5, 25.0, 95.0, 3)  # only leakage counts now: 25 mA is caution
        (event,) = await c.events(state="open")
        # not set up: caution follows the built-in facility-alarm SOP, not the fire one
        assert event["eventGrade"] == "caution" and event["sop"]["template"] == "facility-alarm"
        await read(c, A17, 6, 5.0, 30.0, 0)  # recovering
        await read(c, A17, 7, 5.0, 30.0, 0)  # clearAfter PT0S: cleared at the next reading
        assert await c.events(state="open") == []

        bad: dict[str, Any] = {"measures": {"leakageCurrent": {"caution": 50, "danger": 20}}}
        problem = assert_problem(
            await c.client.put(f"{BASE}/thresholds", json=bad), "BadRequestData", 400
        )
        assert "measures.leakageCurrent.caution" in problem["detail"]
        bad = {"measures": {"temperature": {"danger": 80}}, "clearAfter": "soon"}
        problem = assert_problem(
            await c.client.put(f"{BASE}/thresholds", json=bad), "BadRequestData", 400
        )
        assert "clearAfter" in problem["detail"]
        assert_problem(
            await c.client.get(f"{BASE}/panels", params={"grade": "fire"}), "BadRequestData", 400
        )
        assert (await c.client.delete(f"{BASE}/thresholds")).status_code == 204
        assert (await c.get(f"{BASE}/thresholds"))["custom"] is False
