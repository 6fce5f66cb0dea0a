"""Shared parking (공유주차, as in Bucheon's City Pass): owners publish idle time windows of
their spot, drivers find and book them, fees follow the owner's tariff, and the spot's sensor
checks the booking in and out.

- An **offer** is one spot (a ``ParkingSpot`` entity, or a name and a place) free from ``from``
  to ``to``, with a tariff ``{"perHour": won, "minimumMinutes"?, "cancelFee"?,
  "freeCancelMinutes"?}``. Its window is kept to the 10-minute grid of the clock (rounded
  inwards); two open offers of one spot never overlap in time.
- A **booking** holds whole 10-minute slots: its ``from`` is rounded down and ``to`` up to the
  grid, and it must fit in the offer. Its fee is for the time held, at least
  ``minimumMinutes``, counted in 10-minute units (rounded up), at ``perHour`` won an hour
  (rounded up to the won). Two live bookings of an offer never overlap (sharing_store.py).
- **Cancelling** frees the slots; from ``freeCancelMinutes`` (default 30) before the start,
  ``cancelFee`` (default 0) is due. A booking checked in cannot be cancelled.
- **Sensors**: the spot turning ``occupied`` from 15 minutes before a booking's start to its
  end checks it in (``checkedInAt``, status ``active``); ``free`` again checks it out
  (``checkedOutAt``, ``completed``). An occupied spot inside an open offer's window with no
  booking checked in is reported as unauthorized (``noBooking``), and one whose booking has
  ended but is still occupied as an ``overstay``.
"""

from __future__ import annotations

import math
import re
import secrets
from datetime import UTC, datetime
from typing import Any

from cityhub.bus import DELETE, Change
from cityhub.datamodels.model import short_name
from cityhub.errors import BadRequestData, NonexistentTenant, ResourceNotFound
from cityhub.ngsild.filters import EntityQuery
from cityhub.ngsild.geo import haversine_m
from cityhub.ngsild.hub import Hub
from cityhub.ngsild.models import is_uri, now_iso
from cityhub.ops.events import _value
from cityhub.services.parking.occupancy import is_spot
from cityhub.services.parking.sharing_store import (
    ACTIVE,
    BOOKED,
    OPEN,
    SLOT_US,
    Booking,
    Offer,
    SharingStore,
)
from cityhub.temporal.model import iso, micros_of, parse_time, to_micros

MINUTE_US = 60_000_000
EARLY_US = 15 * MINUTE_US  # a driver may arrive (check in) this much before the start
MAX_OFFER_US = 31 * 24 * 60 * MINUTE_US
MAX_BOOKING_US = 7 * 24 * 60 * MINUTE_US
_EARLIEST = to_micros(datetime(2000, 1, 1, tzinfo=UTC))
_LATEST = to_micros(datetime(2100, 1, 1, tzinfo=UTC))
_ID = re.compile(r"(offer|booking)-[0-9a-f]{16}")
_TARIFF = {
    # member: (required, default, largest)
    "perHour": (True, 0, 1_000_000),
    "minimumMinutes": (False, 0, 24 * 60),
    "cancelFee": (False, 0, 1_000_000),
    "freeCancelMinutes": (False, 30, 7 * 24 * 60),
}


def now_us() -> int:
    """The current time, µs since the epoch."""
    return to_micros(datetime.now(UTC))


def _down(micros: int) -> int:
    return micros // SLOT_US * SLOT_US


def _up(micros: int) -> int:
    return -(-micros // SLOT_US) * SLOT_US


def check_tariff(raw: Any) -> dict[str, int]:
    """A tariff with its defaults (BadRequestData naming what is wrong)."""
    if not isinstance(raw, dict):
        raise BadRequestData('an offer needs "tariff": {"perHour": won, ...}')
    unknown = set(raw) - set(_TARIFF)
    if unknown:
        raise BadRequestData(f"unknown tariff members: {', '.join(sorted(unknown))}")
    tariff = {}
    for name, (required, default, largest) in _TARIFF.items():
        value = raw.get(name, None if required else default)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= largest:
            raise BadRequestData(f"tariff.{name} must be a whole number from 0 to {largest}")
        tariff[name] = value
    return tariff


def fee_of(tariff: dict[str, Any], start_us: int, end_us: int) -> int:
    """The fee (won) of holding [start, end): at least minimumMinutes, in 10-minute units
    rounded up, at perHour won an hour, rounded up to the won."""
    minutes = max(math.ceil((end_us - start_us) / MINUTE_US), tariff.get("minimumMinutes", 0))
    minutes = -(-int(minutes) // 10) * 10
    fee: int = -(-minutes * int(tariff["perHour"]) // 60)
    return fee


def cancel_fee(tariff: dict[str, Any], booking: Booking, at_us: int) -> int:
    """What cancelling ``booking`` at ``at_us`` costs."""
    free_until = booking.start_us - tariff.get("freeCancelMinutes", 30) * MINUTE_US
    return int(tariff.get("cancelFee", 0)) if at_us >= free_until else 0


def check_time(value: Any, name: str) -> int:
    """A DateTime of an offer, a booking or a search (µs), this century."""
    if not isinstance(value, str):
        raise BadRequestData(f'"{name}" must be a DateTime like 2026-03-02T09:00:00+09:00')
    found = parse_time(value, name)
    if not _EARLIEST <= found < _LATEST:
        raise BadRequestData(f'"{name}" must be a DateTime of this century')
    return found


def _time(body: dict[str, Any], name: str) -> int:
    return check_time(body.get(name), name)


def check_id(value: Any, kind: str) -> str:
    """An offer or booking id as this module makes them (ResourceNotFound for any other
    text: no such offer or booking)."""
    if not isinstance(value, str) or not _ID.fullmatch(value) or not value.startswith(kind):
        raise ResourceNotFound(f"no shared-parking {kind} {str(value)[:80]!r}")
    return value


def _point(raw: Any) -> tuple[float, float]:
    if (
        not isinstance(raw, dict)
        or raw.get("type") != "Point"
        or not isinstance(raw.get("coordinates"), list)
        or len(raw["coordinates"]) < 2
        or not all(
            isinstance(c, int | float) and not isinstance(c, bool) for c in raw["coordinates"][:2]
        )
    ):
        raise BadRequestData('"location" must be a GeoJSON Point')
    lon, lat = float(raw["coordinates"][0]), float(raw["coordinates"][1])
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise BadRequestData("location coordinates are out of range")
    return lon, lat


def _text(body: dict[str, Any], name: str, longest: int) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > longest:
        raise BadRequestData(f'"{name}" must be a text of 1-{longest} characters')
    if any(ord(c) < 32 for c in value):
        raise BadRequestData(f'"{name}" must not hold control characters')
    return value.strip()


class SharingService:
    """Offers, bookings, check-in/out and unauthorized use of shared spots."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.store = SharingStore(hub.storage)

    # --- offers ---------------------------------------------------------------------------

    async def publish(self, tenant: str, owner: str, body: Any) -> Offer:
        """Publish an offer from its API form."""
        if not isinstance(body, dict):
            raise BadRequestData("an offer is a JSON object")
        unknown = set(body) - {"spotId", "name", "location", "from", "to", "tariff"}
        if unknown:
            raise BadRequestData(f"unknown offer members: {', '.join(sorted(unknown))}")
        start, end = _up(_time(body, "from")), _down(_time(body, "to"))
        if end - start < SLOT_US:
            raise BadRequestData("an offer spans at least 10 minutes of the 10-minute grid")
        if end - start > MAX_OFFER_US:
            raise BadRequestData("an offer spans at most 31 days")
        if end <= now_us():
            raise BadRequestData("the offer is over already")
        tariff = check_tariff(body.get("tariff"))
        spot_id = body.get("spotId")
        if spot_id is not None:
            if not is_uri(spot_id):
                raise BadRequestData('"spotId" must be the id (a URI) of a ParkingSpot entity')
            lon, lat, name = await self._spot_place(tenant, spot_id)
            if "name" in body:
                name = _text(body, "name", 200)
        else:
            name, (lon, lat) = _text(body, "name", 200), _point(body.get("location"))
        offer = Offer(
            id=f"offer-{secrets.token_hex(8)}",
            tenant=tenant,
            owner=owner,
            spot_id=spot_id,
            name=name,
            lon=lon,
            lat=lat,
            start_us=start,
            end_us=end,
            tariff=tariff,
            status=OPEN,
            created_at=now_iso(),
        )
        await self.store.add_offer(offer)
        return offer

    async def _spot_place(self, tenant: str, spot_id: str) -> tuple[float, float, str]:
        try:
            spot = await self.hub.entities.get(tenant, spot_id)
        except (ResourceNotFound, NonexistentTenant) as err:
            raise BadRequestData(f"no ParkingSpot {spot_id}") from err
        if not is_spot(spot):
            raise BadRequestData(f"{spot_id} is not a ParkingSpot")
        loc = _value(spot, "location")
        if not isinstance(loc, dict) or loc.get("type") != "Point":
            raise BadRequestData(f"spot {spot_id} has no Point location")
        lon, lat = _point(loc)
        name = _value(spot, "name")
        return lon, lat, name if isinstance(name, str) and name else spot_id

    async def search(
        self,
        tenant: str,
        *,
        near: tuple[float, float] | None = None,
        max_distance: float = 1000.0,
        window: tuple[int, int] | None = None,
        limit: int = 20,
        viewer: str | None = None,
    ) -> list[dict[str, Any]]:
        """Open offers, nearest first (``near``), free for all of ``window`` when given (it is
        rounded to the grid as a booking would be, and the answer gives its fee); ``viewer``
        sees the owner of their own offers only."""
        now = now_us()
        box = None
        if near is not None:
            lon, lat = near
            dlat = max_distance / 111_320
            dlon = max_distance / (111_320 * max(0.01, math.cos(math.radians(lat))))
            box = (lon - dlon, lat - dlat, lon + dlon, lat + dlat)
        covering = (_down(window[0]), _up(window[1])) if window is not None else None
        offers = await self.store.open_offers(tenant, now, box, covering)
        booked: dict[str, list[Booking]] = {}
        for b in await self.store.live_bookings([o.id for o in offers], now):
            booked.setdefault(b.offer_id, []).append(b)
        found = []
        for offer in offers:
            taken = booked.get(offer.id, [])
            entry = offer.json(viewer) | {
                "booked": [{"from": iso(b.start_us), "to": iso(b.end_us)} for b in taken]
            }
            if near is not None:
                entry["distance"] = round(haversine_m(offer.lon, offer.lat, *near), 1)
                if entry["distance"] > max_distance:
                    continue
            if covering is not None:
                start, end = covering
                if any(b.start_us < end and b.end_us > start for b in taken):
                    continue
                entry["fee"] = fee_of(offer.tariff, start, end)
            found.append(entry)
        if near is not None:
            found.sort(key=lambda e: e["distance"])
        return found[:limit]

    async def offer(self, tenant: str, offer_id: str, viewer: str) -> dict[str, Any]:
        """One offer with its booked times (its owner shown to the owner only)."""
        offer = await self.store.offer(tenant, check_id(offer_id, "offer"))
        taken = await self.store.live_bookings([offer.id], now_us())
        return offer.json(viewer) | {
            "booked": [{"from": iso(b.start_us), "to": iso(b.end_us)} for b in taken]
        }

    async def withdraw(self, tenant: str, offer_id: str, owner: str) -> Offer:
        """Withdraw an offer of ``owner``."""
        offer_id = check_id(offer_id, "offer")
        return await self.store.withdraw(tenant, offer_id, owner, now_us(), now_iso())

    # --- bookings -------------------------------------------------------------------------

    async def book(self, tenant: str, driver: str, body: Any) -> Booking:
        """Book part of an offer from the API form (Conflict when it is taken)."""
        if not isinstance(body, dict):
            raise BadRequestData("a booking is a JSON object")
        unknown = set(body) - {"offerId", "from", "to", "plate"}
        if unknown:
            raise BadRequestData(f"unknown booking members: {', '.join(sorted(unknown))}")
        offer_id = check_id(body.get("offerId"), "offer")
        plate = _text(body, "plate", 20)
        start, end = _down(_time(body, "from")), _up(_time(body, "to"))
        if end <= start:
            raise BadRequestData('"to" must be later than "from"')
        if end - start > MAX_BOOKING_US:
            raise BadRequestData("a booking spans at most 7 days")
        if end <= now_us():
            raise BadRequestData("the booking would be over already")
        offer = await self.store.offer(tenant, offer_id)
        booking = Booking(
            id=f"booking-{secrets.token_hex(8)}",
            tenant=tenant,
            offer_id=offer_id,
            driver=driver,
            plate=plate,
            start_us=start,
            end_us=end,
            fee=fee_of(offer.tariff, start, end),
            status=BOOKED,
            created_at=now_iso(),
        )
        return await self.store.book(booking)

    async def cancel(self, tenant: str, booking_id: str, driver: str) -> Booking:
        """Cancel a booking of ``driver`` (the late-cancellation fee by its offer's tariff)."""
        booking = await self.store.booking(tenant, check_id(booking_id, "booking"))
        offer = await self.store.offer(tenant, booking.offer_id)
        at = now_us()
        return await self.store.cancel(
            tenant, booking_id, driver, iso(at), lambda b: cancel_fee(offer.tariff, b, at)
        )

    async def visible_booking(self, tenant: str, booking_id: str, principal: str) -> Booking:
        """A booking its driver or its offer's owner asks for (ResourceNotFound for others)."""
        booking = await self.store.booking(tenant, check_id(booking_id, "booking"))
        if booking.driver != principal:
            offer = await self.store.offer(tenant, booking.offer_id)
            if offer.owner != principal:
                raise ResourceNotFound(f"no shared-parking booking {booking_id}")
        return booking

    async def bookings_of(self, tenant: str, principal: str) -> list[Booking]:
        """The principal's bookings, and the bookings of the principal's offers."""
        return await self.store.bookings(tenant, principal)

    # --- sensors --------------------------------------------------------------------------

    async def on_change(self, change: Change) -> None:
        """Check bookings in or out when a spot's status changes (replays change nothing)."""
        if change.op == DELETE or not is_spot(change.entity):
            return
        if not any(short_name(iri) == "status" for iri in change.prev):
            return
        for iri, insts in change.entity["attrs"].items():
            if short_name(iri) != "status" or not insts:
                continue
            status, observed = insts[0].get("value"), insts[0].get("observedAt")
            at_us = micros_of(observed, micros_of(change.at, now_us()))
            if status == "occupied":
                await self.store.check_in(
                    change.tenant, change.entity_id, at_us, iso(at_us), EARLY_US
                )
            elif status == "free":
                await self.store.check_out(change.tenant, change.entity_id, iso(at_us))

    async def unauthorized(self, tenant: str) -> list[dict[str, Any]]:
        """Shared spots occupied now inside an open offer's window without a booking checked
        in (``noBooking``), or after their booking ended (``overstay``)."""
        now = now_us()
        offers = [
            o
            for o in await self.store.open_offers(tenant, now)
            if o.spot_id is not None and o.start_us <= now
        ]
        if not offers:
            return []
        spots = {o.spot_id for o in offers if o.spot_id is not None}
        query = EntityQuery(ids=frozenset(spots), limit=1000)
        try:
            found = {e["id"]: e for e in (await self.hub.entities.query(tenant, query)).entities}
        except NonexistentTenant:
            return []
        active: dict[str, list[Booking]] = {}
        for b in await self.store.live_bookings([o.id for o in offers], 0):
            if b.status in (ACTIVE, BOOKED):
                active.setdefault(b.offer_id, []).append(b)
        report = []
        for offer in offers:
            spot = found.get(offer.spot_id or "")
            if spot is None or _value(spot, "status") != "occupied":
                continue
            checked_in = [b for b in active.get(offer.id, []) if b.status == ACTIVE]
            current = [b for b in checked_in if b.end_us > now]
            if current:
                continue
            since = next(
                (
                    i[0].get("observedAt") or i[0].get("modifiedAt")
                    for iri, i in spot["attrs"].items()
                    if short_name(iri) == "status" and i
                ),
                None,
            )
            report.append(
                {
                    "spotId": offer.spot_id,
                    "offerId": offer.id,
                    "name": offer.name,
                    "location": {"type": "Point", "coordinates": [offer.lon, offer.lat]},
                    "since": since,
                    "reason": "overstay" if checked_in else "noBooking",
                    "bookingId": checked_in[-1].id if checked_in else None,
                }
            )
        return report
