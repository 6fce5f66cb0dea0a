-- cityhub schema 1: entities (stored form as JSON, key order kept) with type, attribute-value and geo indexes.
CREATE TABLE tenants (
    name TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
);
CREATE TABLE entities (
    pk BIGSERIAL PRIMARY KEY,
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    doc JSON NOT NULL,
    UNIQUE (tenant, id)
);
CREATE TABLE type_idx (
    eid BIGINT NOT NULL,
    type TEXT NOT NULL
);
CREATE INDEX type_idx_type ON type_idx (type, eid);
CREATE INDEX type_idx_eid ON type_idx (eid);
CREATE TABLE attr_idx (
    eid BIGINT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    num DOUBLE PRECISION,
    str TEXT
);
CREATE INDEX attr_idx_num ON attr_idx (name, num);
CREATE INDEX attr_idx_str ON attr_idx (name, str);
CREATE INDEX attr_idx_eid ON attr_idx (eid);
CREATE TABLE geo_idx (
    eid BIGINT NOT NULL,
    name TEXT NOT NULL,
    bbox BOX NOT NULL
);
CREATE INDEX geo_idx_bbox ON geo_idx USING GIST (bbox);
CREATE INDEX geo_idx_eid ON geo_idx (eid);
CREATE TABLE jsonld_contexts (
    ident TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    url TEXT NOT NULL,
    kind TEXT NOT NULL,
    body JSON NOT NULL,
    created_at TEXT NOT NULL
);
