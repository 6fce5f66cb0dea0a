-- cityhub schema 4: the temporal API's history (cityhub/temporal/store.py describes it).
-- Times are bigint microseconds since the epoch (UTC), as in SQLite, so both backends share
-- their SQL. Plain tables: correct with or without TimescaleDB.
CREATE TABLE temporal_entities (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    types JSON NOT NULL,
    scope JSON,
    created_at TEXT NOT NULL,
    modified_at TEXT NOT NULL,
    deleted_at TEXT,
    PRIMARY KEY (tenant, id)
);
CREATE TABLE temporal_series (
    sid BIGSERIAL PRIMARY KEY,
    tenant TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    attr TEXT NOT NULL,
    dataset TEXT NOT NULL,
    kind TEXT NOT NULL,
    UNIQUE (tenant, entity_id, attr, dataset)
);
CREATE TABLE temporal_instances (
    sid BIGINT NOT NULL,
    observed BIGINT NOT NULL,
    instance_id TEXT NOT NULL,
    modified BIGINT NOT NULL,
    created BIGINT NOT NULL,
    deleted SMALLINT NOT NULL,
    num DOUBLE PRECISION,
    val TEXT,
    doc JSON NOT NULL
);
CREATE INDEX temporal_instances_series_time ON temporal_instances (sid, observed);
