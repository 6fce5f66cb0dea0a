-- cityhub schema 1: entities (stored form as JSON) with type, attribute-value and geo indexes.
CREATE TABLE tenants (
    name TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
);
CREATE TABLE entities (
    pk INTEGER PRIMARY KEY,
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    doc BLOB NOT NULL,
    UNIQUE (tenant, id)
);
-- index tables are clustered by entity (WITHOUT ROWID), so dropping an entity's rows is one
-- range delete and needs no extra index
CREATE TABLE type_idx (
    eid INTEGER NOT NULL,
    type TEXT NOT NULL,
    PRIMARY KEY (eid, type)
) WITHOUT ROWID;
CREATE INDEX type_idx_type ON type_idx (type, eid);
CREATE TABLE attr_idx (
    eid INTEGER NOT NULL,
    name TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    num REAL,
    str TEXT,
    PRIMARY KEY (eid, name, seq)
) WITHOUT ROWID;
CREATE INDEX attr_idx_num ON attr_idx (name, num) WHERE num IS NOT NULL;
CREATE INDEX attr_idx_str ON attr_idx (name, str);
-- geo rows: gid = entity pk * 1024 + n (n-th GeoProperty instance of the entity)
CREATE VIRTUAL TABLE geo_idx USING rtree (gid, minx, maxx, miny, maxy, +eid INTEGER, +name TEXT);
CREATE TABLE jsonld_contexts (
    ident TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    url TEXT NOT NULL,
    kind TEXT NOT NULL,
    body BLOB NOT NULL,
    created_at TEXT NOT NULL
);
