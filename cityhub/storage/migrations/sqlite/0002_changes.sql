-- cityhub schema 2: the change log (written with every entity change) and consumer cursors.
CREATE TABLE changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    op TEXT NOT NULL,
    at TEXT NOT NULL,
    doc BLOB NOT NULL,
    prev BLOB NOT NULL
);
CREATE TABLE cursors (
    name TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
);
