-- cityhub schema 10: the audit log (cityhub/audit), append-only and hash-chained: entry seq
-- holds the hash of entry seq - 1 (prev) and its own hash over every other column.
-- The triggers refusing UPDATE and DELETE are created by cityhub/audit/store.py (AuditLog.open
-- and its first append, CREATE TRIGGER IF NOT EXISTS): this runner splits scripts at every
-- semicolon, and a trigger body needs one inside.
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,  -- 1, 2, 3, ... without gaps
    at TEXT NOT NULL,         -- UTC, microseconds: 2026-11-22T09:00:00.123456Z
    actor TEXT NOT NULL,
    action TEXT NOT NULL,     -- dotted name: auth.login, cctv.grant, ...
    target TEXT NOT NULL,
    tenant TEXT NOT NULL,
    outcome TEXT NOT NULL,
    ip TEXT NOT NULL,
    detail TEXT NOT NULL,     -- a JSON object (canonical: sorted keys)
    prev TEXT NOT NULL,       -- hash of the previous entry, 64 zeros for the first
    hash TEXT NOT NULL        -- sha256 hex of the canonical JSON of the other members
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_tenant ON audit_log (tenant, seq);
