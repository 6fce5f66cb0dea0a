"""Threshold rules through the public API, on both backends: "holding for" measured with
observedAt, hysteresis, the periodic check, restarts, rule changes."""

from __future__ import annotations

from typing import Any

import pytest

from cityhub.settings import Settings
from tests.ops.rules.conftest import RULES, RulesHub, at, moment, point, prop, running

pytestmark = pytest.mark.anyio
AQ = "urn:ngsi-ld:AirQualityObserved:gwacheon-01"
PM25 = {
    "id": "pm25-alert",
    "name": "초미세먼지 주의보",
    "kind": "threshold",
    "entityType": "AirQualityObserved",
    "q": "pm25>=75",
    "for": "PT2H",
    "clear": "pm25<35",
    "event": {
        "eventCode": "ENV0025",
        "eventName": "초미세먼지 주의보",
        "severity": "high",
        "category": "environment",
    },
}


def station(pm25: float, observed: str) -> dict[str, Any]:
    return {
        "id": AQ,
        "type": "AirQualityObserved",
        "pm25": prop(pm25, observed),
        "location": point(126.9876, 37.4292),
    }


async def test_holding_for_two_hours_then_hysteresis(rh: RulesHub) -> None:
    await rh.add_rule(PM25)
    await rh.create(station(80, at()))
    await rh.update(AQ, {"pm25": prop(90, at(hours=1))})
    assert await rh.events() == []  # held for 1 h only
    r = await rh.client.get(f"{RULES}/pm25-alert")
    assert r.json()["state"]["pending"] == [
        {"key": AQ, "since": "2026-01-10T00:00:00.000Z", "due": "2026-01-10T02:00:00.000Z"}
    ]
    await rh.update(AQ, {"pm25": prop(85, at(hours=2))})
    [event] = await rh.events("open")
    assert event["dedupeKey"] == f"rule:pm25-alert:{AQ}"
    assert (event["eventCode"], event["severity"], event["source"]) == (
        "ENV0025",
        "high",
        "rule:pm25-alert",
    )
    assert event["location"] == {"type": "Point", "coordinates": [126.9876, 37.4292]}
    assert event["refRelatedEntity"] == AQ
    items = {i["key"]: i["val"] for i in event["eventItems"]}
    assert items["since"] == "2026-01-10T00:00:00.000Z" and items["entity"] == AQ
    # still high: the same open event, no new one
    await rh.update(AQ, {"pm25": prop(95, at(hours=3))})
    # below 75 but not below 35: hysteresis keeps it open
    await rh.update(AQ, {"pm25": prop(50, at(hours=4))})
    assert [e["id"] for e in await rh.events("open")] == [event["id"]]
    r = await rh.client.get(f"{RULES}/pm25-alert")
    assert r.json()["state"]["active"] == [{"key": AQ, "since": "2026-01-10T00:00:00.000Z"}]
    await rh.update(AQ, {"pm25": prop(30, at(hours=5))})
    assert await rh.events("open") == []
    [closed] = await rh.events("closed")
    assert closed["id"] == event["id"] and closed["status"] == "cleared"
    history = await rh.client.get(
        f"/ngsi-ld/v1/temporal/entities/{event['id']}",
        params={"attrs": "status", "timerel": "after", "timeAt": "2000-01-01T00:00:00Z"},
    )
    last = history.json()["status"][-1]
    assert last["changedBy"]["value"] == "rule:pm25-alert"
    assert last["reason"]["value"].startswith("pm25<35 at 2026-01-10T05:00:00")
    # high again: a new event
    await rh.update(AQ, {"pm25": prop(80, at(hours=6))})
    await rh.update(AQ, {"pm25": prop(80, at(hours=8))})
    [again] = await rh.events("open")
    assert again["id"] != event["id"]


async def test_interrupted_holding_starts_again(rh: RulesHub) -> None:
    await rh.add_rule(PM25)
    await rh.create(station(80, at()))
    await rh.update(AQ, {"pm25": prop(60, at(hours=1))})  # dropped below: no longer holding
    await rh.update(AQ, {"pm25": prop(80, at(hours=1, minutes=30))})
    await rh.update(AQ, {"pm25": prop(80, at(hours=2, minutes=30))})
    assert await rh.events() == []
    await rh.update(AQ, {"pm25": prop(80, at(hours=3, minutes=30))})
    assert len(await rh.events("open")) == 1


async def test_elapsed_without_new_change_fires_on_the_periodic_check(rh: RulesHub) -> None:
    await rh.add_rule(PM25)
    await rh.create(station(80, at()))
    assert await rh.check(moment(hours=1, minutes=59)) == 0
    assert await rh.events() == []
    assert await rh.check(moment(hours=2)) == 1
    [event] = await rh.events("open")
    assert event["dedupeKey"] == f"rule:pm25-alert:{AQ}"
    assert event["location"]["coordinates"] == [126.9876, 37.4292]
    assert await rh.check(moment(hours=5)) == 0  # already raised
    await rh.update(AQ, {"pm25": prop(20, at(hours=6))})
    assert await rh.events("open") == []


async def test_without_for_and_clear_fires_at_once_and_clears_when_q_ends(rh: RulesHub) -> None:
    rule = {k: v for k, v in PM25.items() if k not in ("for", "clear")}
    await rh.add_rule(rule)
    await rh.create(station(80, at()))
    assert len(await rh.events("open")) == 1
    await rh.update(AQ, {"pm25": prop(70, at(minutes=10))})
    assert await rh.events("open") == []


async def test_a_restarted_worker_keeps_holding_since(settings: Settings) -> None:
    async with running(settings) as rh:
        await rh.add_rule(PM25)
        await rh.create(station(80, at()))
        await rh.update(AQ, {"pm25": prop(80, at(hours=1))})
    async with running(settings) as rh:
        assert await rh.events() == []
        await rh.update(AQ, {"pm25": prop(80, at(hours=2))})
        [event] = await rh.events("open")
        assert event["dedupeKey"] == f"rule:pm25-alert:{AQ}"
    async with running(settings) as rh:  # and the active state: cleared after a restart
        await rh.update(AQ, {"pm25": prop(10, at(hours=3))})
        assert await rh.events("open") == []


async def test_a_changed_rule_takes_effect(rh: RulesHub) -> None:
    rule = {k: v for k, v in PM25.items() if k not in ("for", "clear")}
    await rh.add_rule(rule)
    r = await rh.client.put(f"{RULES}/pm25-alert", json=rule | {"q": "pm25>=150"})
    assert r.status_code == 200, r.text
    await rh.create(station(100, at()))
    assert await rh.events() == []
    await rh.update(AQ, {"pm25": prop(160, at(minutes=5))})
    assert len(await rh.events("open")) == 1
    await rh.update(AQ, {"pm25": prop(10, at(minutes=10))})
    # disabled: no more events
    r = await rh.client.put(f"{RULES}/pm25-alert", json=rule | {"enabled": False})
    assert r.status_code == 200
    await rh.update(AQ, {"pm25": prop(160, at(minutes=15))})
    assert await rh.events("open") == []
    # deleted: gone, and nothing is evaluated
    assert (await rh.client.delete(f"{RULES}/pm25-alert")).status_code == 204
    assert (await rh.client.get(f"{RULES}/pm25-alert")).status_code == 404
    assert (await rh.client.get(RULES)).json() == []


async def test_another_workers_change_is_picked_up(settings: Settings) -> None:
    rule = {k: v for k, v in PM25.items() if k not in ("for", "clear")}
    async with running(settings) as one, running(settings) as two:
        await one.add_rule(rule)
        assert await two.rules.refresh()  # what its watch does every 2 s
        assert "pm25-alert" in two.rules.rules[""]
        await two.create(station(100, at()))
        await one.settle()
        await two.settle()
        assert len(await one.events("open")) == 1


async def test_rules_are_per_tenant(rh: RulesHub) -> None:
    seoul = {"NGSILD-Tenant": "seoul"}
    rule = {k: v for k, v in PM25.items() if k not in ("for", "clear")}
    await rh.add_rule(rule, headers=seoul)
    assert (await rh.client.get(RULES)).json() == []
    assert [r["id"] for r in (await rh.client.get(RULES, headers=seoul)).json()] == ["pm25-alert"]
    await rh.create(station(100, at()))  # the default tenant: no rule there
    await rh.create(station(100, at()), headers=seoul)
    assert len(await rh.events("open", headers=seoul)) == 1
    r = await rh.client.get("/cityhub/v1/events", params={"state": "open"})
    assert r.json() == []
