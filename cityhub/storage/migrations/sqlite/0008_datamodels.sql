-- cityhub schema 8: the data-model registry (cityhub/datamodels): models an operator added or
-- changed, by entity type name; the built-in models live in the package and are not stored.
CREATE TABLE data_models (
    type_name TEXT PRIMARY KEY,
    doc TEXT NOT NULL,         -- {"title", "description", "source", "schema", "extends"} (JSON)
    enforce INTEGER NOT NULL,  -- 1: the NGSI-LD API validates entities of this type too
    updated_at TEXT NOT NULL
);
