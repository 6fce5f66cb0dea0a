"""The rules API: listing, validation with precise messages, conflicts, and the dry run."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ngsild_api import assert_problem
from tests.ops.rules.conftest import RULES, RulesHub, at, prop
from tests.ops.rules.test_threshold import AQ, PM25, station

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ([], "a rule is a JSON object"),
        (PM25 | {"kind": "cep"}, "unknown rule kind 'cep'; expected one of threshold, absence"),
        (PM25 | {"q": "pm25>=>75"}, '"q": Invalid q:'),
        (PM25 | {"clear": "pm25 = 3"}, "\"clear\": Invalid q: unknown operator '='"),
        (PM25 | {"for": "2 hours"}, "\"for\" '2 hours' is not an ISO 8601 duration"),
        (PM25 | {"for": "P1M"}, "years and months are not exact"),
        (PM25 | {"event": {"eventName": "x"}}, 'event: an event needs "eventCode" and "eventName"'),
        (PM25 | {"event": PM25["event"] | {"severity": "dire"}}, "event: severity must be one of"),
        (PM25 | {"event": PM25["event"] | {"dedupeKey": "k"}}, "event: the rule sets dedupeKey"),
        ({k: v for k, v in PM25.items() if k != "event"}, 'a rule needs "event"'),
        ({k: v for k, v in PM25.items() if k != "q"}, 'a threshold rule needs "q"'),
        ({k: v for k, v in PM25.items() if k != "entityType"}, 'needs "entityType"'),
        (PM25 | {"entityType": "CityEvent"}, "cannot watch CityEvent"),
        (PM25 | {"id": "has space"}, 'a rule needs an "id" of letters'),
        (PM25 | {"window": "PT1H"}, "unknown members in a threshold rule: window"),
        (PM25 | {"enabled": "yes"}, '"enabled" must be true or false'),
        (PM25 | {"kind": "absence", "for": "PT0S", "clear": None}, "must be longer than zero"),
        (PM25 | {"kind": "count", "for": None, "clear": None, "count": 0}, '"count" must be'),
    ],
)
async def test_invalid_rules_are_refused(rh: RulesHub, body: Any, says: str) -> None:
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if v is not None}
    problem = assert_problem(await rh.client.post(RULES, json=body), "BadRequestData", 400)
    assert says in problem["detail"], problem["detail"]
    assert (await rh.client.get(RULES)).json() == []


async def test_crud(rh: RulesHub) -> None:
    created = await rh.add_rule(PM25)
    assert created["id"] == "pm25-alert" and "createdAt" in created
    assert_problem(await rh.client.post(RULES, json=PM25), "AlreadyExists", 409)
    listed = (await rh.client.get(RULES)).json()
    assert [r["name"] for r in listed] == ["초미세먼지 주의보"]
    one = (await rh.client.get(f"{RULES}/pm25-alert")).json()
    assert one["q"] == "pm25>=75" and one["state"] == {"active": [], "pending": []}
    body = {k: v for k, v in PM25.items() if k != "id"} | {"name": "주의보"}
    r = await rh.client.put(f"{RULES}/pm25-alert", json=body)
    assert r.status_code == 200 and r.json()["name"] == "주의보" and r.json()["id"] == "pm25-alert"
    problem = assert_problem(
        await rh.client.put(f"{RULES}/pm25-alert", json=PM25 | {"id": "other"}),
        "BadRequestData",
        400,
    )
    assert "is not the id in the URL" in problem["detail"]
    assert_problem(
        await rh.client.put(f"{RULES}/nope", json=PM25 | {"id": "nope"}), "ResourceNotFound", 404
    )
    assert_problem(await rh.client.delete(f"{RULES}/nope"), "ResourceNotFound", 404)
    assert (await rh.client.delete(f"{RULES}/pm25-alert")).status_code == 204


async def test_renaming_keeps_holding_since_but_changing_q_resets_it(rh: RulesHub) -> None:
    await rh.add_rule(PM25)
    await rh.create(station(80, at()))
    await rh.client.put(f"{RULES}/pm25-alert", json=PM25 | {"name": "PM2.5 주의보"})
    assert len((await rh.client.get(f"{RULES}/pm25-alert")).json()["state"]["pending"]) == 1
    await rh.client.put(f"{RULES}/pm25-alert", json=PM25 | {"q": "pm25>=76"})
    assert (await rh.client.get(f"{RULES}/pm25-alert")).json()["state"]["pending"] == []


async def test_dry_run_replays_history(rh: RulesHub) -> None:
    await rh.create(station(40, at()))
    for hours, value in ((1, 80), (2, 90), (3, 85), (4, 50), (5, 30), (6, 80)):
        await rh.update(AQ, {"pm25": prop(value, at(hours=hours))})
    await rh.add_rule(PM25)
    r = await rh.client.post(
        f"{RULES}/pm25-alert/dry-run",
        params={"from": at(minutes=-1), "to": at(hours=9)},
    )
    assert r.status_code == 200, r.text
    found = r.json()
    assert found["changes"] == 7
    assert [(e["action"], e["at"]) for e in found["events"]] == [
        ("raise", "2026-01-10T03:00:00.000Z"),
        ("clear", "2026-01-10T05:00:00.000Z"),
        ("raise", "2026-01-10T08:00:00.000Z"),  # held from 6 h: the check at 8 h
    ]
    assert found["events"][0]["entityId"] == AQ
    assert found["events"][0]["since"] == "2026-01-10T01:00:00.000Z"
    # nothing was written: no event, no state
    assert await rh.events() == []
    assert (await rh.client.get(f"{RULES}/pm25-alert")).json()["state"]["active"] == []
    # a rule in the body, not stored
    r = await rh.client.post(
        f"{RULES}/draft/dry-run",
        params={"from": at(minutes=-1), "to": at(hours=9)},
        json=PM25 | {"id": "draft", "q": "pm25>>1"},
    )
    assert "Invalid q" in assert_problem(r, "BadRequestData", 400)["detail"]
    body = {k: v for k, v in PM25.items() if k not in ("id", "clear")} | {"for": "PT0S"}
    r = await rh.client.post(
        f"{RULES}/draft/dry-run", params={"from": at(minutes=-1), "to": at(hours=9)}, json=body
    )
    assert [(e["action"], e["at"]) for e in r.json()["events"]] == [
        ("raise", "2026-01-10T01:00:00.000Z"),
        ("clear", "2026-01-10T04:00:00.000Z"),
        ("raise", "2026-01-10T06:00:00.000Z"),
    ]
    assert_problem(await rh.client.post(f"{RULES}/nope/dry-run"), "ResourceNotFound", 404)
    assert_problem(
        await rh.client.post(
            f"{RULES}/pm25-alert/dry-run", params={"from": at(hours=2), "to": at()}
        ),
        "BadRequestData",
        400,
    )


async def test_adding_a_rule_compiles_only_what_changed(
    rh: RulesHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A city's thousandth rule is added as fast as its first: the others, unchanged, are not
    compiled again (they were, twice per added rule), and all of them still raise events."""
    compiled: list[str] = []
    compile_one = rh.rules.compile

    def counting(stored: Any) -> Any:
        compiled.append(stored.id)
        return compile_one(stored)

    monkeypatch.setattr(rh.rules, "compile", counting)
    at_once = {k: v for k, v in PM25.items() if k != "for"}
    for n in range(5):
        await rh.add_rule(at_once | {"id": f"pm25-{n}"})
    assert compiled == [f"pm25-{n}" for n in range(5)]
    await rh.client.put(f"{RULES}/pm25-2", json=at_once | {"id": "pm25-2", "q": "pm25>=80"})
    assert compiled[5:] == ["pm25-2"]  # the replaced one only
    await rh.create(station(85, at()))
    keys = sorted(e["dedupeKey"].split(":")[1] for e in await rh.events())
    assert keys == [f"pm25-{n}" for n in range(5)]
