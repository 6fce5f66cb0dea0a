"""Helpers of the importer tests: files, the command run in-process, entities stored."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson
from click.testing import CliRunner, Result

from cityhub.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "parking"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """Write a text file (CSVs in cp949 like the real downloads when asked)."""
    path.write_bytes(text.encode(encoding))
    return path


def cli(*args: str | Path) -> Result:
    """Run ``cityhub import ARGS`` in-process."""
    return CliRunner().invoke(main, ["import", *map(str, args)], catch_exceptions=False)


def stored(data_dir: Path, tenant: str = "") -> dict[str, dict[str, Any]]:
    """The entities of a data dir's SQLite database, by id (stored, expanded form)."""
    conn = sqlite3.connect(data_dir / "cityhub.db")
    try:
        rows = conn.execute("SELECT id, doc FROM entities WHERE tenant = ?", (tenant,)).fetchall()
    finally:
        conn.close()
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids)), "an entity id is stored twice"
    return {r[0]: orjson.loads(r[1]) for r in rows}


def value(entity: dict[str, Any], name: str) -> Any:
    """The value of an attribute (default @context name) of a stored entity."""
    if name.startswith("ngsi-ld:"):
        iri = "https://uri.etsi.org/ngsi-ld/" + name.removeprefix("ngsi-ld:")
    else:
        iri = f"https://uri.etsi.org/ngsi-ld/default-context/{name}"
    (inst,) = entity["attrs"][iri]
    return inst.get("value", inst.get("object", inst.get("languageMap")))


PARKING_COLUMNS = "주차장관리번호,주차장명,주차장구분,주차구획수,요금정보,위도,경도,데이터기준일자"


def parking_csv(n: int, bad: dict[int, str] | None = None) -> str:
    """A small CSV of ``n`` parking lots; ``bad`` replaces row i (1-based) with a given row."""
    lines = [PARKING_COLUMNS]
    for i in range(1, n + 1):
        if bad and i in bad:
            lines.append(bad[i])
            continue
        lat, lon = 37.40 + i * 0.001, 126.95 + i * 0.001
        lines.append(f"P-{i:05d},주차장{i},공영,{10 + i},유료,{lat:.6f},{lon:.6f},2025-09-30")
    return "\n".join(lines) + "\n"


PARKING_MAPPING = """
type = "OffStreetParking"
id = "urn:ngsi-ld:OffStreetParking:{주차장관리번호}"
timezone = "Asia/Seoul"

[location]
x = "경도"
y = "위도"
bounds = [124.5, 33.0, 132.0, 38.7]

[attributes.name]
column = "주차장명"
required = true

[attributes.category]
column = "주차장구분"
map = { "공영" = "public", "민영" = "private" }
list = true

[attributes.totalSpotNumber]
column = "주차구획수"
type = "integer"

[attributes.dateModified]
column = "데이터기준일자"
type = "datetime"
format = "%Y-%m-%d"
"""
