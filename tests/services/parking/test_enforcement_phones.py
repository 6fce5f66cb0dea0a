"""The opt-in registry of phones for pre-notices, with auth on, on both backends: drivers
(citizen accounts) register and withdraw their own plates with consent, numbers never leave
the hub whole (answers, lists, audit log), the center's staff see every registration masked;
who may send sightings and read cases."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from cityhub.settings import Settings
from tests.auth.test_access import Hub, _hub
from tests.ngsild_api import assert_problem
from tests.services.parking.test_enforcement import (
    IN_A,
    E,
    T,
    Users,
    center,
    seen,
    setup,
    sight,
    sms,
)

pytestmark = pytest.mark.anyio
P = f"{E}/phones"
__all__ = ["center"]  # the fixture, shared


async def _post(hub: Hub, who: dict[str, str], body: Any) -> Any:
    return await hub.client.post(P, json=body, headers=who | T)


async def test_drivers_opt_in_and_out_of_their_own_plates(
    center: tuple[Hub, Users], settings: Settings
) -> None:
    hub, users = center
    kim, lee, officer = users["kim"], users["lee"], users["officer"]
    r = await _post(hub, kim, {"plate": "12가3456", "phone": "010-1234-5678", "consent": True})
    assert r.status_code == 201, r.text
    assert r.json() | {"registeredAt": None} == {
        "plate": "12가3456",
        "phone": "010-****-5678",
        "registeredBy": "kim",
        "registeredAt": None,
    }
    # a new number for the same plate: changed (200)
    r = await _post(hub, kim, {"plate": "12 가 3456", "phone": "010 9876 5432", "consent": True})
    assert r.status_code == 200 and r.json()["phone"] == "010-****-5432"
    # another driver cannot take the plate over; the city can
    r = await _post(hub, lee, {"plate": "12가3456", "phone": "010-5555-6666", "consent": True})
    assert "registered by another account" in assert_problem(r, "Conflict", 409)["detail"]
    r = await _post(hub, lee, {"plate": "34나5678", "phone": "01055556666", "consent": True})
    assert r.status_code == 201
    # each driver sees their own; the staff see all; numbers masked everywhere
    mine = (await hub.client.get(P, headers=kim | T)).json()
    assert [(p["plate"], p["phone"]) for p in mine] == [("12가3456", "010-****-5432")]
    assert [p["plate"] for p in (await hub.client.get(P, headers=lee | T)).json()] == ["34나5678"]
    every = await hub.client.get(P, headers=officer | T)
    assert [(p["plate"], p["phone"]) for p in every.json()] == [
        ("12가3456", "010-****-5432"),
        ("34나5678", "010-****-6666"),
    ]
    one = await hub.client.get(P, params={"plate": "34나5678"}, headers=officer | T)
    assert [p["registeredBy"] for p in one.json()] == ["lee"]
    # opting out: one's own only (someone else's plate is not found)
    r = await hub.client.delete(f"{P}/12가3456", headers=lee | T)
    assert_problem(r, "ResourceNotFound", 404)
    assert (await hub.client.delete(f"{P}/12가3456", headers=kim | T)).status_code == 204
    assert (await hub.client.get(P, headers=kim | T)).json() == []
    # the plate's next first sighting: no phone, no message
    found = await sight(hub, officer, seen("12가3456", "10:00:00", IN_A))
    assert found["notice"] == {"status": "noPhone"} and sms(settings) == []
    # audited, without the number
    r = await hub.client.get(
        "/cityhub/v1/audit", params={"action": "parking.phone"}, headers=users["admin"]
    )
    entries = r.json()["entries"]
    shown = sorted((e["actor"], e["target"], e["detail"]["op"]) for e in entries)
    assert shown == [
        ("kim", "12가3456", "optIn"),
        ("kim", "12가3456", "optIn"),
        ("kim", "12가3456", "optOut"),
        ("lee", "34나5678", "optIn"),
    ]
    text = orjson.dumps(entries).decode()
    assert not {"1234-5678", "9876-5432", "5555-6666", "01055556666"} & {
        n for n in ("1234-5678", "9876-5432", "5555-6666", "01055556666") if n in text
    }
    assert {e["detail"]["phone"] for e in entries} == {
        "010-****-5678",
        "010-****-5432",
        "010-****-6666",
    }


async def test_registrations_need_consent_and_a_mobile_number(center: tuple[Hub, Users]) -> None:
    hub, users = center
    kim = users["kim"]
    good = {"plate": "12가3456", "phone": "010-1234-5678", "consent": True}
    for body, message in (
        (good | {"consent": False}, "consent must be true"),
        ({k: v for k, v in good.items() if k != "consent"}, "consent must be true"),
        (good | {"consent": "yes"}, "consent must be true"),
        (good | {"phone": "02-503-1234"}, "phone must be a Korean mobile number"),
        (good | {"phone": 1012345678}, "phone must be a mobile number"),
        (good | {"plate": "X"}, "plate must be a number plate like 12가3456"),
        (good | {"name": "김과천"}, "unknown members: name"),
        ([good], 'the body is {"plate", "phone", "consent": true}'),
    ):
        r = await _post(hub, kim, body)
        assert message in assert_problem(r, "BadRequestData", 400)["detail"], body
    assert (await hub.client.get(P, headers=kim | T)).json() == []


async def test_who_may_do_what(center: tuple[Hub, Users]) -> None:
    hub, users = center
    c, kim, fire, officer = hub.client, users["kim"], users["fire"], users["officer"]
    body = seen("12가3456", "10:00:00", IN_A)
    # drivers neither send sightings nor read cases, statistics or zones
    for method, path in (
        ("POST", f"{E}/sightings"),
        ("GET", f"{E}/cases"),
        ("GET", f"{E}/stats"),
        ("GET", f"{E}/zones?lon=126.99&lat=37.43"),
    ):
        r = await c.request(method, path, json=body if method == "POST" else None, headers=kim | T)
        assert_problem(r, "Forbidden", 403)
    # an agency reads cases (events:read) but sends no sightings (events:write)
    assert_problem(await c.post(f"{E}/sightings", json=body, headers=fire | T), "Forbidden", 403)
    await sight(hub, officer, body)
    r = await c.get(f"{E}/cases", headers=fire | T)
    assert r.status_code == 200 and [x["plate"] for x in r.json()] == ["12가3456"]
    # not in another tenant
    r = await c.get(f"{E}/cases", headers=officer | {"NGSILD-Tenant": "seoul"})
    assert_problem(r, "Forbidden", 403)
    # nothing without a login (the client's session cookie from the logins dropped)
    c.cookies.clear()
    assert_problem(await c.get(P, headers=T), "Unauthenticated", 401)


async def test_no_lot_named_when_none_is_free_within_reach(settings: Settings) -> None:
    async for hub in _hub(settings, parking_notice_lot_m=100.0):
        users = await setup(hub)
        body = {"plate": "12가3456", "phone": "010-1234-5678", "consent": True}
        assert (await _post(hub, users["kim"], body)).status_code == 201
        found = await sight(hub, users["officer"], seen("12가3456", "10:00:00", IN_A))
        assert found["notice"]["status"] == "sent" and found["notice"]["lot"] is None
        [message] = sms(settings)
        assert message["text"].endswith("과태료 40,000원이 부과됩니다.")
