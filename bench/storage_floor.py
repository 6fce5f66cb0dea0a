"""What SQLite alone costs for the rows that make one entity queryable.

    python bench/storage_floor.py [--entities 60000] [--attrs 10 15] [--updates 100000] [--stored 60000 2000] [--stored 60000 2000]

Writes, with raw ``executemany`` and no Python work per row beyond building the tuples, the
rows cityhub's SQLite backend writes, 1,000 a transaction with ``synchronous=FULL``:

- **creates**: for an entity of K attribute instances (10: the bench entity of bench/run.py;
  15: a row of the parking import of bench/import_bench.py) the entity, its type, K
  attribute-value index rows, its R-tree box and its change-log row, into the value index as
  it was (attribute IRIs) and as it is (interned attribute numbers);
- **updates**: a change of one attribute of a stored entity (an MQTT measure, a change the
  rules see): the entity's document rewritten, its one value row replaced, a change-log row.

The rates printed are the ceiling the hub's writes reach on this machine with these indexes,
before parsing, validation, history or any consumer; the time per entity is split by table
and the commit (the WAL write and fsync).
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import tempfile
import time

NS = "https://uri.etsi.org/ngsi-ld/default-context/"
BENCH_ATTRS = ["name", "description", "stationCode", "ammonium", "ammonium", "dissolvedOxygen"]
BENCH_ATTRS += ["waterTemperature", "waterTemperature", "location", "refPointOfInterest"]
DOC = b'{"doc": "' + b"x" * 1500 + b'"}'  # about the size of the stored bench entity
Row = tuple[object, ...]
Step = tuple[str, str, list[Row]]  # table, statement, rows


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


def attributes(count: int) -> list[str]:
    """Attribute names of an entity of ``count`` instances: the bench entity's ten (two of
    them multi-attributes), then numbered ones."""
    return (BENCH_ATTRS + [f"attr{k}" for k in range(max(0, count - len(BENCH_ATTRS)))])[:count]


def value_rows(i: int, attrs: list[str], interned: bool, rng: random.Random) -> list[Row]:
    """The attribute-value index rows of entity ``i``: every other attribute numeric."""
    rows: list[Row] = []
    seqs: dict[str, int] = {}
    for attr in attrs:
        seq = seqs[attr] = seqs.get(attr, -1) + 1
        key: object = attrs.index(attr) if interned else NS + attr
        if len(rows) % 2:
            rows.append((i, key, seq, "Property", rng.random(), None))
        else:
            rows.append((i, key, seq, "Property", None, f"v{i % 1000}"))
    return rows


def connect(tmp: str, interned: bool) -> sqlite3.Connection:
    conn = sqlite3.connect(os.path.join(tmp, "floor.db"), isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "cache_size=-65536"):
        conn.execute(f"PRAGMA {pragma}")
    schema(conn, interned)
    return conn


def timed(conn: sqlite3.Connection, spent: dict[str, float], steps: list[Step]) -> None:
    """One durable transaction of ``steps``, the time of each added to ``spent``."""
    conn.execute("BEGIN")
    for table, sql, rows in steps:
        t0 = time.perf_counter()
        conn.executemany(sql, rows)
        spent[table] += time.perf_counter() - t0
    t0 = time.perf_counter()
    conn.execute("COMMIT")
    spent["commit"] += time.perf_counter() - t0


INSERTS = [
    ("entity", "INSERT INTO entities VALUES (?, ?, ?, ?)"),
    ("type", "INSERT INTO type_idx VALUES (?, ?)"),
    ("values", "INSERT INTO attr_idx VALUES (?, ?, ?, ?, ?, ?)"),
    ("box", "INSERT INTO geo_idx VALUES (?, ?, ?, ?, ?, ?, ?)"),
    ("log", "INSERT INTO changes VALUES (?, ?, ?, ?, ?, ?, ?)"),
]
TABLES = [table for table, _ in INSERTS]


def entity_id(i: int) -> str:
    return f"urn:ngsi-ld:Entity:{i:07d}"


def create_steps(start: int, attrs: list[str], interned: bool, rng: random.Random) -> list[Step]:
    """The rows of entities start+1 .. start+1000, by table."""
    rows: dict[str, list[Row]] = {table: [] for table in TABLES}
    for i in range(start + 1, start + 1001):
        eid = entity_id(i)
        rows["entity"].append((i, "", eid, DOC))
        rows["type"].append((i, NS + "Entity"))
        rows["values"].extend(value_rows(i, attrs, interned, rng))
        x, y = rng.random(), rng.random()
        rows["box"].append((i * 4, x, x, y, y, i, NS + "location"))
        rows["log"].append((None, "", eid, "create", "2026-01-01T00:00:00Z", DOC, b"{}"))
    return [(table, sql, rows[table]) for table, sql in INSERTS]


def creates(total: int, count: int, interned: bool) -> tuple[float, dict[str, float]]:
    """Entities/s and µs per entity by table for ``total`` creates of ``count`` instances."""
    with tempfile.TemporaryDirectory() as tmp:
        conn = connect(tmp, interned)
        rng = random.Random(1)
        spent = dict.fromkeys([*TABLES, "commit"], 0.0)
        attrs = attributes(count)
        for start in range(0, total, 1000):
            timed(conn, spent, create_steps(start, attrs, interned, rng))
        conn.close()
    return total / sum(spent.values()), {k: v * 1e6 / total for k, v in spent.items()}


def updates(stored: int, total: int) -> tuple[float, dict[str, float]]:
    """Changes/s and µs per change for ``total`` one-attribute updates of random entities
    among ``stored`` (interned value index)."""
    with tempfile.TemporaryDirectory() as tmp:
        conn = connect(tmp, True)
        rng = random.Random(1)
        for start in range(0, stored, 1000):  # the stored entities (untimed)
            timed(
                conn,
                dict.fromkeys([*TABLES, "commit"], 0.0),
                create_steps(start, BENCH_ATTRS, True, rng),
            )
        spent = dict.fromkeys(["entity", "values", "log", "commit"], 0.0)
        numeric = BENCH_ATTRS.index("dissolvedOxygen")
        for _ in range(0, total, 1000):
            picked = rng.sample(range(1, stored + 1), 1000)
            timed(
                conn,
                spent,
                [
                    (
                        "entity",
                        "UPDATE entities SET doc = ? WHERE pk = ?",
                        [(DOC, i) for i in picked],
                    ),
                    (
                        "values",
                        "DELETE FROM attr_idx WHERE eid = ? AND name = ?",
                        [(i, numeric) for i in picked],
                    ),
                    (
                        "values",
                        "INSERT INTO attr_idx VALUES (?, ?, 0, 'Property', ?, NULL)",
                        [(i, numeric, rng.random()) for i in picked],
                    ),
                    (
                        "log",
                        "INSERT INTO changes VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [
                            (
                                None,
                                "",
                                entity_id(i),
                                "update",
                                "2026-01-01T00:00:00Z",
                                DOC,
                                b'{"dissolvedOxygen": 1}',
                            )
                            for i in picked
                        ],
                    ),
                ],
            )
        conn.close()
    return total / sum(spent.values()), {k: v * 1e6 / total for k, v in spent.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, default=60_000, help="creates per case")
    parser.add_argument(
        "--attrs", type=int, nargs="+", default=[10, 15], help="attribute instances an entity"
    )
    parser.add_argument("--updates", type=int, default=100_000, help="0: no update case")
    parser.add_argument(
        "--stored", type=int, nargs="+", default=[60_000, 2_000], help="entities updated among"
    )
    args = parser.parse_args()
    print("| writes | value index keyed by | per second | µs each, by table and commit |")
    print("|---|---|---|---|")
    for count in args.attrs:
        for interned in (False, True) if count == 10 else (True,):
            rate, split = creates(args.entities, count, interned)
            parts = ", ".join(f"{k} {v:.0f}" for k, v in split.items())
            label = "interned number (now)" if interned else "attribute IRI (schema 19)"
            print(f"| create, {count} attribute instances | {label} | {rate:,.0f} | {parts} |")
    for stored in args.stored if args.updates else []:
        rate, split = updates(max(stored, 1000), args.updates)
        parts = ", ".join(f"{k} {v:.0f}" for k, v in split.items())
        print(
            f"| update of one attribute, {max(stored, 1000):,} stored | interned number (now) | "
            f"{rate:,.0f} | {parts} |"
        )


if __name__ == "__main__":
    main()
