"""Forwarding events to an external integrated platform (the simulator, over real HTTP), on
both backends: every new event and status change arrives in order in the message form, after a
session handshake; a platform that is down holds the queue until it is back; a platform that
refuses a message keeps it as dead without holding the rest; events received from a platform
are not echoed back."""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import uvicorn

from cityhub.ops.forward import Forwarder
from cityhub.settings import Settings
from cityhub.sim.agencies import PlatformLog, platform_app
from tests.auth.test_access import Hub, _hub
from tests.test_cli import free_port

pytestmark = pytest.mark.anyio


class Platform:
    """The platform simulator served by uvicorn on a free port, in a thread."""

    def __init__(self, log: PlatformLog) -> None:
        self.log = log
        self.url = f"http://127.0.0.1:{free_port()}"
        config = uvicorn.Config(
            platform_app(log), port=int(self.url.rsplit(":", 1)[1]), log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.server.started

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def platform() -> Iterator[Platform]:
    """An external platform accepting apiKey 'from-cityhub'."""
    p = Platform(PlatformLog(api_key="from-cityhub"))
    yield p
    p.stop()


@pytest.fixture
async def hub(settings: Settings, platform: Platform) -> AsyncIterator[Hub]:
    """A hub forwarding to the platform."""
    async for found in _hub(
        settings,
        forward_url=platform.url,
        forward_api_key="from-cityhub",
        forward_send_code="B4129000000",
        notify_backoff_max=1.0,
    ):
        yield found


async def until(check: Callable[[], Any], within_s: float = 15.0) -> None:
    """Poll ``check`` (a function or coroutine function) until it is true, for ``within_s``."""
    for _ in range(int(within_s / 0.05)):
        found = check()
        if await found if inspect.isawaitable(found) else found:
            return
        await asyncio.sleep(0.05)


async def _received(platform: Platform, count: int) -> list[Any]:
    await until(lambda: len(platform.log.events) >= count)
    return platform.log.events


async def _raise(hub: Hub, headers: dict[str, str], code: str = "FIRE01") -> str:
    body = {
        "eventCode": code,
        "eventName": "상가 화재",
        "severity": "critical",
        "place": "과천시 중앙동 1",
        "location": {"type": "Point", "coordinates": [126.9876, 37.4292]},
    }
    r = await hub.client.post("/cityhub/v1/events", json=body, headers=headers)
    assert r.status_code == 201, r.text
    event_id: str = r.json()["id"]
    return event_id


async def test_events_arrive_in_order(hub: Hub, platform: Platform) -> None:
    admin = await hub.login("admin", hub.admin_password)
    event_id = await _raise(hub, admin)
    r = await hub.client.post(
        f"/cityhub/v1/events/{event_id}/transitions",
        json={"to": "cleared", "reason": "진화 완료"},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    got = await _received(platform, 2)
    assert [m["body"]["ocrEvtSts"]["ocrEvtStsCd"] for m in got] == ["10", "50"]
    first = got[0]
    assert first["header"]["svcTy"] == "EVENT" and first["header"]["sendCd"] == "B4129000000"
    assert first["header"]["rrKey"] in platform.log.sessions
    assert first["body"]["evtId"] == "FIRE01" and first["body"]["evtGrad"] == "1"
    assert first["body"]["ocrLc"] == {"crdntX": 126.9876, "crdntY": 37.4292, "crdntZ": 0}
    assert len(first["body"]["ocrEvtTime"]) == 14 and first["body"]["ocrPlc"] == "과천시 중앙동 1"
    assert got[1]["body"]["ocrEvtSts"]["ocrEvtStsDtl"] == "진화 완료"
    assert got[1]["body"]["ocrEvtStsUsr"]["ocrEvtUsrId"] == "admin"


async def test_down_platform_holds_the_queue(hub: Hub, platform: Platform) -> None:
    platform.log.mode = "fail"
    admin = await hub.login("admin", hub.admin_password)
    await _raise(hub, admin, "A1")
    await _raise(hub, admin, "A2")
    await until(lambda: platform.log.attempts >= 2, 10)
    assert platform.log.attempts >= 2 and platform.log.events == []
    platform.log.mode = "accept"
    got = await _received(platform, 2)
    assert [m["body"]["evtId"] for m in got] == ["A1", "A2"]


async def test_refused_message_goes_dead(hub: Hub, platform: Platform) -> None:
    platform.log.mode = "refuse"
    admin = await hub.login("admin", hub.admin_password)
    await _raise(hub, admin, "BAD")
    forwarder: Forwarder = hub.client._transport.app.state.hub.extras["forward"]  # type: ignore[attr-defined]
    await until(forwarder.dead, 20)
    dead = await forwarder.dead()
    assert len(dead) == 1 and dead[0]["attempts"] == 3 and "refused" in dead[0]["lastError"]
    platform.log.mode = "accept"
    await _raise(hub, admin, "GOOD")
    got = await _received(platform, 1)
    assert [m["body"]["evtId"] for m in got] == ["GOOD"]


async def test_received_events_are_not_echoed(hub: Hub, platform: Platform) -> None:
    admin = await hub.login("admin", hub.admin_password)
    key = await hub.client.post("/cityhub/v1/apikeys", json={"label": "sender"}, headers=admin)
    auth = await hub.client.post(
        "/api/getAuth.json",
        json={"header": {"svcTy": "AUTH"}, "body": {"apiKey": key.json()["key"]}},
    )
    msg = {
        "header": {"svcTy": "EVENT", "sendCd": "B4113000000", "encAt": "N"},
        "body": {"evtId": "MOJUC110", "evtNm": "수신 이벤트", "ocrNbr": "20261130101010123"},
    }
    r = await hub.client.post(
        "/linkHttp/recvEvent.json",
        json=msg,
        headers={"X-Scsns-Secret": auth.json()["message"]},
    )
    assert r.json()["result"] == "0", r.text
    await _raise(hub, admin, "OWN")
    got = await _received(platform, 1)
    await asyncio.sleep(0.5)
    assert [m["body"]["evtId"] for m in got] == ["OWN"]
