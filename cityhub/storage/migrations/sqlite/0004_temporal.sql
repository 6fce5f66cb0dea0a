-- cityhub schema 4: the temporal API's history (cityhub/temporal/store.py describes it).
-- Times are integer microseconds since the epoch (UTC); instances are clustered by series and
-- time, so lastN and time-range reads of one attribute are one range scan.
CREATE TABLE temporal_entities (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    types BLOB NOT NULL,
    scope BLOB,
    created_at TEXT NOT NULL,
    modified_at TEXT NOT NULL,
    deleted_at TEXT,
    PRIMARY KEY (tenant, id)
) WITHOUT ROWID;
CREATE TABLE temporal_series (
    sid INTEGER PRIMARY KEY,
    tenant TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    attr TEXT NOT NULL,
    dataset TEXT NOT NULL,
    kind TEXT NOT NULL,
    UNIQUE (tenant, entity_id, attr, dataset)
);
CREATE TABLE temporal_instances (
    sid INTEGER NOT NULL,
    observed INTEGER NOT NULL,
    instance_id TEXT NOT NULL,
    modified INTEGER NOT NULL,
    created INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    num REAL,
    val TEXT,
    doc BLOB NOT NULL,
    PRIMARY KEY (sid, observed, instance_id)
) WITHOUT ROWID;
