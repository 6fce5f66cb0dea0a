"""The integrated platform's interworking endpoints, as an existing sender uses them (auth on,
both backends): AUTH with an API key, then EVENT messages landing as CityEvents."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from cityhub.settings import Settings
from tests.auth.test_access import Hub, _hub

pytestmark = pytest.mark.anyio
SENDER = "B4113000000"  # 과천시


def _header(kind: str, **more: Any) -> dict[str, Any]:
    return {
        "svcTy": kind,
        "hdCnt": 1,
        "dtCnt": 1,
        "sendCd": SENDER,
        "rcvCd": "B4100000000",
        "encAt": "N",
        "tranTy": "HTTP",
        "reqDate": "20261130091500",
        "sysCd": "DHB",
    } | more


def _event(status: str, **more: Any) -> dict[str, Any]:
    return {
        "evtId": "MOJUC110",
        "evtNm": "침수 감지",
        "evtGrad": "2",
        "ocrNbr": "20261130091500123",
        "ocrLc": {"crdntX": "126.9876", "crdntY": "37.4292", "crdntZ": "0"},
        "ocrPlc": "과천시 중앙동 하천변",
        "ocrEvtCn": "수위 센서 경보",
        "ocrEvtTime": "20261130091500",
        "ocrEvtSts": {"ocrEvtStsCd": status, "ocrEvtStsDtl": f"상태 {status}"},
        "ocrEvtItem": [{"key": "level", "val": "3.2"}],
    } | more


@pytest.fixture
async def sender(settings: Settings) -> AsyncIterator[tuple[Hub, str]]:
    """A hub with auth on and an API key for the sending system."""
    async for hub in _hub(settings):
        admin = await hub.login("admin", hub.admin_password)
        r = await hub.client.post("/cityhub/v1/apikeys", json={"label": "data hub"}, headers=admin)
        yield hub, r.json()["key"]


async def _session(hub: Hub, key: str) -> str:
    r = await hub.client.post(
        "/api/getAuth.json", json={"header": _header("AUTH"), "body": {"apiKey": key}}
    )
    assert r.status_code == 200 and r.json()["result"] == "0", r.text
    session: str = r.json()["message"]
    return session


async def test_auth_then_events(sender: tuple[Hub, str]) -> None:
    hub, key = sender
    session = await _session(hub, key)
    msg = {"header": _header("EVENT", rrKey=session), "body": _event("10")}
    r = await hub.client.post(
        "/linkHttp/recvEvent.json", json=msg, headers={"X-Scsns-Secret": session}
    )
    assert r.json() == {
        "result": "0",
        "message": f"urn:ngsi-ld:CityEvent:{SENDER}:20261130091500123",
    }
    admin = await hub.login("admin", hub.admin_password)
    event = (
        await hub.client.get(f"/cityhub/v1/events/{r.json()['message']}", headers=admin)
    ).json()
    assert event["eventCode"] == "MOJUC110" and event["status"] == "occurred"
    assert event["severity"] == "high" and event["eventGrade"] == "2"
    assert event["location"]["coordinates"] == [126.9876, 37.4292]
    assert event["eventItems"] == [{"key": "level", "val": "3.2"}]
    # 40: information updated; 50: cleared
    update = _event("40", ocrEvtCn="수위 3.5m")
    r = await hub.client.post(
        "/linkHttp/recvEvent.json",
        json={"header": _header("EVENT"), "body": update},
        headers={"X-Scsns-Secret": session},
    )
    assert r.json()["result"] == "0"
    r = await hub.client.post(
        "/linkHttp/recvEvent.json",
        json={"header": _header("EVENT"), "body": _event("50")},
        headers={"X-Scsns-Secret": session},
    )
    assert r.json()["result"] == "0", r.text
    event = (
        await hub.client.get(f"/cityhub/v1/events/{r.json()['message']}", headers=admin)
    ).json()
    assert event["status"] == "cleared" and event["description"] == "수위 3.5m"
    # a closed event does not move any more
    r = await hub.client.post(
        "/linkHttp/recvEvent.json",
        json={"header": _header("EVENT"), "body": _event("90")},
        headers={"X-Scsns-Secret": session},
    )
    assert r.json()["result"] == "1" and "cannot change any more" in r.json()["message"]


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"session": "nope"}, "no valid session key"),
        ({"header": {"encAt": "Y"}}, "ARIA-256"),
        ({"header": {"svcTy": "PUSH"}}, "svcTy must be EVENT or PREEVT"),
        ({"body": {"ocrLc": {"crdntX": "east"}}}, "numeric crdntX"),
        ({"body": {"ocrEvtSts": {"ocrEvtStsCd": "77"}}}, "ocrEvtStsCd must be one of"),
    ],
)
async def test_refusals_say_why(sender: tuple[Hub, str], change: dict[str, Any], says: str) -> None:
    hub, key = sender
    session = change.get("session") or await _session(hub, key)
    msg = {
        "header": _header("EVENT") | change.get("header", {}),
        "body": _event("10") | change.get("body", {}),
    }
    r = await hub.client.post(
        "/linkHttp/recvEvent.json", json=msg, headers={"X-Scsns-Secret": session}
    )
    assert r.status_code == 200 and r.json()["result"] == "1"
    assert says in r.json()["message"], r.json()


async def test_auth_refusals_and_session_is_no_api_token(sender: tuple[Hub, str]) -> None:
    hub, key = sender
    r = await hub.client.post(
        "/api/getAuth.json", json={"header": _header("AUTH"), "body": {"apiKey": "made-up"}}
    )
    assert r.json() == {"result": "1", "message": "unknown or revoked apiKey"}
    r = await hub.client.post("/api/getAuth.json", content=b"not json")
    assert r.json()["result"] == "1"
    session = await _session(hub, key)
    r = await hub.client.get(
        "/ngsi-ld/v1/entities",
        params={"type": "CityEvent"},
        headers={"Authorization": f"Bearer {session}"},
    )
    assert r.status_code == 401  # a session key opens the interworking door only
