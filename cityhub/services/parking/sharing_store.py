"""Shared parking's tables (schema 16): offers, bookings and the slots bookings hold, with the
same SQL on SQLite and PostgreSQL (cityhub.storage.plain).

No double booking, enforced in the database: booking an offer runs in one transaction that
locks the offer row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's single writer runs one
write at a time), finds no live booking overlapping, and inserts the booking with one row per
10-minute slot it holds, keyed (offer, slot): even a booking that got past the check could not
take a slot another booking holds. Cancelling frees the slots.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from cityhub.errors import Conflict, Forbidden, ResourceNotFound
from cityhub.storage.base import Storage
from cityhub.storage.plain import PlainSql, Tx
from cityhub.temporal.model import iso

SLOT_US = 10 * 60 * 1_000_000  # bookings hold whole 10-minute slots of the clock
OPEN, WITHDRAWN = "open", "withdrawn"
BOOKED, ACTIVE, COMPLETED, CANCELLED = "booked", "active", "completed", "cancelled"
LIVE = (BOOKED, ACTIVE, COMPLETED)  # bookings that hold their slots

_OFFER = (
    "id, tenant, owner, spot_id, name, lon, lat, start_us, end_us, tariff, status, created_at, "
    "withdrawn_at"
)
_BOOKING = (
    "id, tenant, offer_id, driver, plate, start_us, end_us, fee, status, created_at, "
    "cancelled_at, checked_in_at, checked_out_at"
)
_LIVE_SQL = "('booked', 'active', 'completed')"


@dataclass(slots=True)
class Offer:
    """An idle time window of one spot, published by its owner."""

    id: str
    tenant: str
    owner: str
    spot_id: str | None
    name: str
    lon: float
    lat: float
    start_us: int
    end_us: int
    tariff: dict[str, Any]
    status: str
    created_at: str
    withdrawn_at: str | None = None

    def json(self, viewer: str | None = None) -> dict[str, Any]:
        """The offer in the API; its owner only to the owner (``viewer``, None: anyone)."""
        found = {
            "id": self.id,
            "owner": self.owner,
            "spotId": self.spot_id,
            "name": self.name,
            "location": {"type": "Point", "coordinates": [self.lon, self.lat]},
            "from": iso(self.start_us),
            "to": iso(self.end_us),
            "tariff": self.tariff,
            "status": self.status,
            "createdAt": self.created_at,
            "withdrawnAt": self.withdrawn_at,
        }
        if viewer is not None and viewer != self.owner:
            del found["owner"]
        return found


@dataclass(slots=True)
class Booking:
    """A driver's booking of part of an offer."""

    id: str
    tenant: str
    offer_id: str
    driver: str
    plate: str
    start_us: int
    end_us: int
    fee: int
    status: str
    created_at: str
    cancelled_at: str | None = None
    checked_in_at: str | None = None
    checked_out_at: str | None = None

    def json(self) -> dict[str, Any]:
        """The booking in the API."""
        return {
            "id": self.id,
            "offerId": self.offer_id,
            "driver": self.driver,
            "plate": self.plate,
            "from": iso(self.start_us),
            "to": iso(self.end_us),
            "fee": self.fee,
            "currency": "KRW",
            "status": self.status,
            "createdAt": self.created_at,
            "cancelledAt": self.cancelled_at,
            "checkedInAt": self.checked_in_at,
            "checkedOutAt": self.checked_out_at,
        }


def _offer(row: tuple[Any, ...]) -> Offer:
    values = list(row)
    values[9] = orjson.loads(values[9])
    values[5], values[6] = float(values[5]), float(values[6])
    return Offer(*values)


def _booking(row: tuple[Any, ...]) -> Booking:
    return Booking(*row)


def slots(start_us: int, end_us: int) -> list[int]:
    """The 10-minute slots [start, end) covers (both on the grid)."""
    return list(range(start_us, end_us, SLOT_US))


class SharingStore:
    """Offers and bookings of every tenant."""

    def __init__(self, storage: Storage) -> None:
        self.db = PlainSql(storage)

    # --- offers ---------------------------------------------------------------------------

    async def add_offer(self, offer: Offer) -> None:
        """Store an offer (Conflict when another open offer of its spot overlaps it)."""

        async def work(tx: Tx) -> None:
            if offer.spot_id is not None:
                await tx.lock(f"parking-spot|{offer.tenant}|{offer.spot_id}")
                clash = await tx.rows(
                    "SELECT id FROM parking_offers WHERE tenant = ? AND spot_id = ? AND "
                    "status = 'open' AND start_us < ? AND end_us > ?",
                    offer.tenant,
                    offer.spot_id,
                    offer.end_us,
                    offer.start_us,
                )
                if clash:
                    raise Conflict(
                        f"spot {offer.spot_id} is already offered then (offer {clash[0][0]})"
                    )
            await tx.run(
                f"INSERT INTO parking_offers ({_OFFER}) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                offer.id,
                offer.tenant,
                offer.owner,
                offer.spot_id,
                offer.name,
                offer.lon,
                offer.lat,
                offer.start_us,
                offer.end_us,
                orjson.dumps(offer.tariff).decode(),
                offer.status,
                offer.created_at,
                None,
            )

        await self.db.transaction(work)

    async def offer(self, tenant: str, offer_id: str) -> Offer:
        """One offer (ResourceNotFound)."""
        rows = await self.db.rows(
            f"SELECT {_OFFER} FROM parking_offers WHERE tenant = ? AND id = ?", tenant, offer_id
        )
        if not rows:
            raise ResourceNotFound(f"no shared-parking offer {offer_id}")
        return _offer(rows[0])

    async def open_offers(
        self,
        tenant: str,
        now_us: int,
        box: tuple[float, float, float, float] | None = None,
        covering: tuple[int, int] | None = None,
        owner: str | None = None,
    ) -> list[Offer]:
        """Open offers not over yet; within ``box`` (min lon, min lat, max lon, max lat), whose
        window covers ``covering`` (start, end), of ``owner``."""
        sql = f"SELECT {_OFFER} FROM parking_offers WHERE tenant = ? AND status = 'open' "
        sql += "AND end_us > ?"
        args: list[Any] = [tenant, now_us]
        if box is not None:
            sql += " AND lon BETWEEN ? AND ? AND lat BETWEEN ? AND ?"
            args += [box[0], box[2], box[1], box[3]]
        if covering is not None:
            sql += " AND start_us <= ? AND end_us >= ?"
            args += list(covering)
        if owner is not None:
            sql += " AND owner = ?"
            args.append(owner)
        rows = await self.db.rows(sql + " ORDER BY start_us, id LIMIT 5000", *args)
        return [_offer(r) for r in rows]

    async def spot_offers(self, tenant: str, spot_id: str, at_us: int) -> list[Offer]:
        """The open offers of a spot whose window holds ``at_us``."""
        rows = await self.db.rows(
            f"SELECT {_OFFER} FROM parking_offers WHERE tenant = ? AND spot_id = ? AND "
            "status = 'open' AND start_us <= ? AND end_us > ?",
            tenant,
            spot_id,
            at_us,
            at_us,
        )
        return [_offer(r) for r in rows]

    async def withdraw(self, tenant: str, offer_id: str, owner: str, now_us: int, at: str) -> Offer:
        """Withdraw an open offer of ``owner`` with no booking still to come (Forbidden for
        another's offer, Conflict when bookings are pending)."""

        async def work(tx: Tx) -> Offer:
            rows = await tx.rows(
                f"SELECT {_OFFER} FROM parking_offers WHERE tenant = ? AND id = ?{tx.for_update}",
                tenant,
                offer_id,
            )
            if not rows:
                raise ResourceNotFound(f"no shared-parking offer {offer_id}")
            offer = _offer(rows[0])
            if offer.owner != owner:
                raise Forbidden(f"offer {offer_id} is not yours to withdraw")
            if offer.status != OPEN:
                raise Conflict(f"offer {offer_id} is {offer.status} already")
            pending = await tx.rows(
                "SELECT count(*) FROM parking_bookings WHERE offer_id = ? AND "
                "status IN ('booked', 'active') AND end_us > ?",
                offer_id,
                now_us,
            )
            if pending[0][0]:
                raise Conflict(
                    f"offer {offer_id} has {pending[0][0]} booking(s) to come: "
                    "they must end or be cancelled first"
                )
            await tx.run(
                "UPDATE parking_offers SET status = 'withdrawn', withdrawn_at = ? WHERE id = ?",
                at,
                offer_id,
            )
            offer.status, offer.withdrawn_at = WITHDRAWN, at
            return offer

        return await self.db.transaction(work)

    # --- bookings -------------------------------------------------------------------------

    async def book(self, booking: Booking) -> Booking:
        """Store a booking if its offer is open, holds its window and no live booking
        overlaps it (Conflict otherwise; ResourceNotFound without the offer)."""

        async def work(tx: Tx) -> Booking:
            rows = await tx.rows(
                "SELECT status, start_us, end_us FROM parking_offers WHERE tenant = ? AND id = ?"
                + tx.for_update,
                booking.tenant,
                booking.offer_id,
            )
            if not rows:
                raise ResourceNotFound(f"no shared-parking offer {booking.offer_id}")
            status, start, end = rows[0]
            if status != OPEN:
                raise Conflict(f"offer {booking.offer_id} is {status}")
            if booking.start_us < start or booking.end_us > end:
                raise Conflict(
                    f"offer {booking.offer_id} is from {iso(start)} to {iso(end)}: "
                    "the booking must fit in it"
                )
            taken = await tx.rows(
                "SELECT id, start_us, end_us FROM parking_bookings WHERE offer_id = ? AND "
                f"status IN {_LIVE_SQL} AND start_us < ? AND end_us > ? LIMIT 1",
                booking.offer_id,
                booking.end_us,
                booking.start_us,
            )
            if taken:
                raise Conflict(f"the spot is booked from {iso(taken[0][1])} to {iso(taken[0][2])}")
            await tx.run(
                f"INSERT INTO parking_bookings ({_BOOKING}) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                booking.id,
                booking.tenant,
                booking.offer_id,
                booking.driver,
                booking.plate,
                booking.start_us,
                booking.end_us,
                booking.fee,
                booking.status,
                booking.created_at,
                None,
                None,
                None,
            )
            for slot in slots(booking.start_us, booking.end_us):
                await tx.run(
                    "INSERT INTO parking_booking_slots (offer_id, slot_us, booking_id) "
                    "VALUES (?, ?, ?)",
                    booking.offer_id,
                    slot,
                    booking.id,
                    conflict=f"the spot is booked at {iso(slot)}",
                )
            return booking

        return await self.db.transaction(work)

    async def booking(self, tenant: str, booking_id: str) -> Booking:
        """One booking (ResourceNotFound)."""
        rows = await self.db.rows(
            f"SELECT {_BOOKING} FROM parking_bookings WHERE tenant = ? AND id = ?",
            tenant,
            booking_id,
        )
        if not rows:
            raise ResourceNotFound(f"no shared-parking booking {booking_id}")
        return _booking(rows[0])

    async def bookings(self, tenant: str, principal: str) -> list[Booking]:
        """The bookings of a driver and those of the offers they own, newest first."""
        rows = await self.db.rows(
            f"SELECT {_BOOKING} FROM parking_bookings WHERE tenant = ? AND (driver = ? OR "
            "offer_id IN (SELECT id FROM parking_offers WHERE tenant = ? AND owner = ?)) "
            "ORDER BY start_us DESC, id LIMIT 1000",
            tenant,
            principal,
            tenant,
            principal,
        )
        return [_booking(r) for r in rows]

    async def live_bookings(self, offer_ids: list[str], after_us: int) -> list[Booking]:
        """Live bookings of some offers ending after ``after_us``, by start."""
        if not offer_ids:
            return []
        rows = await self.db.rows(
            f"SELECT {_BOOKING} FROM parking_bookings WHERE offer_id IN "
            f"({', '.join('?' * len(offer_ids))}) AND status IN {_LIVE_SQL} AND end_us > ? "
            "ORDER BY start_us",
            *offer_ids,
            after_us,
        )
        return [_booking(r) for r in rows]

    async def cancel(
        self, tenant: str, booking_id: str, driver: str, at: str, fee_of: Any
    ) -> Booking:
        """Cancel a booking of ``driver`` not checked in yet and free its slots; ``fee_of``
        (booking → won) sets the cancellation fee. Forbidden for another's booking, Conflict
        when it is past cancelling."""

        async def work(tx: Tx) -> Booking:
            rows = await tx.rows(
                f"SELECT {_BOOKING} FROM parking_bookings WHERE tenant = ? AND id = ?"
                + tx.for_update,
                tenant,
                booking_id,
            )
            if not rows:
                raise ResourceNotFound(f"no shared-parking booking {booking_id}")
            booking = _booking(rows[0])
            if booking.driver != driver:
                raise Forbidden(f"booking {booking_id} is not yours to cancel")
            if booking.status != BOOKED:
                raise Conflict(f"booking {booking_id} is {booking.status}: it cannot be cancelled")
            fee = int(fee_of(booking))
            await tx.run(
                "UPDATE parking_bookings SET status = 'cancelled', cancelled_at = ?, fee = ? "
                "WHERE id = ?",
                at,
                fee,
                booking_id,
            )
            await tx.run("DELETE FROM parking_booking_slots WHERE booking_id = ?", booking_id)
            booking.status, booking.cancelled_at, booking.fee = CANCELLED, at, fee
            return booking

        return await self.db.transaction(work)

    # --- sensors --------------------------------------------------------------------------

    async def check_in(
        self, tenant: str, spot_id: str, at_us: int, at: str, early_us: int
    ) -> list[str]:
        """Check in the booking of a spot due at ``at_us`` (from ``early_us`` before its
        start); the ids checked in (none again on a replay)."""
        return await self._sensor(
            "b.status = 'booked' AND b.start_us - ? <= ? AND b.end_us > ?",
            (tenant, spot_id, early_us, at_us, at_us),
            "status = 'active', checked_in_at = ?",
            at,
        )

    async def check_out(self, tenant: str, spot_id: str, at: str) -> list[str]:
        """Check out the checked-in bookings of a spot; the ids checked out."""
        return await self._sensor(
            "b.status = 'active'", (tenant, spot_id), "status = 'completed', checked_out_at = ?", at
        )

    async def _sensor(self, where: str, args: tuple[Any, ...], change: str, at: str) -> list[str]:
        """Move the bookings of a spot (tenant, spot id, then ``where``'s arguments) that
        ``where`` selects, setting ``change``."""

        async def work(tx: Tx) -> list[str]:
            found = await tx.rows(
                "SELECT b.id FROM parking_bookings b JOIN parking_offers o ON o.id = b.offer_id "
                f"WHERE o.tenant = ? AND o.spot_id = ? AND {where}",
                *args,
            )
            ids = [row[0] for row in found]
            for booking_id in ids:
                await tx.run(f"UPDATE parking_bookings SET {change} WHERE id = ?", at, booking_id)
            return ids

        return await self.db.transaction(work)
