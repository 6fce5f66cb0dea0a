-- cityhub schema 19: care alerts (cityhub/services/care/): elderly-alone households watched
-- through their sensors, the 119 requests filed for them, missing-person cases and safe walks
-- home. Households and alerts hold a household code, never a name.

-- what the service knows of each enrolled household (the CareHousehold entity and its sensors'
-- readings, kept by the change-log consumer "care"); times are observedAt, UTC, µs
CREATE TABLE care_households (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,               -- the CareHousehold entity
    code TEXT NOT NULL,             -- householdCode
    lon REAL,                       -- NULL: no location, not watched
    lat REAL,
    place TEXT NOT NULL,            -- the address as text ('' when none)
    inactivity_hours REAL,          -- NULL: the setting care_inactivity_hours
    night_hours TEXT,               -- NULL: the setting care_night_hours
    enrolled_at TEXT NOT NULL,
    watched_from TEXT,              -- the first reading of any of its sensors
    last_activity TEXT,             -- latest motion / door opening / activity
    cold_since TEXT,                -- indoor temperature below care_temp_min since
    hot_since TEXT,                 -- above care_temp_max since
    temperature REAL,
    temperature_at TEXT,
    button_at TEXT,                 -- latest emergency-button press
    devices TEXT NOT NULL,          -- JSON list of the sensors heard from
    PRIMARY KEY (tenant, id)
);

-- each alert filed for a household: a 119 linked-service request and its event; one per
-- condition episode (the moment the condition began), so a repeat files nothing
CREATE TABLE care_alerts (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    household TEXT NOT NULL,
    kind TEXT NOT NULL,             -- inactivity | cold | hot | button
    episode TEXT NOT NULL,
    last_seen TEXT NOT NULL,        -- button: the latest press this alert answers
    request_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    raised_at TEXT NOT NULL,
    ended_at TEXT,
    end_reason TEXT
);
CREATE UNIQUE INDEX care_alerts_episode ON care_alerts (tenant, household, kind, episode);
CREATE INDEX care_alerts_open ON care_alerts (ended_at);

-- missing children and dementia patients: a vulnerable-people request and its event
CREATE TABLE care_missing (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    kind TEXT NOT NULL,             -- child | dementia
    agency TEXT NOT NULL,           -- who the cameras are shared with
    reported_by TEXT NOT NULL,
    request_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    status TEXT NOT NULL,           -- searching | found
    description TEXT NOT NULL,
    reported_at TEXT NOT NULL,
    found_at TEXT,
    lon REAL NOT NULL,              -- the latest location
    lat REAL NOT NULL,
    accuracy REAL,
    located_at TEXT NOT NULL
);
CREATE UNIQUE INDEX care_missing_request ON care_missing (tenant, request_id);
CREATE TABLE care_missing_locations (
    missing_id TEXT NOT NULL,
    at TEXT NOT NULL,
    lon REAL NOT NULL,
    lat REAL NOT NULL,
    accuracy REAL,
    reported_by TEXT NOT NULL
);
CREATE INDEX care_missing_locations_case ON care_missing_locations (missing_id, at);

-- safe walks home (안심귀가): only the last position is kept
CREATE TABLE care_walks (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    owner TEXT NOT NULL,            -- the citizen's account
    status TEXT NOT NULL,           -- active | arrived
    from_lon REAL NOT NULL,
    from_lat REAL NOT NULL,
    to_lon REAL NOT NULL,
    to_lat REAL NOT NULL,
    route TEXT,                     -- GeoJSON LineString, NULL: the straight line
    contact TEXT NOT NULL,
    expected_at TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    last_lon REAL,
    last_lat REAL,
    last_at TEXT,
    off_route_m REAL,               -- distance from the route at the last position
    overdue_event TEXT,
    offroute_event TEXT
);
CREATE INDEX care_walks_owner ON care_walks (tenant, owner, started_at);
CREATE INDEX care_walks_active ON care_walks (status, expected_at);
