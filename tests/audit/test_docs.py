"""The offline checker in docs/audit.md, run as an auditor would on real exports: it accepts
them, and refuses a changed entry, a removed one, and a partial export with the wrong anchor."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import orjson
import pytest

from cityhub.audit import AuditLog

pytestmark = pytest.mark.anyio
DOC = Path(__file__).parents[2] / "docs" / "audit.md"


def checker(tmp_path: Path) -> Path:
    text = DOC.read_text(encoding="utf-8")
    found = re.search(r"<!-- check_audit\.py[^>]*-->\n```python\n(.*?)```", text, re.S)
    assert found, "docs/audit.md lost its check_audit.py block"
    path = tmp_path / "check_audit.py"
    path.write_text(found.group(1), encoding="utf-8")
    return path


def run(script: Path, export: Path, *anchor: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(script), str(export), *anchor],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_offline_checker(api: httpx.AsyncClient, audit: AuditLog, tmp_path: Path) -> None:
    script = checker(tmp_path)
    written = [
        await audit.record("kim", "cctv.view", detail={"i": i, "x": 1e-7, "note": "비상"})
        for i in range(20)
    ]
    full = tmp_path / "full.jsonl"
    full.write_bytes((await api.get("/cityhub/v1/audit/export")).content)
    done = run(script, full)
    assert done.returncode == 0, done.stderr
    assert f"ok: entries up to 20, last hash {written[-1].hash}" in done.stdout

    lines = full.read_bytes().splitlines()
    changed = orjson.loads(lines[7]) | {"actor": "lee"}
    tampered = tmp_path / "changed.jsonl"
    tampered.write_bytes(b"\n".join([*lines[:7], orjson.dumps(changed), *lines[8:]]))
    done = run(script, tampered)
    assert done.returncode != 0 and "entry 8: hash mismatch" in done.stderr

    gapped = tmp_path / "gap.jsonl"
    gapped.write_bytes(b"\n".join(lines[:4] + lines[5:]))
    done = run(script, gapped)
    assert done.returncode != 0 and "entries 5 to 5 missing" in done.stderr

    part = tmp_path / "part.jsonl"
    r = await api.get(
        "/cityhub/v1/audit/export", params={"since": written[10].at, "until": written[15].at}
    )
    part.write_bytes(r.content)
    assert run(script, part, written[9].hash).returncode == 0
    assert run(script, part, written[8].hash).returncode != 0
