"""SOP checklists with auth on, on both backends: a 119 event gets its checklist by itself
(nearest cameras, an agency inbox message, an SMS), operators tick steps off (and cannot tick
twice, nor on a closed event), templates are validated, overridden and restored, overdue steps
are listed, webhooks and the HTTP SMS gateway reach a real receiver, and every start and tick
is in the audit log."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from cityhub.errors import BadRequestData, ConfigError
from cityhub.ops.actions import check_action, format_text, sms_gateway
from cityhub.ops.sop_templates import BUILTIN_ORDER, builtins, check_template
from cityhub.settings import Settings
from tests.auth.test_access import Hub, _hub
from tests.http_receiver import Receiver
from tests.ngsild_api import assert_problem
from tests.ops.test_cctv import SCENE, _camera

pytestmark = pytest.mark.anyio
T = {"NGSILD-Tenant": "gwacheon"}
CAM1, CAM2 = "urn:ngsi-ld:CCTVCamera:gc-001", "urn:ngsi-ld:CCTVCamera:gc-002"
Users = dict[str, dict[str, str]]


async def _center(settings: Settings, **changes: Any) -> AsyncIterator[tuple[Hub, Users]]:
    async for hub in _hub(settings, outbound_allow="127.0.0.1", **changes):
        admin = await hub.login("admin", hub.admin_password)
        cameras = [
            _camera(1, SCENE[0] + 0.0004, SCENE[1], 270),  # ~35 m east, facing the scene
            _camera(2, SCENE[0] - 0.0002, SCENE[1], 270),  # ~18 m west, facing away
            _camera(3, SCENE[0] + 0.05, SCENE[1], 0),  # ~4.4 km away
        ]
        r = await hub.client.post(
            "/ngsi-ld/v1/entityOperations/upsert", json=cameras, headers=admin | T
        )
        assert r.status_code == 201, r.text
        users = {
            "operator": await hub.user("op-gc", {"role": "operator", "tenant": "gwacheon"}),
            "police": await hub.user("police112", {"role": "agency", "tenant": "gwacheon"}),
            "fire": await hub.user("fire119", {"role": "agency", "tenant": "gwacheon"}),
            "admin": admin,
        }
        yield hub, users


@pytest.fixture
async def center(settings: Settings) -> AsyncIterator[tuple[Hub, Users]]:
    """A hub (loopback allowed as an outbound target) with cameras around the scene, an
    operator and two agency accounts in tenant gwacheon."""
    async for found in _center(settings):
        yield found


async def _event(hub: Hub, who: dict[str, str], **fields: Any) -> str:
    body = {
        "eventCode": "FIRE0001",
        "eventName": "화재 감지",
        "severity": "high",
        "category": "fire",
        "place": "과천시 중앙동 1-3",
        "location": {"type": "Point", "coordinates": list(SCENE)},
    } | fields
    body = {k: v for k, v in body.items() if v is not None}
    r = await hub.client.post("/cityhub/v1/events", json=body, headers=who | T)
    assert r.status_code == 201, r.text
    event_id: str = r.json()["id"]
    return event_id


async def _sop(hub: Hub, who: dict[str, str], event_id: str) -> dict[str, Any]:
    """The event's checklist (NGSI-LD API) once its automatic steps have run."""
    deadline = time.monotonic() + 10
    while True:
        r = await hub.client.get(f"/ngsi-ld/v1/entities/{event_id}", headers=who | T)
        assert r.status_code == 200, r.text
        sop = r.json().get("sop")
        if sop is not None:
            assert sop["type"] == "Property"
            value: dict[str, Any] = sop["value"]
            if all(s["status"] != "pending" for s in value["steps"] if "auto" in s):
                return value
        assert time.monotonic() < deadline, f"no SOP on {event_id}: {r.text}"
        await asyncio.sleep(0.05)


async def _settled(hub: Hub, admin: dict[str, str]) -> None:
    """Wait until the sops consumer has handled the whole change log."""
    for _ in range(200):
        body = (await hub.client.get("/cityhub/v1/status", headers=admin)).json()
        if body["consumers"]["sops"]["behind"] == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the sops consumer is behind: {body}")


def _steps(sop: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in sop["steps"]}


async def test_a_119_event_gets_its_checklist_and_operators_tick_it_off(
    center: tuple[Hub, Users], settings: Settings
) -> None:
    hub, users = center
    c, op, fire, police = hub.client, users["operator"], users["fire"], users["police"]
    event_id = await _event(hub, op, linkedService="119-dispatch")
    sop = await _sop(hub, op, event_id)
    assert sop["template"] == "119-dispatch" and sop["startedBy"] == "system"
    steps = _steps(sop)
    cctv = steps["find-cctv"]
    assert cctv["status"] == "done" and cctv["by"] == "system"
    assert cctv["result"] == {"ok": True, "cameras": [CAM1, CAM2]}  # facing first, far one out
    # the SMS went through the default gateway: a line in data_dir/sms.jsonl
    assert steps["sms-duty"]["status"] == "done", steps["sms-duty"]
    lines = (Path(settings.data_dir) / "sms.jsonl").read_bytes().splitlines()
    sms = orjson.loads(lines[-1])
    assert sms["to"] == ["010-0000-0119"]
    assert "화재 감지" in sms["text"] and "과천시 중앙동 1-3" in sms["text"]
    assert "{" not in sms["text"]
    # the fire agency has a message in its inbox; the police does not see it
    assert steps["notify-fire"]["status"] == "done"
    r = await c.get("/cityhub/v1/inbox", headers=fire | T)
    assert r.status_code == 200, r.text
    (message,) = r.json()
    assert message["eventId"] == event_id and message["agency"] == "fire119"
    assert "화재 감지" in message["text"] and message["sentBy"] == "system"
    assert (await c.get("/cityhub/v1/inbox", headers=police | T)).json() == []
    r = await c.get("/cityhub/v1/inbox", params={"agency": "fire119"}, headers=police | T)
    assert_problem(r, "Forbidden", 403)
    r = await c.get("/cityhub/v1/inbox", params={"agency": "fire119"}, headers=op | T)
    assert [m["id"] for m in r.json()] == [message["id"]]
    # people's steps wait, with a time
    assert steps["share-video"]["status"] == "pending" and "dueAt" in steps["share-video"]
    tick = f"/cityhub/v1/events/{event_id}/sop/steps"
    r = await c.post(
        f"{tick}/share-video", json={"status": "done", "comment": "소방 공유 완료"}, headers=op | T
    )
    assert r.status_code == 200, r.text
    assert _steps(r.json())["share-video"]["by"] == "op-gc"
    r = await c.post(
        f"{tick}/check-route", json={"status": "skipped", "comment": "경로 단순"}, headers=op | T
    )
    assert r.status_code == 200, r.text
    # ... and it shows on the event in the NGSI-LD API
    entity = (await c.get(f"/ngsi-ld/v1/entities/{event_id}", headers=op | T)).json()
    steps = _steps(entity["sop"]["value"])
    assert steps["share-video"]["status"] == "done"
    assert steps["share-video"]["comment"] == "소방 공유 완료"
    assert steps["check-route"]["status"] == "skipped" and steps["check-route"]["by"] == "op-gc"
    # twice, unknown, malformed, not an operator
    r = await c.post(f"{tick}/share-video", json={"status": "skipped"}, headers=op | T)
    assert "already done" in assert_problem(r, "Conflict", 409)["detail"]
    assert_problem(
        await c.post(f"{tick}/no-such-step", json={"status": "done"}, headers=op | T),
        "ResourceNotFound",
        404,
    )
    r = await c.post(f"{tick}/track-arrival", json={"status": "maybe"}, headers=op | T)
    assert_problem(r, "BadRequestData", 400)
    r = await c.post(f"{tick}/track-arrival", json={"status": "done"}, headers=fire | T)
    assert_problem(r, "Forbidden", 403)
    # starting again is a conflict
    r = await c.post(f"/cityhub/v1/events/{event_id}/sop", headers=op | T)
    assert "already has the SOP" in assert_problem(r, "Conflict", 409)["detail"]
    # a cleared event's checklist cannot change
    r = await c.post(
        f"/cityhub/v1/events/{event_id}/transitions", json={"to": "cleared"}, headers=op | T
    )
    assert r.status_code == 200, r.text
    r = await c.post(f"{tick}/track-arrival", json={"status": "done"}, headers=op | T)
    assert "cleared" in assert_problem(r, "Conflict", 409)["detail"]
    # the audit log has the automatic start and both ticks
    entries = (
        await c.get("/cityhub/v1/audit", params={"action": "sop.*"}, headers=users["admin"])
    ).json()["entries"]
    ticks = [e for e in entries if e["action"] == "sop.step"]
    assert len(ticks) == 2 and all(e["actor"] == "op-gc" for e in ticks)
    assert {e["detail"]["step"] for e in ticks} == {"share-video", "check-route"}
    assert all(e["target"] == event_id and e["tenant"] == "gwacheon" for e in ticks)
    starts = [e for e in entries if e["action"] == "sop.start"]
    assert [(e["actor"], e["detail"]["template"]) for e in starts] == [("system", "119-dispatch")]


async def test_templates_are_validated_overridden_and_restored(
    center: tuple[Hub, Users],
) -> None:
    hub, users = center
    c, op = hub.client, users["operator"]
    found = (await c.get("/cityhub/v1/sops", headers=users["police"] | T)).json()
    assert [t["id"] for t in found] == list(BUILTIN_ORDER)
    assert all(t["builtin"] is True for t in found)
    step = {"id": "check", "title": "현장 확인", "role": "operator", "dueMinutes": 5}
    good = {"name": "화재 대응 (과천)", "match": {"categories": ["fire"]}, "steps": [step]}
    for bad, member in (
        (good | {"steps": [step, step | {"id": "x", "role": "chef"}]}, "steps[1].role"),
        (good | {"steps": [step, step]}, "steps[1].id"),
        (good | {"steps": [step | {"id": "Check!"}]}, "steps[0].id"),
        (good | {"steps": [step | {"auto": {"kind": "fax"}}]}, "steps[0].auto.kind"),
        (good | {"steps": [step | {"dueMinutes": -1}]}, "steps[0].dueMinutes"),
        (
            good | {"steps": [step | {"auto": {"kind": "sms", "to": ["x"], "text": "t"}}]},
            "steps[0].auto.to[0]",
        ),
        (good | {"match": {"types": ["x"]}}, "match"),
        (good | {"id": "flood"}, "differs"),
        ({"name": "x", "steps": []}, "steps"),
    ):
        r = await c.put("/cityhub/v1/sops/fire", json=bad, headers=op | T)
        assert member in assert_problem(r, "BadRequestData", 400)["detail"], (member, r.text)
    internal = step | {"auto": {"kind": "notify", "channel": "webhook", "url": "http://10.1.2.3/"}}
    r = await c.put("/cityhub/v1/sops/fire", json=good | {"steps": [internal]}, headers=op | T)
    assert "steps[0].auto.url" in assert_problem(r, "BadRequestData", 400)["detail"]
    r = await c.put("/cityhub/v1/sops/fire", json=good, headers=users["fire"] | T)
    assert_problem(r, "Forbidden", 403)
    # the tenant's own fire template replaces the built-in, also for new events
    r = await c.put("/cityhub/v1/sops/fire", json=good, headers=op | T)
    assert r.status_code == 201, r.text
    assert r.json()["builtin"] is False and r.json()["overridesBuiltin"] is True
    assert (await c.put("/cityhub/v1/sops/fire", json=good, headers=op | T)).status_code == 200
    fire = (await c.get("/cityhub/v1/sops/fire", headers=op | T)).json()
    assert fire["name"] == "화재 대응 (과천)" and fire["updatedBy"] == "op-gc"
    sop = await _sop(hub, op, await _event(hub, op))
    assert sop["template"] == "fire" and sop["name"] == "화재 대응 (과천)"
    assert [s["id"] for s in sop["steps"]] == ["check"]
    # another tenant still has the built-in
    other = (await c.get("/cityhub/v1/sops/fire", headers=users["admin"])).json()
    assert other["builtin"] is True
    # deleting the override restores the built-in; a built-in cannot be deleted
    assert (await c.delete("/cityhub/v1/sops/fire", headers=op | T)).status_code == 204
    fire = (await c.get("/cityhub/v1/sops/fire", headers=op | T)).json()
    assert fire["builtin"] is True and fire["name"] == "화재 대응"
    r = await c.delete("/cityhub/v1/sops/fire", headers=op | T)
    assert "built in" in assert_problem(r, "Conflict", 409)["detail"]
    assert_problem(
        await c.delete("/cityhub/v1/sops/no-such", headers=op | T), "ResourceNotFound", 404
    )
    assert_problem(await c.get("/cityhub/v1/sops/no-such", headers=op | T), "ResourceNotFound", 404)


async def test_manual_start_webhook_failures_and_overdue(center: tuple[Hub, Users]) -> None:
    hub, users = center
    c, op = hub.client, users["operator"]
    receiver = Receiver()
    await receiver.start()
    try:
        drill = {
            "name": "훈련",
            "steps": [
                {
                    "id": "hook",
                    "title": "상황 웹훅 통보",
                    "role": "system",
                    "auto": {"kind": "notify", "channel": "webhook", "url": receiver.url + "/in"},
                },
                {
                    "id": "find-cctv",
                    "title": "CCTV",
                    "role": "system",
                    "auto": {"kind": "nearestCctv"},
                },
                {"id": "call", "title": "현장 전화 확인", "role": "operator", "dueMinutes": 0.01},
                {"id": "report", "title": "보고", "role": "supervisor", "dueMinutes": 600},
            ],
        }
        r = await c.put("/cityhub/v1/sops/drill", json=drill, headers=op | T)
        assert r.status_code == 201, r.text
        # an event no template matches gets no checklist by itself
        event_id = await _event(
            hub, op, eventCode="DRILL01", eventName="훈련 상황", category="other", location=None
        )
        await _settled(hub, users["admin"])
        path = f"/cityhub/v1/events/{event_id}/sop"
        assert_problem(await c.get(path, headers=op | T), "ResourceNotFound", 404)
        r = await c.post(path, headers=op | T)
        assert "no SOP template matches" in assert_problem(r, "BadRequestData", 400)["detail"]
        r = await c.post(path, json={"template": "no-such"}, headers=op | T)
        assert_problem(r, "ResourceNotFound", 404)
        # started by name: the webhook gets the event, the camera search fails (no location)
        r = await c.post(path, json={"template": "drill"}, headers=op | T)
        assert r.status_code == 201, r.text
        steps = _steps(r.json())
        assert r.json()["startedBy"] == "op-gc"
        assert steps["hook"]["status"] == "done"
        assert steps["hook"]["result"] == {"ok": True, "status": 200}
        (sent,) = await receiver.wait_for(1)
        assert sent.method == "POST" and sent.path == "/in"
        assert sent.json()["id"] == event_id and sent.json()["eventCode"] == "DRILL01"
        assert steps["find-cctv"]["status"] == "failed"
        assert steps["find-cctv"]["result"]["ok"] is False
        assert "no location" in steps["find-cctv"]["result"]["error"]
        assert (await c.get(path, headers=users["police"] | T)).json()["template"] == "drill"
        assert_problem(
            await c.post(path, json={"template": "drill"}, headers=op | T), "Conflict", 409
        )
        # a failed automatic step may be done by hand
        r = await c.post(f"{path}/steps/find-cctv", json={"status": "done"}, headers=op | T)
        assert r.status_code == 200, r.text
        # the call is overdue after 0.6 s, the report is not
        await asyncio.sleep(0.8)
        late = (await c.get("/cityhub/v1/sops/overdue", headers=op | T)).json()
        assert [(e["eventId"], [s["id"] for s in e["steps"]]) for e in late] == [
            (event_id, ["call"])
        ]
        assert late[0]["template"] == "drill" and late[0]["steps"][0]["role"] == "operator"
        r = await c.post(f"{path}/steps/call", json={"status": "done"}, headers=op | T)
        assert r.status_code == 200, r.text
        assert (await c.get("/cityhub/v1/sops/overdue", headers=op | T)).json() == []
        entries = (
            await c.get("/cityhub/v1/audit", params={"action": "sop.start"}, headers=users["admin"])
        ).json()["entries"]
        assert [(e["actor"], e["target"], e["detail"]["failed"]) for e in entries] == [
            ("op-gc", event_id, ["find-cctv"])
        ]
    finally:
        await receiver.stop()


async def test_sms_through_an_http_gateway(settings: Settings) -> None:
    receiver = Receiver(statuses=deque([503]))
    await receiver.start()
    try:
        async for hub, users in _center(settings, sms_gateway=receiver.url + "/sms"):
            op = users["operator"]
            first = await _sop(hub, op, await _event(hub, op, linkedService="119-dispatch"))
            failed = _steps(first)["sms-duty"]
            assert failed["status"] == "failed" and "503" in failed["result"]["error"]
            second_id = await _event(hub, op, linkedService="119-dispatch", place="과천시 별양동")
            second = await _sop(hub, op, second_id)
            assert _steps(second)["sms-duty"]["status"] == "done"
            sent = await receiver.wait_for(2)
            assert [r.path for r in sent] == ["/sms", "/sms"]
            assert sent[1].json()["to"] == ["010-0000-0119"]
            assert "과천시 별양동" in sent[1].json()["text"]
            assert not (Path(settings.data_dir) / "sms.jsonl").exists()
    finally:
        await receiver.stop()


async def test_builtin_templates_and_actions_are_checked() -> None:
    assert list(builtins()) == list(BUILTIN_ORDER)
    for template in builtins().values():
        assert template["steps"] and template["match"], template["id"]
        assert check_template(template) == template
    assert format_text(
        "{eventName} @ {place} {unknown}", {"eventName": "화재", "place": "중앙동"}
    ) == ("화재 @ 중앙동 {unknown}")
    assert format_text("50% {oops", {}) == "50% {oops"
    assert format_text("{eventName.__class__} {eventName[0]}", {"eventName": "x"}) == (
        "{eventName.__class__} {eventName[0]}"
    )
    assert format_text("{severity:>6}|{{literal}}", {"severity": "high"}) == "  high|{literal}"
    with pytest.raises(BadRequestData, match=r"auto\.maxDistance"):
        check_action({"kind": "nearestCctv", "maxDistance": 0}, "auto")
    with pytest.raises(BadRequestData, match=r"an agency \(inbox\) or a webhook url"):
        check_action({"kind": "notify", "agency": "fire119", "url": "https://x"}, "auto")
    with pytest.raises(ConfigError, match="sms_gateway"):
        sms_gateway(Settings(sms_gateway="carrier-pigeon"))
