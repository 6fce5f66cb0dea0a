"""Rule actions through the public API, on both backends: when a rule opens an event it calls
a webhook, writes to an agency's inbox and starts the SOP it names; each outcome is audited;
bad actions are refused."""

from __future__ import annotations

from typing import Any

import pytest

from tests.http_receiver import Receiver
from tests.ngsild_api import assert_problem
from tests.ops.rules.conftest import RULES, RulesHub, at, point, prop

pytestmark = pytest.mark.anyio
LEVEL = "urn:ngsi-ld:WaterLevelObserved:yangjae-1"


def rule(actions: list[Any]) -> dict[str, Any]:
    return {
        "id": "river-high",
        "kind": "threshold",
        "entityType": "WaterLevelObserved",
        "q": "level>=3.5",
        "event": {"eventCode": "DIS0101", "eventName": "하천 수위 경보", "category": "disaster"},
        "actions": actions,
    }


async def test_actions_run_when_a_rule_opens_an_event(rh: RulesHub) -> None:
    receiver = Receiver()
    await receiver.start()
    try:
        actions = [
            {"kind": "notify", "channel": "webhook", "url": receiver.url + "/flood"},
            {"kind": "notify", "agency": "disaster-center", "text": "{eventName} at {place}"},
            {"kind": "sop", "template": "flood"},
        ]
        await rh.add_rule(rule(actions))
        level = {
            "id": LEVEL,
            "type": "WaterLevelObserved",
            "level": prop(3.8, at()),
            "location": point(127.0, 37.45),
        }
        await rh.create(level)
        [event] = await rh.events("open")
        assert event["sopTemplate"] == "flood"
        [hook] = await receiver.wait_for(1)
        assert hook.path == "/flood" and hook.json()["id"] == event["id"]
        r = await rh.client.get("/cityhub/v1/inbox", params={"agency": "disaster-center"})
        mine = [m for m in r.json() if m["text"].startswith("하천 수위 경보 at ")]
        assert [m["eventId"] for m in mine] == [event["id"]]  # (the flood SOP writes too)
        # the SOP named by the rule, not the first that matches
        hub = rh.app.state.hub
        assert await hub.feeds["sops"].caught_up(await hub.storage.log_end())
        r = await rh.client.get(f"/cityhub/v1/events/{event['id']}/sop")
        assert r.status_code == 200, r.text
        assert r.json()["template"] == "flood"
        # a repeat of the trigger opens no event and runs no action again
        await rh.update(LEVEL, {"level": prop(3.9, at(minutes=5))})
        await rh.update(LEVEL, {"level": prop(1.0, at(minutes=10))})
        assert len(receiver.requests) == 1
        log = hub.extras["audit"]
        entries, _ = await log.query(action="rule.action", limit=10)
        assert sorted(e.detail["kind"] for e in entries) == ["notify", "notify"]
    finally:
        await receiver.stop()


@pytest.mark.parametrize(
    ("actions", "says"),
    [
        ("webhook", "actions"),
        ([{"kind": "teleport"}], "actions[0].kind"),
        ([{"kind": "sop"}], "actions[0] (sop)"),
        ([{"kind": "sop", "template": "Fire!"}], "actions[0].template"),
        ([{"kind": "sop", "template": "a"}, {"kind": "sop", "template": "b"}], "one SOP"),
        ([{"kind": "notify", "channel": "webhook", "url": "ftp://x"}], "actions[0].url"),
    ],
)
async def test_bad_actions_are_refused(rh: RulesHub, actions: Any, says: str) -> None:
    r = await rh.client.post(RULES, json=rule(actions))
    assert says in assert_problem(r, "BadRequestData", 400)["detail"]
    assert (await rh.client.get(RULES)).json() == []
