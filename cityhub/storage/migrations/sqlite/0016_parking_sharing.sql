-- cityhub schema 16: shared parking (cityhub/services/parking/sharing.py): owners' offers of
-- idle time windows of their spot, drivers' bookings, and the 10-minute slots each booking
-- holds. The slots' primary key is what makes a double booking impossible in the database:
-- two bookings of one offer cannot hold the same slot, whatever the requests' timing. Times
-- are µs since the epoch (UTC).
CREATE TABLE parking_offers (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    owner TEXT NOT NULL,         -- the principal who published it
    spot_id TEXT,                -- the ParkingSpot entity, when the spot is one
    name TEXT NOT NULL,
    lon REAL NOT NULL,
    lat REAL NOT NULL,
    start_us INTEGER NOT NULL,
    end_us INTEGER NOT NULL,
    tariff TEXT NOT NULL,        -- JSON: perHour, minimumMinutes, cancelFee, freeCancelMinutes
    status TEXT NOT NULL,        -- open | withdrawn
    created_at TEXT NOT NULL,
    withdrawn_at TEXT
);
CREATE INDEX parking_offers_place ON parking_offers (tenant, status, lat, lon);
CREATE INDEX parking_offers_spot ON parking_offers (tenant, spot_id, end_us);
CREATE INDEX parking_offers_owner ON parking_offers (tenant, owner);
CREATE TABLE parking_bookings (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    offer_id TEXT NOT NULL,
    driver TEXT NOT NULL,        -- the principal who booked
    plate TEXT NOT NULL,
    start_us INTEGER NOT NULL,
    end_us INTEGER NOT NULL,
    fee INTEGER NOT NULL,        -- won: the booking's fee, or the cancellation fee
    status TEXT NOT NULL,        -- booked | active (checked in) | completed | cancelled
    created_at TEXT NOT NULL,
    cancelled_at TEXT,
    checked_in_at TEXT,
    checked_out_at TEXT
);
CREATE INDEX parking_bookings_offer ON parking_bookings (offer_id, status, start_us);
CREATE INDEX parking_bookings_driver ON parking_bookings (tenant, driver);
CREATE TABLE parking_booking_slots (
    offer_id TEXT NOT NULL,
    slot_us INTEGER NOT NULL,       -- the slot's start, on the 10-minute grid of the clock
    booking_id TEXT NOT NULL,
    PRIMARY KEY (offer_id, slot_us)
);
CREATE INDEX parking_booking_slots_booking ON parking_booking_slots (booking_id);
