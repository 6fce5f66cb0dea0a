"""The hash chain of the audit log: how an entry is hashed and what makes an action name.

An entry's ``hash`` is the SHA-256 (hex) of the canonical JSON of every other member, ``prev``
included: ``orjson.dumps(members, option=OPT_SORT_KEYS)`` (keys sorted at every level, no
whitespace, UTF-8). ``prev`` is the previous entry's hash, :data:`GENESIS` for entry 1, so
changing, removing or inserting an entry breaks the chain from there on. docs/audit.md gives
a standalone version of :func:`entry_hash` for auditors.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

GENESIS = "0" * 64
ACTION_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
# the members of an entry, in the order of the table's columns and of a CSV export
MEMBERS = (
    "seq",
    "at",
    "actor",
    "action",
    "target",
    "tenant",
    "outcome",
    "ip",
    "detail",
    "prev",
    "hash",
)


def canonical(value: Any) -> bytes:
    """The canonical JSON of a value: keys sorted at every level, compact, UTF-8."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def entry_hash(entry: Mapping[str, Any]) -> str:
    """The hash an entry must carry: over every member but ``hash`` itself."""
    members = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(canonical(members)).hexdigest()


def format_at(moment: datetime) -> str:
    """A moment as the log writes it: UTC, microseconds, ``Z`` (fixed width, so the text
    order is the time order)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def now_at() -> str:
    """The current time as the log writes it."""
    return format_at(datetime.now(UTC))
