-- cityhub schema 12: video-share grants of CCTV cameras to agencies, tied to an event
-- (cityhub/ops/cctv.py); every grant, view and revoke is also in the audit log.
CREATE TABLE cctv_grants (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    event_id TEXT NOT NULL,
    camera_id TEXT NOT NULL,
    agency TEXT NOT NULL,        -- the user (agency account) the footage is shared with
    purpose TEXT NOT NULL,
    granted_by TEXT NOT NULL,
    granted_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT,
    revoked_by TEXT
);
CREATE INDEX cctv_grants_agency ON cctv_grants (tenant, agency);
