"""The resume state of imports: which file, into where, how many rows are committed.

A small JSON file (by default ``FILE.import-state.json`` next to the input) records the input's
identity (size and SHA-256 of its first and last MiB) and, per target (hub URL or database and
tenant), the number of rows taken so far from the start of the file, counted only once their
batch is committed (and every batch before it). It lags the database at worst: rows written
after the last save are written again on a re-run, which upserts make harmless.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from cityhub.importer.errors import ImportFailed

VERSION = 1
_EDGE = 1 << 20


def file_identity(path: str) -> dict[str, Any]:
    """Size and SHA-256 of the first and last MiB: cheap on a big file, and any edit that
    changes the size, the header or the end (where appends go) is seen."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        head = hashlib.sha256(fh.read(_EDGE)).hexdigest()
        fh.seek(max(0, size - _EDGE))
        tail = hashlib.sha256(fh.read(_EDGE)).hexdigest()
    return {"size": size, "head_sha256": head, "tail_sha256": tail}


def default_state_path(input_path: str) -> str:
    """``FILE.import-state.json`` beside the input, or under ``$XDG_STATE_HOME/cityhub`` when
    the input's directory is not writable."""
    p = Path(input_path).resolve()
    if os.access(p.parent, os.W_OK):
        return str(p.with_name(p.name + ".import-state.json"))
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    digest = hashlib.sha256(str(p).encode()).hexdigest()[:12]
    return str(base / "cityhub" / "imports" / f"{p.name}-{digest}.json")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(slots=True)
class Progress:
    """One target's progress through the file."""

    rows: int = 0  # rows taken (imported or rejected) from the start of the file
    imported: int = 0
    rejected: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    complete: bool = False
    mapping_sha256: str = ""
    rejects_file: str = ""
    rejects_bytes: int = 0  # size of the rejects file when ``rows`` was saved
    started: str = ""
    updated: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "imported": self.imported,
            "rejected": self.rejected,
            "reasons": dict(self.reasons),
            "complete": self.complete,
            "mapping_sha256": self.mapping_sha256,
            "rejects_file": self.rejects_file,
            "rejects_bytes": self.rejects_bytes,
            "started": self.started,
            "updated": self.updated,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Progress:
        return cls(
            rows=int(data.get("rows", 0)),
            imported=int(data.get("imported", 0)),
            rejected=int(data.get("rejected", 0)),
            reasons=Counter({str(k): int(v) for k, v in data.get("reasons", {}).items()}),
            complete=bool(data.get("complete", False)),
            mapping_sha256=str(data.get("mapping_sha256", "")),
            rejects_file=str(data.get("rejects_file", "")),
            rejects_bytes=int(data.get("rejects_bytes", 0)),
            started=str(data.get("started", "")),
            updated=str(data.get("updated", "")),
        )


class StateFile:
    """The state file of one input, holding one :class:`Progress` per target."""

    def __init__(self, path: str, identity: dict[str, Any], key: str) -> None:
        self.path = path
        self.identity = identity
        self.key = key
        self.note = ""  # why an earlier state was set aside, if it was
        self._others: dict[str, Any] = {}
        self.progress = Progress()
        self._load()

    def _load(self) -> None:
        try:
            with open(self.path, "rb") as fh:
                data = orjson.loads(fh.read())
        except FileNotFoundError:
            return
        except (OSError, orjson.JSONDecodeError) as err:
            self.note = f"ignored an unreadable state file {self.path} ({err})"
            return
        if not isinstance(data, dict) or data.get("version") != VERSION:
            self.note = f"ignored state file {self.path} of another version"
            return
        if data.get("file") != self.identity:
            if data.get("imports"):
                self.note = (
                    "the file changed since the last import (or the state file is another "
                    "file's): starting from its first row"
                )
            return
        imports = data.get("imports") or {}
        self._others = {k: v for k, v in imports.items() if k != self.key}
        if isinstance(imports.get(self.key), dict):
            self.progress = Progress.from_json(imports[self.key])

    def restart(self) -> None:
        """Forget this target's progress (a fresh import from the first row)."""
        self.progress = Progress(started=_now())

    def save(self) -> None:
        """Write the state atomically (a crash leaves the old or the new file)."""
        self.progress.updated = _now()
        data = {
            "version": VERSION,
            "file": self.identity,
            "imports": {**self._others, self.key: self.progress.to_json()},
        }
        directory = os.path.dirname(os.path.abspath(self.path))
        tmp: str | None = None
        try:
            os.makedirs(directory, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".import-state-", dir=directory)
            with os.fdopen(fd, "wb") as fh:
                fh.write(orjson.dumps(data, option=orjson.OPT_INDENT_2))
            os.replace(tmp, self.path)
        except OSError as err:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            raise ImportFailed(f"cannot write the state file {self.path}: {err}") from err
