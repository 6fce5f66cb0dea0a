-- cityhub schema 17: illegal-parking enforcement (cityhub/services/parking/enforcement*.py).
-- Every sighting of a plate by an enforcement camera, idempotent by (plate, camera, time).
CREATE TABLE parking_sightings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    plate TEXT NOT NULL,          -- normalised: no spaces or hyphens, Latin letters upper case
    camera_id TEXT NOT NULL,
    camera_kind TEXT NOT NULL,    -- fixed | bus | mobile
    at TEXT NOT NULL,             -- when the camera saw it (UTC, NGSI-LD DateTime)
    lon DOUBLE PRECISION NOT NULL,
    lat DOUBLE PRECISION NOT NULL,
    zone_id TEXT NOT NULL,        -- the enforcement zone it fell in ('' for none)
    case_id TEXT NOT NULL,        -- the case it belongs to ('' for none)
    received_at TEXT NOT NULL,
    result TEXT NOT NULL          -- the answer given (JSON): a repeat gets it again
);
CREATE UNIQUE INDEX parking_sightings_once ON parking_sightings (tenant, plate, camera_id, at);
CREATE INDEX parking_sightings_at ON parking_sightings (tenant, at);

-- A case: a plate standing in one zone, from its first sighting until a violation is
-- confirmed and the car is gone, or it moved, or nothing was heard of it for a while.
CREATE TABLE parking_cases (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    plate TEXT NOT NULL,
    zone_id TEXT NOT NULL,
    zone TEXT NOT NULL,           -- the zone as judged (JSON: name, category, type, grace, fine)
    status TEXT NOT NULL,         -- pending | violation | moved | expired
    first_at TEXT NOT NULL,
    first_camera TEXT NOT NULL,   -- JSON {"id", "kind"}
    lon DOUBLE PRECISION NOT NULL,
    lat DOUBLE PRECISION NOT NULL,
    last_at TEXT NOT NULL,        -- the latest sighting in the zone
    last_camera TEXT NOT NULL,
    confirmed_at TEXT,            -- the sighting that made the violation
    confirm_camera TEXT,
    violation_id TEXT,            -- the ParkingViolation entity
    notice TEXT NOT NULL,         -- pre-notice: none | sent | failed | noPhone | off
    notice_to TEXT,               -- the number it went to, masked
    notice_lot TEXT,              -- the lot it named (JSON)
    ended_at TEXT,                -- NULL while the case is open
    ended_reason TEXT,
    version INTEGER NOT NULL      -- bumped by every change: changes compare and set it
);
CREATE UNIQUE INDEX parking_cases_open ON parking_cases (tenant, plate, zone_id)
    WHERE ended_at IS NULL;
CREATE INDEX parking_cases_plate ON parking_cases (tenant, plate, ended_at);
CREATE INDEX parking_cases_first ON parking_cases (tenant, first_at);
CREATE INDEX parking_cases_confirmed ON parking_cases (tenant, confirmed_at);

-- Phones registered (opted in) for pre-notices: the plate, the number and who registered it.
CREATE TABLE parking_phones (
    tenant TEXT NOT NULL,
    plate TEXT NOT NULL,
    phone TEXT NOT NULL,
    registered_by TEXT NOT NULL,
    registered_at TEXT NOT NULL,
    PRIMARY KEY (tenant, plate)
);
