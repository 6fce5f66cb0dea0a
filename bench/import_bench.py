"""Bulk import benchmark: ``cityhub import`` of a national-standard parking CSV.

Generates an N-row CSV in the column layout of 전국주차장정보표준데이터 (CP949, like the real
downloads; about 0.1 % of the rows lack coordinates and are rejected), then, each phase in its
own process so its peak RSS is its own:

1. **read + convert**: the import with nothing written (``--dry-run``): the ceiling the
   pipeline's reading, mapping and projection allow;
2. **direct import** into a fresh SQLite data dir (the in-process sink: entity service,
   ``synchronous`` as the hub's setting, FULL by default);
3. **raw SQLite executemany** of the very JSON documents the import stored (read back from its
   database), 1,000 per transaction into a bare ``(pk, id UNIQUE, doc)`` table, same
   ``synchronous``: what SQLite alone costs;
4. optionally (``--database postgresql://...``) the direct import into PostgreSQL.

It prints rows/s, wall time and peak RSS per phase, and the ratios of the import to the two
baselines. ``--profile`` also runs the direct import under cProfile and prints where the time
goes.

    python bench/import_bench.py [--rows 1000000] [--batch-size 1000] [--concurrency 4]
                                 [--database postgresql://...] [--profile] [--keep DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MAPPING = ROOT / "examples" / "parking" / "parking.toml"
COLUMNS = [
    "주차장관리번호", "주차장명", "주차장구분", "주차장유형", "소재지도로명주소", "소재지지번주소",
    "주차구획수", "급지구분", "부제시행구분", "운영요일", "평일운영시작시각", "평일운영종료시각",
    "토요일운영시작시각", "토요일운영종료시각", "공휴일운영시작시각", "공휴일운영종료시각", "요금정보",
    "주차기본시간", "주차기본요금", "추가단위시간", "추가단위요금", "1일주차권요금적용시간",
    "1일주차권요금", "월정기권요금", "결제방법", "특기사항", "관리기관명", "전화번호", "위도", "경도",
    "장애인전용주차구역보유여부", "데이터기준일자", "제공기관코드", "제공기관명",
]  # fmt: skip
# (시군구 code, name, provider code, lat, lon) around which lots are spread
AREAS = [
    ("11110", "서울특별시 종로구", "3000000", 37.5730, 126.9794),
    ("11140", "서울특별시 중구", "3010000", 37.5638, 126.9976),
    ("11440", "서울특별시 마포구", "3130000", 37.5663, 126.9016),
    ("11650", "서울특별시 서초구", "3210000", 37.4837, 127.0324),
    ("11680", "서울특별시 강남구", "3220000", 37.5172, 127.0473),
    ("41290", "경기도 과천시", "3970000", 37.4292, 126.9876),
    ("26350", "부산광역시 해운대구", "3330000", 35.1631, 129.1636),
    ("50110", "제주특별자치도 제주시", "6500000", 33.4996, 126.5312),
]
ROADS = ["중앙로", "관문로", "세종대로", "테헤란로", "양화로", "별양로", "해운대로", "노형로"]
KINDS = [("노외", "2"), ("노상", "1"), ("부설", "3")]


def generate(path: Path, rows: int, seed: int = 7) -> None:
    """A CSV of ``rows`` plausible parking lots (CP949)."""
    rng = random.Random(seed)
    with open(path, "w", encoding="cp949", newline="") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow(COLUMNS)
        for i in range(rows):
            code, name, org, lat, lon = AREAS[i % len(AREAS)]
            kind, kcode = KINDS[rng.randrange(3)]
            public = rng.random() < 0.8
            fee = rng.choice(["유료", "유료", "유료", "무료", "혼합"])
            allday = rng.random() < 0.6
            times = (
                ["00:00", "23:59"] * 3
                if allday
                else ["09:00", "18:00", "09:00", "13:00", "00:00", "00:00"]
            )
            basic = ["5", "250", "5", "250"] if fee != "무료" else ["", "", "", ""]
            bad = rng.random() < 0.001
            w.writerow(
                [
                    f"{code}-{kcode}-{i:07d}",
                    f"{ROADS[i % 8]}{'공영' if public else '민영'}주차장{i}",
                    "공영" if public else "민영",
                    kind,
                    f"{name} {ROADS[i % 8]} {rng.randint(1, 400)}",
                    f"{name} {rng.randint(1, 999)}-{rng.randint(1, 40)}",
                    str(rng.randint(5, 1500)),
                    str(rng.randint(1, 5)),
                    "미시행",
                    "평일+토요일+공휴일" if allday else "평일+토요일",
                    *times,
                    fee,
                    *basic,
                    "", "", "" if rng.random() < 0.5 else "100000",
                    rng.choice(["카드+현금", "카드", "카드+현금+교통카드"]),
                    "",
                    f"{name.split()[-1]}시설관리공단",
                    f"02-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
                    "" if bad else f"{lat + rng.uniform(-0.03, 0.03):.6f}",
                    "" if bad else f"{lon + rng.uniform(-0.03, 0.03):.6f}",
                    rng.choice("YN"),
                    "2025-09-30",
                    org,
                    name,
                ]
            )  # fmt: skip


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- phases (each run in its own process) ---------------------------------------------------


def phase_import(args: argparse.Namespace) -> dict[str, Any]:
    from cityhub.importer import ImportOptions, run_import

    opts = ImportOptions(
        args.csv,
        str(MAPPING),
        data_dir=args.data_dir,
        database=args.database,
        dry_run=args.phase == "convert",
        batch_size=args.batch_size,
        concurrency=args.concurrency,
        state=args.state,
        quiet=True,
        progress=False,
    )
    t0 = time.perf_counter()
    if args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        result = prof.runcall(run_import, opts)
        seconds = time.perf_counter() - t0
        stats = pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative")
        stats.print_stats(30)
        stats.sort_stats("tottime").print_stats(30)
    else:
        result = run_import(opts)
        seconds = time.perf_counter() - t0
    return {
        "rows": result.rows,
        "imported": result.imported,
        "rejected": result.rejected,
        "seconds": seconds,
        "rss": peak_rss_mib(),
    }


def phase_raw(args: argparse.Namespace) -> dict[str, Any]:
    """executemany of the documents the import stored, into a bare table."""
    source = sqlite3.connect(os.path.join(args.data_dir, "cityhub.db"))
    path = os.path.join(args.data_dir, "raw.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={args.synchronous}")
    conn.execute("CREATE TABLE t (pk INTEGER PRIMARY KEY, id TEXT UNIQUE, doc BLOB)")
    cur = source.execute("SELECT id, doc FROM entities ORDER BY pk")
    rows, seconds = 0, 0.0
    while docs := cur.fetchmany(1000):
        t0 = time.perf_counter()
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO t (id, doc) VALUES (?, ?)", docs)
        conn.execute("COMMIT")
        seconds += time.perf_counter() - t0
        rows += len(docs)
    conn.close()
    source.close()
    return {"rows": rows, "seconds": seconds, "rss": peak_rss_mib()}


def run_phase(phase: str, args: argparse.Namespace, **extra: str) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--phase", phase, "--csv", args.csv]
    cmd += ["--batch-size", str(args.batch_size), "--concurrency", str(args.concurrency)]
    for key, value in extra.items():
        cmd += [f"--{key.replace('_', '-')}", value]
    if args.profile and phase == "direct":
        cmd.append("--profile")
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--database", help="also import into this PostgreSQL database")
    parser.add_argument("--profile", action="store_true", help="cProfile the direct import")
    parser.add_argument("--keep", help="generate into / keep files in this directory")
    # internal: one phase in this process
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--csv", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--state", help=argparse.SUPPRESS)
    parser.add_argument("--synchronous", default="FULL", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase:
        fn = phase_raw if args.phase == "raw" else phase_import
        print(json.dumps(fn(args)))
        return

    tmp = args.keep or tempfile.mkdtemp(prefix="cityhub-import-bench-")
    os.makedirs(tmp, exist_ok=True)
    try:
        csv_path = Path(tmp) / f"parking-{args.rows}.csv"
        if not csv_path.exists():
            t0 = time.perf_counter()
            generate(csv_path, args.rows)
            print(f"generated {csv_path} ({csv_path.stat().st_size / 2**20:.0f} MiB) in "
                  f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)  # fmt: skip
        args.csv = str(csv_path)
        synchronous = os.environ.get("CITYHUB_SQLITE_SYNCHRONOUS", "FULL").upper()
        data = Path(tmp) / "data"
        shutil.rmtree(data, ignore_errors=True)
        for old in Path(tmp).glob("state-*.json"):
            old.unlink()  # a fresh import each run, not "already imported"
        figures: dict[str, dict[str, Any]] = {}
        figures["convert"] = run_phase("convert", args)
        figures["direct"] = run_phase(
            "direct", args, data_dir=str(data), state=str(Path(tmp) / "state-direct.json")
        )
        figures["raw"] = run_phase("raw", args, data_dir=str(data), synchronous=synchronous)
        if args.database:
            figures["postgres"] = run_phase(
                "direct", args, database=args.database, state=str(Path(tmp) / "state-pg.json")
            )
        report(figures, args, synchronous)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def report(figures: dict[str, dict[str, Any]], args: argparse.Namespace, sync: str) -> None:
    names = {
        "convert": "read + convert only (--dry-run)",
        "direct": f"direct import, SQLite (synchronous={sync})",
        "raw": f"raw SQLite executemany of the stored documents (synchronous={sync})",
        "postgres": "direct import, PostgreSQL",
    }
    print(f"\n{args.rows:,} rows, batch {args.batch_size}, concurrency {args.concurrency}\n")
    print("| phase | rows/s | wall s | peak RSS MiB | rows |\n|---|---|---|---|---|")
    for key, f in figures.items():
        rate = f["rows"] / f["seconds"] if f["seconds"] else 0.0
        f["rate"] = rate
        rows = f"{f['rows']:,}" + (f" ({f['rejected']:,} rejected)" if f.get("rejected") else "")
        print(f"| {names[key]} | {rate:,.0f} | {f['seconds']:.1f} | {f['rss']:.0f} | {rows} |")
    direct = figures["direct"]["rate"]
    print(
        f"\nratios: direct import / read+convert = {direct / figures['convert']['rate']:.2f}; "
        f"direct import / raw executemany = {direct / figures['raw']['rate']:.3f}"
    )


if __name__ == "__main__":
    main()
