-- Attribute names interned: the value index keys rows by a small integer instead of the
-- attribute's full IRI. Each of attr_idx's three B-trees held the IRI once per row; a write
-- of a 10-attribute entity dirtied about three times as many index pages as it does now.
CREATE TABLE attr_names (
    nid INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
INSERT INTO attr_names (name) SELECT DISTINCT name FROM attr_idx ORDER BY name;
CREATE TABLE attr_idx_new (
    eid INTEGER NOT NULL,
    name INTEGER NOT NULL, -- attr_names.nid
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    num REAL,
    str TEXT,
    PRIMARY KEY (eid, name, seq)
) WITHOUT ROWID;
INSERT INTO attr_idx_new
    SELECT a.eid, n.nid, a.seq, a.kind, a.num, a.str FROM attr_idx a JOIN attr_names n ON n.name = a.name;
DROP TABLE attr_idx;
ALTER TABLE attr_idx_new RENAME TO attr_idx;
CREATE INDEX attr_idx_num ON attr_idx (name, num) WHERE num IS NOT NULL;
CREATE INDEX attr_idx_str ON attr_idx (name, str);
