"""What SQLite alone costs for the rows that make one entity queryable.

    python bench/storage_floor.py [--entities 60000]

Writes, with raw ``executemany`` and no Python work per row beyond building the tuples, the
rows cityhub's SQLite backend writes for a 10-attribute entity (the entity, its type, ten
attribute-value index rows, its R-tree box, its change-log row), 1,000 entities a
transaction with ``synchronous=FULL``, into the schema as it was (attribute IRIs in the value
index) and as it is (interned attribute numbers). The rate printed is the ceiling a batch
upsert can reach on this machine with these indexes, before parsing, validation, history or
any consumer; the time per entity is split by table and the commit (the WAL write and fsync).
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import tempfile
import time

NS = "https://uri.etsi.org/ngsi-ld/default-context/"
ATTRS = ["name", "description", "stationCode", "ammonium", "ammonium", "dissolvedOxygen"]
ATTRS += ["waterTemperature", "waterTemperature", "location", "refPointOfInterest"]
NUMERIC = {3, 4, 5, 6, 7}
DOC = b'{"doc": "' + b"x" * 1500 + b'"}'  # about the size of the stored bench entity


def schema(conn: sqlite3.Connection, interned: bool) -> None:
    name = "INTEGER" if interned else "TEXT"
    for sql in (
        "CREATE TABLE entities (pk INTEGER PRIMARY KEY, tenant TEXT NOT NULL, id TEXT NOT NULL, "
        "doc BLOB NOT NULL, UNIQUE (tenant, id))",
        "CREATE TABLE type_idx (eid INTEGER NOT NULL, type TEXT NOT NULL, "
        "PRIMARY KEY (eid, type)) WITHOUT ROWID",
        "CREATE INDEX type_idx_type ON type_idx (type, eid)",
        f"CREATE TABLE attr_idx (eid INTEGER NOT NULL, name {name} NOT NULL, seq INTEGER NOT "
        "NULL, kind TEXT NOT NULL, num REAL, str TEXT, PRIMARY KEY (eid, name, seq)) WITHOUT ROWID",
        "CREATE INDEX attr_idx_num ON attr_idx (name, num) WHERE num IS NOT NULL",
        "CREATE INDEX attr_idx_str ON attr_idx (name, str)",
        "CREATE VIRTUAL TABLE geo_idx USING rtree (gid, minx, maxx, miny, maxy, +eid INTEGER, "
        "+name TEXT)",
        "CREATE TABLE changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, tenant TEXT NOT NULL, "
        "entity_id TEXT NOT NULL, op TEXT NOT NULL, at TEXT NOT NULL, doc BLOB NOT NULL, "
        "prev BLOB NOT NULL)",
    ):
        conn.execute(sql)


def run(total: int, interned: bool) -> tuple[float, dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(os.path.join(tmp, "floor.db"), isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "cache_size=-65536"):
            conn.execute(f"PRAGMA {pragma}")
        schema(conn, interned)
        rng = random.Random(1)
        spent = dict.fromkeys(["entity", "type", "values", "box", "log", "commit"], 0.0)
        for start in range(0, total, 1000):
            rows: dict[str, list[tuple[object, ...]]] = {k: [] for k in spent}
            for i in range(start + 1, start + 1001):
                eid = f"urn:ngsi-ld:Entity:{i:07d}"
                rows["entity"].append((i, "", eid, DOC))
                rows["type"].append((i, NS + "Entity"))
                seqs: dict[str, int] = {}
                for k, attr in enumerate(ATTRS):
                    seq = seqs[attr] = seqs.get(attr, -1) + 1
                    key: object = k if interned else NS + attr
                    if k in NUMERIC:
                        rows["values"].append((i, key, seq, "Property", rng.random(), None))
                    else:
                        rows["values"].append((i, key, seq, "Property", None, f"v{i % 1000}"))
                x, y = rng.random(), rng.random()
                rows["box"].append((i * 4, x, x, y, y, i, NS + "location"))
                rows["log"].append((None, "", eid, "create", "2026-01-01T00:00:00Z", DOC, b"{}"))
            conn.execute("BEGIN")
            for table, sql in (
                ("entity", "INSERT INTO entities VALUES (?, ?, ?, ?)"),
                ("type", "INSERT INTO type_idx VALUES (?, ?)"),
                ("values", "INSERT INTO attr_idx VALUES (?, ?, ?, ?, ?, ?)"),
                ("box", "INSERT INTO geo_idx VALUES (?, ?, ?, ?, ?, ?, ?)"),
                ("log", "INSERT INTO changes VALUES (?, ?, ?, ?, ?, ?, ?)"),
            ):
                t0 = time.perf_counter()
                conn.executemany(sql, rows[table])
                spent[table] += time.perf_counter() - t0
            t0 = time.perf_counter()
            conn.execute("COMMIT")
            spent["commit"] += time.perf_counter() - t0
        conn.close()
    return total / sum(spent.values()), {k: v * 1e6 / total for k, v in spent.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, default=60_000)
    args = parser.parse_args()
    print(
        "| value index keyed by | entities/s | µs per entity: "
        + ", ".join(["entity", "type", "values", "box", "log", "commit"])
        + " |"
    )
    print("|---|---|---|")
    for interned in (False, True):
        rate, split = run(args.entities, interned)
        parts = ", ".join(f"{v:.0f}" for v in split.values())
        label = "interned number (now)" if interned else "attribute IRI (schema 19)"
        print(f"| {label} | {rate:,.0f} | {parts} |")


if __name__ == "__main__":
    main()
