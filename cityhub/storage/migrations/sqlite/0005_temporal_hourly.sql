-- cityhub schema 5: hourly rollups of the temporal history (cityhub/temporal/store.py), so
-- aggregations by whole hours read one row per series and hour instead of every instance.
CREATE TABLE temporal_hourly (
    sid INTEGER NOT NULL,
    hour INTEGER NOT NULL, -- observedAt µs / 3,600,000,000
    cnt INTEGER NOT NULL,  -- live instances
    n INTEGER NOT NULL,    -- of which numeric
    total REAL NOT NULL,
    sumsq REAL NOT NULL,
    lo REAL,
    hi REAL,
    PRIMARY KEY (sid, hour)
) WITHOUT ROWID;
INSERT INTO temporal_hourly
SELECT sid, observed / 3600000000, count(*), count(num), coalesce(sum(num), 0),
       coalesce(sum(num * num), 0), min(num), max(num)
FROM temporal_instances WHERE deleted = 0 AND observed >= 0
GROUP BY sid, observed / 3600000000;
