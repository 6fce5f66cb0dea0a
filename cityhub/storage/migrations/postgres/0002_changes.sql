-- cityhub schema 2: the change log (written with every entity change) and consumer cursors.
-- xid: the writing transaction, so a reader can tell a gap left by a transaction still running
-- from one left by a rolled back transaction.
CREATE TABLE changes (
    seq BIGSERIAL PRIMARY KEY,
    tenant TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    op TEXT NOT NULL,
    at TEXT NOT NULL,
    doc JSON NOT NULL,
    prev JSON NOT NULL,
    xid xid8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE TABLE cursors (
    name TEXT PRIMARY KEY,
    seq BIGINT NOT NULL
);
