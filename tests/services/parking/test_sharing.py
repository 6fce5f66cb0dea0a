"""Shared parking through the public API, on both backends: a Bucheon resident offers their
villa spot for a working day, drivers find it and book it (fees by the tariff, 10-minute
units), 20 drivers racing for the same hours get one booking and 19 conflicts, cancellations
free the slots (late ones cost the cancellation fee), the spot's sensor checks bookings in and
out and reveals unauthorized use, and owners and drivers touch only their own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from cityhub.services.parking import sharing
from cityhub.settings import Settings
from cityhub.storage.plain import PlainSql
from tests.auth.test_access import _hub
from tests.ngsild_api import assert_problem, entity_url
from tests.services.parking.parking_support import (
    BUCHEON,
    ENTITIES,
    PARKING,
    iso,
    point,
    prop,
    running,
    settle,
    tomorrow_at,
)

pytestmark = pytest.mark.anyio
OFFERS, BOOKINGS = f"{PARKING}/shared/offers", f"{PARKING}/shared/bookings"
SPOT = "urn:ngsi-ld:ParkingSpot:bucheon-sangdong-villa-07"
SPOT_2 = "urn:ngsi-ld:ParkingSpot:bucheon-sangdong-villa-08"
VILLA = (126.7530, 37.5030)
TARIFF = {"perHour": 1200, "minimumMinutes": 30, "cancelFee": 500}


@pytest.fixture
async def hub(settings: Settings) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    """A running hub (auth off) with two resident spots of a Bucheon villa."""
    async for app, client in running(settings):
        for n, spot_id in enumerate((SPOT, SPOT_2)):
            body = {
                "id": spot_id,
                "type": "ParkingSpot",
                "name": prop(f"상동 그린빌라 {7 + n}번 주차면"),
                "status": prop("free"),
                "location": point(VILLA[0] + n * 0.00003, VILLA[1]),
            }
            r = await client.post(ENTITIES, json=body, headers=BUCHEON)
            assert r.status_code == 201, r.text
        await settle(app)
        yield app, client


async def _offer(
    client: httpx.AsyncClient, headers: dict[str, str] | None = None, **body: Any
) -> dict[str, Any]:
    payload = {
        "spotId": SPOT,
        "from": tomorrow_at(9).isoformat(),
        "to": tomorrow_at(18).isoformat(),
        "tariff": TARIFF,
    } | body
    r = await client.post(OFFERS, json=payload, headers=BUCHEON | (headers or {}))
    assert r.status_code == 201, r.text
    found: dict[str, Any] = r.json()
    return found


async def _book(
    client: httpx.AsyncClient,
    offer: str,
    start: datetime,
    end: datetime,
    plate: str = "12가3456",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    body = {"offerId": offer, "from": start.isoformat(), "to": end.isoformat(), "plate": plate}
    return await client.post(BOOKINGS, json=body, headers=BUCHEON | (headers or {}))


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_publish_search_book_and_cancel(hub: tuple[Starlette, httpx.AsyncClient]) -> None:
    _, client = hub
    offer = await _offer(client)
    assert offer["spotId"] == SPOT and offer["name"] == "상동 그린빌라 7번 주차면"
    assert offer["location"] == {"type": "Point", "coordinates": list(VILLA)}
    assert _at(offer["from"]) == tomorrow_at(9) and _at(offer["to"]) == tomorrow_at(18)
    assert offer["owner"] == "system" and offer["status"] == "open"  # auth off: "system"
    assert offer["tariff"] == TARIFF | {"freeCancelMinutes": 30}
    # one spot, one open offer at a time
    r = await client.post(
        OFFERS,
        json={
            "spotId": SPOT,
            "from": tomorrow_at(17).isoformat(),
            "to": tomorrow_at(20).isoformat(),
            "tariff": TARIFF,
        },
        headers=BUCHEON,
    )
    assert "already offered" in assert_problem(r, "Conflict", 409)["detail"]
    # a shop's lot 3 km away, offered by name and place
    far = await _offer(
        client,
        spotId=None,
        name="송내동 상가 주차장 3번",
        location={"type": "Point", "coordinates": [126.7780, 37.4870]},
    )

    async def search(**params: Any) -> list[dict[str, Any]]:
        r = await client.get(OFFERS, params=params, headers=BUCHEON)
        assert r.status_code == 200, r.text
        found: list[dict[str, Any]] = r.json()
        return found

    near = {"lon": VILLA[0] + 0.001, "lat": VILLA[1], "maxDistance": 1000}
    window = {"from": tomorrow_at(10).isoformat(), "to": tomorrow_at(12).isoformat()}
    [found] = await search(**near, **window)
    assert found["id"] == offer["id"] and 80 < found["distance"] < 100
    assert found["fee"] == 2400 and found["booked"] == []
    assert {o["id"] for o in await search()} == {offer["id"], far["id"]}
    late = {"from": tomorrow_at(19).isoformat(), "to": tomorrow_at(20).isoformat()}
    assert await search(**near, **late) == []  # outside the offered hours

    # 10:00-12:00 at 1,200 won an hour
    r = await _book(client, offer["id"], tomorrow_at(10), tomorrow_at(12))
    assert r.status_code == 201, r.text
    first = r.json()
    assert r.headers["location"] == f"{BOOKINGS}/{first['id']}"
    assert (first["fee"], first["currency"], first["status"]) == (2400, "KRW", "booked")
    assert first["plate"] == "12가3456" and first["driver"] == "system"
    # overlapping: refused; next to it: fine
    r = await _book(client, offer["id"], tomorrow_at(11), tomorrow_at(13))
    assert "booked from" in assert_problem(r, "Conflict", 409)["detail"]
    r = await _book(client, offer["id"], tomorrow_at(12), tomorrow_at(12, 10), plate="34나5678")
    assert r.status_code == 201 and r.json()["fee"] == 600  # 10 minutes, but 30 at least
    # odd times hold whole 10-minute slots: 12:15-12:35 holds 12:10-12:40
    r = await _book(client, offer["id"], tomorrow_at(12, 15), tomorrow_at(12, 35), plate="34나5678")
    assert r.status_code == 201, r.text
    odd = r.json()
    assert (_at(odd["from"]), _at(odd["to"])) == (tomorrow_at(12, 10), tomorrow_at(12, 40))
    assert odd["fee"] == 600
    r = await _book(client, offer["id"], tomorrow_at(14), tomorrow_at(14, 50), plate="56다7890")
    assert r.json()["fee"] == 1000  # 50 minutes: 5 units of 200 won
    r = await _book(client, offer["id"], tomorrow_at(17), tomorrow_at(19))
    assert "must fit" in assert_problem(r, "Conflict", 409)["detail"]

    # what the search and the offer show now
    assert (
        await search(
            **near, **{"from": tomorrow_at(10, 30).isoformat(), "to": tomorrow_at(11).isoformat()}
        )
        == []
    )
    [free] = await search(
        **near, **{"from": tomorrow_at(15).isoformat(), "to": tomorrow_at(16).isoformat()}
    )
    assert free["fee"] == 1200 and len(free["booked"]) == 4
    shown = (await client.get(f"{OFFERS}/{offer['id']}", headers=BUCHEON)).json()
    assert (_at(shown["booked"][0]["from"]), _at(shown["booked"][0]["to"])) == (
        tomorrow_at(10),
        tomorrow_at(12),
    )
    assert "plate" not in str(shown["booked"])  # drivers' plates are not for every searcher

    # cancelled well ahead: free of charge, and the hours are free again
    r = await client.delete(f"{BOOKINGS}/{first['id']}", headers=BUCHEON)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["fee"]) == ("cancelled", 0)
    assert r.json()["cancelledAt"]
    assert_problem(
        await client.delete(f"{BOOKINGS}/{first['id']}", headers=BUCHEON), "Conflict", 409
    )
    r = await _book(client, offer["id"], tomorrow_at(10), tomorrow_at(11), plate="78라9012")
    assert r.status_code == 201, r.text
    mine = (await client.get(BOOKINGS, headers=BUCHEON)).json()
    assert len(mine) == 5 and {b["status"] for b in mine} == {"booked", "cancelled"}
    # the owner cannot withdraw an offer with bookings to come; the shop can
    r = await client.delete(f"{OFFERS}/{offer['id']}", headers=BUCHEON)
    assert "booking(s) to come" in assert_problem(r, "Conflict", 409)["detail"]
    r = await client.delete(f"{OFFERS}/{far['id']}", headers=BUCHEON)
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    assert far["id"] not in {o["id"] for o in await search()}
    r = await _book(client, far["id"], tomorrow_at(10), tomorrow_at(11))
    assert "withdrawn" in assert_problem(r, "Conflict", 409)["detail"]


async def test_twenty_drivers_racing_for_one_spot(hub: tuple[Starlette, httpx.AsyncClient]) -> None:
    app, client = hub
    offer = await _offer(client)
    # every request overlaps every other (all hold 10:40-12:00), sent at once
    requests = [
        _book(
            client,
            offer["id"],
            tomorrow_at(9) + timedelta(minutes=20 * (i % 6)),
            tomorrow_at(12) + timedelta(minutes=20 * (i % 5)),
            plate=f"{10 + i}가{1000 + i}",
        )
        for i in range(20)
    ]
    answers = await asyncio.gather(*requests)
    assert sorted(r.status_code for r in answers) == [201] + [409] * 19, [r.text for r in answers]
    for r in answers:
        if r.status_code == 409:
            assert_problem(r, "Conflict", 409)
    [winner] = [r.json() for r in answers if r.status_code == 201]
    live = [
        b
        for b in (await client.get(BOOKINGS, headers=BUCHEON)).json()
        if b["status"] != "cancelled"
    ]
    assert [b["id"] for b in live] == [winner["id"]]
    # the database holds exactly the winner's slots
    db = PlainSql(app.state.hub.storage)
    rows = await db.rows(
        "SELECT booking_id, count(*) FROM parking_booking_slots GROUP BY booking_id"
    )
    held = (_at(winner["to"]) - _at(winner["from"])) // timedelta(minutes=10)
    assert [tuple(r) for r in rows] == [(winner["id"], held)]

    # bookings of separate hours, also at once, all succeed: the lock refuses only overlaps
    hours = [14, 15, 16, 17]  # the winner's hours end by 13:20
    answers = await asyncio.gather(
        *(
            _book(client, offer["id"], tomorrow_at(h), tomorrow_at(h, 50), plate=f"{h}허1234")
            for h in hours
        )
    )
    assert [r.status_code for r in answers] == [201] * len(hours), [r.text for r in answers]


async def test_sensors_check_in_and_out_and_reveal_unauthorized_use(
    hub: tuple[Starlette, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, client = hub
    now = datetime.now(UTC)
    offer = await _offer(
        client,
        **{
            "from": (now - timedelta(hours=1)).isoformat(),
            "to": (now + timedelta(hours=4)).isoformat(),
        },
    )
    r = await _book(client, offer["id"], now, now + timedelta(hours=1))
    assert r.status_code == 201, r.text
    booking = r.json()

    async def sensor(spot: str, status: str, at: datetime) -> None:
        body = {"status": prop(status, iso(at))}
        r = await client.patch(f"{entity_url(spot)}/attrs", json=body, headers=BUCHEON)
        assert r.status_code == 204, r.text
        await settle(app)

    async def booking_now() -> dict[str, Any]:
        r = await client.get(f"{BOOKINGS}/{booking['id']}", headers=BUCHEON)
        assert r.status_code == 200, r.text
        found: dict[str, Any] = r.json()
        return found

    async def unauthorized() -> list[dict[str, Any]]:
        r = await client.get(f"{PARKING}/shared/unauthorized", headers=BUCHEON)
        assert r.status_code == 200, r.text
        found: list[dict[str, Any]] = r.json()
        return found

    assert await unauthorized() == []
    arrived = now + timedelta(minutes=2)
    await sensor(SPOT, "occupied", arrived)
    checked = await booking_now()
    assert checked["status"] == "active" and _at(checked["checkedInAt"]) == arrived
    assert await unauthorized() == []
    # checked in: it cannot be cancelled any more
    r = await client.delete(f"{BOOKINGS}/{booking['id']}", headers=BUCHEON)
    assert "active" in assert_problem(r, "Conflict", 409)["detail"]
    # still there 90 minutes on: an overstay
    later = sharing.now_us() + 90 * 60_000_000
    monkeypatch.setattr(sharing, "now_us", lambda: later)
    [over] = await unauthorized()
    assert (over["spotId"], over["reason"], over["bookingId"]) == (SPOT, "overstay", booking["id"])
    monkeypatch.undo()
    left = now + timedelta(minutes=50)
    await sensor(SPOT, "free", left)
    done = await booking_now()
    assert done["status"] == "completed" and _at(done["checkedOutAt"]) == left
    # another car takes the spot with no booking
    await sensor(SPOT, "occupied", now + timedelta(minutes=55))
    [intruder] = await unauthorized()
    assert intruder["spotId"] == SPOT and intruder["offerId"] == offer["id"]
    assert intruder["reason"] == "noBooking" and intruder["bookingId"] is None
    assert _at(intruder["since"]) == now + timedelta(minutes=55)
    assert (await booking_now())["status"] == "completed"  # a replay changes nothing

    # a late cancellation (the booking starts within 30 minutes) costs the cancellation fee
    since = now - timedelta(minutes=30)
    other = await _offer(
        client,
        spotId=SPOT_2,
        **{"from": since.isoformat(), "to": (now + timedelta(hours=3)).isoformat()},
    )
    r = await _book(client, other["id"], now + timedelta(minutes=20), now + timedelta(hours=1))
    r = await client.delete(f"{BOOKINGS}/{r.json()['id']}", headers=BUCHEON)
    assert (r.json()["status"], r.json()["fee"]) == ("cancelled", 500)
    # SPOT_2 is occupied by someone; its offer is open and unbooked
    await sensor(SPOT_2, "occupied", now + timedelta(minutes=1))
    assert {u["spotId"] for u in await unauthorized()} == {SPOT, SPOT_2}


async def test_bad_offers_and_bookings(hub: tuple[Starlette, httpx.AsyncClient]) -> None:
    _, client = hub
    good = {
        "spotId": SPOT,
        "from": tomorrow_at(9).isoformat(),
        "to": tomorrow_at(18).isoformat(),
        "tariff": TARIFF,
    }
    yesterday = (tomorrow_at(9) - timedelta(days=2)).isoformat()
    for bad in (
        {"tariff": None},
        {"tariff": {"perHour": -1}},
        {"tariff": {"perHour": 1.5}},
        {"tariff": {"perHour": 1000, "discount": 10}},
        {"from": "tomorrow"},
        {"to": tomorrow_at(9, 5).isoformat()},  # not one whole 10-minute slot
        {"from": yesterday, "to": (tomorrow_at(9) - timedelta(days=1, hours=20)).isoformat()},
        {"spotId": "urn:ngsi-ld:ParkingSpot:nowhere"},
        {"spotId": None},  # then a name and a location are needed
        {"colour": "blue"},
    ):
        body = {k: v for k, v in (good | bad).items() if v is not None}
        r = await client.post(OFFERS, json=body, headers=BUCHEON)
        assert_problem(r, "BadRequestData", 400)
    offer = await _offer(client)
    for bad in (
        {"plate": ""},
        {"plate": "x" * 30},
        {"from": tomorrow_at(12).isoformat(), "to": tomorrow_at(11).isoformat()},
        {"seat": 2},
    ):
        body = {
            "offerId": offer["id"],
            "from": tomorrow_at(10).isoformat(),
            "to": tomorrow_at(11).isoformat(),
            "plate": "12가3456",
        } | bad
        assert_problem(
            await client.post(BOOKINGS, json=body, headers=BUCHEON), "BadRequestData", 400
        )
    for unknown in ("offer-nope", "offer-0123456789abcdef", 7):
        r = await _book(client, unknown, tomorrow_at(10), tomorrow_at(11))  # type: ignore[arg-type]
        assert_problem(r, "ResourceNotFound", 404)
    assert_problem(
        await client.delete(f"{BOOKINGS}/booking-nope", headers=BUCHEON), "ResourceNotFound", 404
    )
    assert_problem(
        await client.get(f"{OFFERS}/offer-nope", headers=BUCHEON), "ResourceNotFound", 404
    )
    r = await client.get(OFFERS, params={"from": tomorrow_at(10).isoformat()}, headers=BUCHEON)
    assert_problem(r, "BadRequestData", 400)
    r = await client.get(OFFERS, params={"lon": 126.75}, headers=BUCHEON)
    assert_problem(r, "BadRequestData", 400)


async def test_owners_and_drivers_touch_only_their_own(settings: Settings) -> None:
    async for h in _hub(settings):
        c = h.client
        admin = await h.login("admin", h.admin_password)
        # the city's role for residents and drivers of the shared-parking app
        r = await c.put(
            "/cityhub/v1/roles/parking-user",
            json={"permissions": ["entities:read", "entities:write"], "description": "공유주차"},
            headers=admin,
        )
        assert r.status_code == 201, r.text
        grant = {"role": "parking-user", "tenant": "bucheon"}
        kim = await h.user("kim", grant)  # the villa resident
        lee = await h.user("lee", grant)  # a driver
        park = await h.user("park", grant)  # another driver
        choi = await h.user("choi", {"role": "citizen", "tenant": "bucheon"})
        spot = {
            "id": SPOT,
            "type": "ParkingSpot",
            "status": prop("free"),
            "location": point(*VILLA),
        }
        assert (await c.post(ENTITIES, json=spot, headers=admin | BUCHEON)).status_code == 201
        offer = await _offer(c, headers=kim)
        assert offer["owner"] == "kim"
        # a citizen may look, not book
        r = await c.get(OFFERS, params={"lon": VILLA[0], "lat": VILLA[1]}, headers=choi | BUCHEON)
        assert r.status_code == 200 and [o["id"] for o in r.json()] == [offer["id"]]
        assert "owner" not in r.json()[0]  # who owns a spot is the owner's business
        r = await c.get(f"{OFFERS}/{offer['id']}", headers=kim | BUCHEON)
        assert r.json()["owner"] == "kim"
        r = await _book(c, offer["id"], tomorrow_at(10), tomorrow_at(11), headers=choi)
        assert_problem(r, "Forbidden", 403)
        c.cookies.clear()  # the logins' session cookies: this one comes with no credentials
        r = await _book(c, offer["id"], tomorrow_at(10), tomorrow_at(11))
        assert_problem(r, "Unauthenticated", 401)
        r = await _book(c, offer["id"], tomorrow_at(10), tomorrow_at(11), headers=lee)
        assert r.status_code == 201, r.text
        booking = r.json()
        assert booking["driver"] == "lee"
        url = f"{BOOKINGS}/{booking['id']}"
        # another driver neither sees nor cancels it, nor withdraws the owner's offer
        assert_problem(await c.get(url, headers=park | BUCHEON), "ResourceNotFound", 404)
        assert_problem(await c.delete(url, headers=park | BUCHEON), "Forbidden", 403)
        assert_problem(
            await c.delete(f"{OFFERS}/{offer['id']}", headers=park | BUCHEON), "Forbidden", 403
        )
        assert (await c.get(BOOKINGS, headers=park | BUCHEON)).json() == []
        # the owner sees the booking of their spot (with the plate, to know the car)
        assert (await c.get(url, headers=kim | BUCHEON)).json()["plate"] == "12가3456"
        assert [b["id"] for b in (await c.get(BOOKINGS, headers=kim | BUCHEON)).json()] == [
            booking["id"]
        ]
        # ... but cancels only their own bookings: the driver cancels
        assert_problem(await c.delete(url, headers=kim | BUCHEON), "Forbidden", 403)
        r = await c.delete(url, headers=lee | BUCHEON)
        assert r.status_code == 200 and r.json()["status"] == "cancelled"
        r = await c.delete(f"{OFFERS}/{offer['id']}", headers=kim | BUCHEON)
        assert r.status_code == 200, r.text
        # every change is in the audit log, by whom
        log = (await c.get("/cityhub/v1/audit", params={"tenant": "bucheon"}, headers=admin)).json()
        entries = log["entries"] if isinstance(log, dict) else log
        done = [(e["actor"], e["action"]) for e in entries if e["action"].startswith("parking.")]
        assert sorted(done) == [
            ("kim", "parking.offer"),
            ("kim", "parking.withdraw"),
            ("lee", "parking.book"),
            ("lee", "parking.cancel"),
        ]
