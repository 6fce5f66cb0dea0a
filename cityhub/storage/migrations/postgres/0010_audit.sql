-- cityhub schema 10: the audit log (cityhub/audit), append-only and hash-chained: entry seq
-- holds the hash of entry seq - 1 (prev) and its own hash over every other column. Appends are
-- serialised by a transaction-level advisory lock (cityhub/audit/store.py).
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,   -- 1, 2, 3, ... without gaps
    at TEXT NOT NULL,         -- UTC, microseconds: 2026-11-22T09:00:00.123456Z
    actor TEXT NOT NULL,
    action TEXT NOT NULL,     -- dotted name: auth.login, cctv.grant, ...
    target TEXT NOT NULL,
    tenant TEXT NOT NULL,
    outcome TEXT NOT NULL,
    ip TEXT NOT NULL,
    detail TEXT NOT NULL,     -- a JSON object as hashed (text, not jsonb: kept byte for byte)
    prev TEXT NOT NULL,       -- hash of the previous entry, 64 zeros for the first
    hash TEXT NOT NULL        -- sha256 hex of the canonical JSON of the other members
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_tenant ON audit_log (tenant, seq);

-- append-only: rows can be inserted, never changed or removed (TRUNCATE included)
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit log is append-only';
END
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
