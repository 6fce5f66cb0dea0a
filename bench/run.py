"""Data hub benchmarks: writes, reads, batch, query and geo-query, against same-run baselines.

    python bench/run.py [--quick] [--entities 100000] [--postgres URL]

Starts a bare ASGI app and `cityhub serve` (SQLite, synchronous=FULL: every acknowledged write
durable) on loopback, drives both with the same load generator, and prints a table of figures,
each with its ratio to the baseline measured in this run. Uses the entity shape of Stellio's
public load tests (shared bench template) so figures compare with theirs.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import loadgen  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = json.loads((Path(__file__).parent / "entity-template.json").read_text())
JSON = "application/json"
GWACHEON = (126.95, 37.40, 127.03, 37.46)  # lon/lat box the entities are spread over


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def entity(i: int, rng: random.Random) -> dict[str, Any]:
    """The i-th benchmark entity: the Stellio shape with a varying station code and place."""
    e = copy.deepcopy(TEMPLATE)
    e["id"] = f"urn:ngsi-ld:Entity:{i:07d}"
    e["stationCode"]["value"] = f"ST{i % 1000:05d}"
    e["dissolvedOxygen"]["value"] = round(rng.uniform(0, 100), 3)
    e["location"]["value"]["coordinates"] = [
        rng.uniform(GWACHEON[0], GWACHEON[2]),
        rng.uniform(GWACHEON[1], GWACHEON[3]),
    ]
    return e


class Proc:
    """A server process on a free port, waited for until it answers."""

    def __init__(self, args: list[str], probe: str) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [a.replace("{port}", str(self.port)) for a in args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
            # a benchmark measures the hub, not its per-client rate limit
            env={**os.environ, "CITYHUB_RATE_LIMIT_PER_S": "0"},
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{self.port}{probe}", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"server {args} did not start")

    def memory_mb(self) -> tuple[float, float]:
        """Peak RSS, and the private (anonymous) part of the current RSS: the rest is the
        database file mapped by SQLite (mmap), which the kernel can drop at any time."""
        peak = anon = 0.0
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
            elif line.startswith("RssAnon:"):
                anon = int(line.split()[1]) / 1024
        return peak, anon

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def cityhub(database: str, auth: str = "off") -> Proc:
    """A hub on loopback; auth off unless asked: a benchmark measures the hub, not access
    control (bench/auth.py measures that)."""
    return Proc(
        [
            sys.executable,
            "-m",
            "cityhub",
            "serve",
            "--port",
            "{port}",
            "--database",
            database,
            "--log-level",
            "warning",
            "--auth",
            auth,
        ],
        "/version",
    )


def baseline() -> Proc:
    return Proc(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.baseline_app:app",
            "--port",
            "{port}",
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        "/",
    )


def drive(port: int, make: Any, total: int, concurrency: int = 16) -> loadgen.Result:
    return asyncio.run(loadgen.run("127.0.0.1", port, make, total, concurrency))


def http_figures(
    hub: Proc,
    base: Proc,
    n: int,
    offset: int,
    rows: list[list[str]],
    label: str,
    ref: dict[str, float] | None = None,
) -> dict[str, float]:
    """create / partial update / single GET rates against the bare ASGI baseline."""
    rng = random.Random(7)
    bodies = [json.dumps(entity(offset + i, rng)).encode() for i in range(n)]
    ids = [f"urn:ngsi-ld:Entity:{offset + i:07d}" for i in range(n)]
    upd = json.dumps({"type": "Property", "value": "renamed"}).encode()
    cases = {
        "create": lambda i: ("POST", "/ngsi-ld/v1/entities", bodies[i], JSON),
        "partial update": lambda i: (
            "PATCH",
            f"/ngsi-ld/v1/entities/{ids[(i * 7919) % n]}/attrs/name",
            upd,
            JSON,
        ),
        "single GET": lambda i: ("GET", f"/ngsi-ld/v1/entities/{ids[(i * 104729) % n]}", b"", JSON),
    }
    out: dict[str, float] = {}
    for name, make in cases.items():
        b = drive(base.port, make, n)
        settle(hub)  # no backlog from the previous figure
        h = drive(hub.port, make, n)
        bad = {s: c for s, c in h.statuses.items() if s >= 300}
        note = f"errors {bad}" if bad else ""
        out[name] = h.rate
        vs = f"{h.rate / ref[name]:.2f}× SQLite" if ref else ""
        rows.append(
            [
                f"{label} {name} /s",
                f"{h.rate:,.0f}",
                f"{h.rate / b.rate:.2f}",
                f"p50 {h.pct(50):.1f} ms p99 {h.pct(99):.1f} ms {vs} {note}".strip(),
            ]
        )
    return out


def settle(hub: Proc, timeout_s: float = 600.0) -> float:
    """Wait until the change-log consumers (history, subscriptions) have caught up with every
    write (GET /cityhub/v1/status); returns the seconds it took."""
    t0 = time.perf_counter()
    with httpx.Client(base_url=f"http://127.0.0.1:{hub.port}", timeout=30) as c:
        while time.perf_counter() - t0 < timeout_s:
            consumers = c.get("/cityhub/v1/status").json()["consumers"]
            if all(x["behind"] == 0 for x in consumers.values()):
                break
            time.sleep(0.05)
    return time.perf_counter() - t0


def batch_figures(hub: Proc, total: int, rows: list[list[str]]) -> list[dict[str, Any]]:
    """Batch upsert of ``total`` entities (1,000 per request) vs raw executemany."""
    rng = random.Random(11)
    ents = [entity(i, rng) for i in range(total)]
    per = 1000
    bodies = [json.dumps(ents[i : i + per]).encode() for i in range(0, total, per)]
    res = drive(
        hub.port,
        lambda i: ("POST", "/ngsi-ld/v1/entityOperations/upsert", bodies[i], JSON),
        len(bodies),
        concurrency=2,
    )
    rate = total / res.seconds
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(os.path.join(tmp, "raw.db"), isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE t (pk INTEGER PRIMARY KEY, id TEXT UNIQUE, doc BLOB)")
        docs = [(e["id"], json.dumps(e).encode()) for e in ents]
        t0 = time.perf_counter()
        for i in range(0, total, per):
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO t (id, doc) VALUES (?, ?)", docs[i : i + per])
            conn.execute("COMMIT")
        raw = total / (time.perf_counter() - t0)
        conn.close()
    bad = {s: c for s, c in res.statuses.items() if s >= 300}
    behind = settle(hub)  # the history of every attribute, recorded from the change log
    rows.append(
        [
            "batch upsert entities/s",
            f"{rate:,.0f}",
            f"{rate / raw:.2f}",
            f"baseline raw executemany {raw:,.0f} rows/s; with the history recorded "
            f"{total / (res.seconds + behind):,.0f}/s {bad or ''}".strip(),
        ]
    )
    return ents


def latency(port: int, paths: list[str]) -> tuple[float, float, set[int]]:
    """p50/p95 in ms of sequential GETs, and the statuses seen."""
    times, statuses = [], set()
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
        for p in paths:
            t0 = time.perf_counter()
            r = c.get(p)
            times.append(time.perf_counter() - t0)
            statuses.add(r.status_code)
    times.sort()
    return (statistics.median(times) * 1000, times[int(0.95 * len(times)) - 1] * 1000, statuses)


def query_figures(hub: Proc, base: Proc, total: int, rows: list[list[str]]) -> None:
    rng = random.Random(3)
    base50, base95, _ = latency(base.port, ["/ngsi-ld/v1/entities?type=Entity"] * 200)
    cases = {
        'type + q equality (stationCode=="ST…", 100 matches, count)': [
            f'/ngsi-ld/v1/entities?type=Entity&count=true&q=stationCode=="ST{rng.randrange(1000):05d}"'
            for _ in range(200)
        ],
        "type + q range (dissolvedOxygen 1% band)": [
            f"/ngsi-ld/v1/entities?type=Entity&q=dissolvedOxygen=={x:.1f}..{x + 1:.1f}"
            for x in (rng.uniform(0, 99) for _ in range(200))
        ],
        "geoQ near;maxDistance==500": [
            "/ngsi-ld/v1/entities?type=Entity&georel=near;maxDistance==500&geometry=Point"
            f"&coordinates=[{rng.uniform(GWACHEON[0], GWACHEON[2]):.5f},"
            f"{rng.uniform(GWACHEON[1], GWACHEON[3]):.5f}]"
            for _ in range(200)
        ],
    }
    for name, paths in cases.items():
        p50, p95, statuses = latency(hub.port, paths)
        rows.append(
            [
                f"{name} @ {total:,} p95 ms",
                f"{p95:.1f}",
                f"{p95 / base95:.1f}",
                f"p50 {p50:.1f} ms; baseline p95 {base95:.2f} ms; statuses {sorted(statuses)}",
            ]
        )


def markdown_table(rows: list[list[str]]) -> None:
    """Print (figure, result, notes) rows as a Markdown table."""
    width = [max(len(r[i]) for r in rows) for i in range(3)]
    print("| figure | result | notes |\n|---|---|---|")
    for r in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, width, strict=True)) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts (smoke run)")
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--postgres", help="also run the HTTP figures on this PostgreSQL URL")
    args = parser.parse_args()
    n = 2000 if args.quick else 10_000
    total = 10_000 if args.quick else args.entities
    rows: list[list[str]] = []
    base = baseline()
    with tempfile.TemporaryDirectory() as tmp:
        hub = cityhub(f"sqlite:///{tmp}/hub.db")
        try:
            print(f"loading {total:,} entities by batch upsert…", file=sys.stderr)
            batch_figures(hub, total, rows)
            print("HTTP figures (SQLite)…", file=sys.stderr)
            ref = http_figures(hub, base, n, 5_000_000, rows, "SQLite")
            print("query figures…", file=sys.stderr)
            query_figures(hub, base, total, rows)
            peak, anon = hub.memory_mb()
            rows.append(
                [
                    "cityhub peak RSS MB (SQLite)",
                    f"{peak:.0f}",
                    "",
                    f"private (heap) part now {anon:.0f} MB",
                ]
            )
        finally:
            hub.stop()
        if args.postgres:
            print("HTTP figures (PostgreSQL)…", file=sys.stderr)
            pg = cityhub(args.postgres)
            try:
                http_figures(pg, base, n, 6_000_000, rows, "PostgreSQL", ref)
                peak, anon = pg.memory_mb()
                rows.append(
                    [
                        "cityhub peak RSS MB (PostgreSQL)",
                        f"{peak:.0f}",
                        "",
                        f"private now {anon:.0f} MB",
                    ]
                )
            finally:
                pg.stop()
    base.stop()
    header = ["figure", "value", "ratio to baseline", "notes"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    for r in [header, ["-" * w for w in widths], *rows]:
        print(" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))


if __name__ == "__main__":
    main()
