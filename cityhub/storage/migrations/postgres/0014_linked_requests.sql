-- cityhub schema 14: requests of the linked safety services (112 video, 112 dispatch,
-- 119 dispatch, disaster, vulnerable people) from agencies (cityhub/ops/linked.py): each one
-- opened an event, selected cameras, granted the agency a video share and was answered.
CREATE TABLE linked_requests (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    service TEXT NOT NULL,       -- 112-video | 112-dispatch | 119-dispatch | disaster | vulnerable
    agency TEXT NOT NULL,        -- the agency account that asked
    reference TEXT NOT NULL,     -- the agency's own case number ('' when none): a retry is idempotent
    event_id TEXT NOT NULL,
    received_at TEXT NOT NULL,
    responded_at TEXT NOT NULL,
    arrived_at TEXT,             -- 119: the unit reported arrival at the scene
    response TEXT NOT NULL       -- the answer sent (JSON): event, cameras, grants, route
);
CREATE INDEX linked_requests_agency ON linked_requests (tenant, agency, received_at);
CREATE UNIQUE INDEX linked_requests_reference ON linked_requests (tenant, agency, service, reference)
    WHERE reference <> '';

-- events to forward to an external integrated platform (cityhub/ops/forward.py), queued in
-- the change-log consumer's transaction and sent with retries
CREATE TABLE interwork_outbox (
    id BIGSERIAL PRIMARY KEY,
    tenant TEXT NOT NULL,
    event_id TEXT NOT NULL,
    body TEXT NOT NULL,          -- the message, JSON
    created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    due DOUBLE PRECISION NOT NULL,           -- epoch seconds of the next try
    claimed_until DOUBLE PRECISION NOT NULL DEFAULT 0,
    last_error TEXT,
    dead INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX interwork_outbox_due ON interwork_outbox (dead, due);
