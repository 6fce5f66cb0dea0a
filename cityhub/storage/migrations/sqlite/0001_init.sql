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
CREATE TABLE type_idx (
    eid INTEGER NOT NULL,
    type TEXT NOT NULL
);
CREATE INDEX type_idx_type ON type_idx (type, eid);
CREATE INDEX type_idx_eid ON type_idx (eid);
CREATE TABLE attr_idx (
    eid INTEGER NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    num REAL,
    str TEXT
);
CREATE INDEX attr_idx_num ON attr_idx (name, num);
CREATE INDEX attr_idx_str ON attr_idx (name, str);
CREATE INDEX attr_idx_eid ON attr_idx (eid);
CREATE VIRTUAL TABLE geo_idx USING rtree (gid, minx, maxx, miny, maxy, +eid INTEGER, +name TEXT);
CREATE TABLE geo_owner (
    gid INTEGER PRIMARY KEY,
    eid INTEGER NOT NULL
);
CREATE INDEX geo_owner_eid ON geo_owner (eid);
CREATE TABLE jsonld_contexts (
    ident TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    url TEXT NOT NULL,
    kind TEXT NOT NULL,
    body BLOB NOT NULL,
    created_at TEXT NOT NULL
);
