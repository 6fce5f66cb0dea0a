"""Anomaly grades of a distribution panel (분전반) from one reading: normal, caution (주의) or
danger (위험), against a threshold table a city calibrates.

The table (defaults below, a tenant's own through the thresholds API)::

    {"measures": {"leakageCurrent": {"unit": "mA", "caution": 30, "danger": 100}, ...},
     "clearAfter": "PT30M"}

A measure reaching its ``caution`` or ``danger`` value makes the panel that grade (either may
be left out); the worst measure decides. ``clearAfter`` is how long the readings must stay
normal before the panel's event is cleared.
"""

from __future__ import annotations

import math
import re
from typing import Any

from cityhub.errors import BadRequestData
from cityhub.ops.rules.model import duration_us

NORMAL, CAUTION, DANGER = "normal", "caution", "danger"
RECOVERING = "recovering"  # normal readings again, the event not cleared yet
GRADES = (NORMAL, CAUTION, DANGER)
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_MAX_CLEAR_US = 7 * 86_400_000_000

#: Placeholders a city calibrates (docs/services/electrical.md): leakage current in mA (a
#: residual-current breaker for people trips at 30 mA), temperature at the terminals in °C,
#: arc events counted by the sensor since its previous report (any arc is a danger).
DEFAULTS: dict[str, Any] = {
    "measures": {
        "leakageCurrent": {"unit": "mA", "caution": 30, "danger": 100},
        "temperature": {"unit": "°C", "caution": 60, "danger": 80},
        "arcEvents": {"unit": "events", "danger": 1},
    },
    "clearAfter": "PT30M",
}


def check_table(body: Any) -> dict[str, Any]:
    """A valid table (its stored form), or BadRequestData naming the bad member."""
    if not isinstance(body, dict) or set(body) - {"measures", "clearAfter"}:
        raise BadRequestData('an electrical threshold table is {"measures": {...}, "clearAfter"}')
    measures = body.get("measures")
    if not isinstance(measures, dict) or not measures:
        raise BadRequestData('"measures" must be an object of at least one measure')
    found: dict[str, Any] = {}
    for name, spec in measures.items():
        where = f"measures.{name}"
        if not _NAME.match(name):
            raise BadRequestData(f"{where}: a measure is an attribute name")
        if not isinstance(spec, dict) or set(spec) - {"unit", "caution", "danger"}:
            raise BadRequestData(f'{where} must be {{"unit", "caution", "danger"}}')
        levels = {k: spec[k] for k in (CAUTION, DANGER) if k in spec}
        if not levels:
            raise BadRequestData(f"{where} needs caution, danger or both")
        for key, value in levels.items():
            if not _number(value) or value < 0:
                raise BadRequestData(f"{where}.{key} must be a number ≥ 0")
        if len(levels) == 2 and levels[CAUTION] >= levels[DANGER]:
            raise BadRequestData(f"{where}.caution must be below {where}.danger")
        if "unit" in spec and (not isinstance(spec["unit"], str) or len(spec["unit"]) > 32):
            raise BadRequestData(f"{where}.unit must be a short text")
        found[name] = {k: float(v) for k, v in levels.items()}
        if "unit" in spec:
            found[name]["unit"] = spec["unit"]
    clear = body.get("clearAfter", DEFAULTS["clearAfter"])
    if not 0 <= duration_us(clear, "clearAfter") <= _MAX_CLEAR_US:
        raise BadRequestData('"clearAfter" must be at most P7D')
    return {"measures": found, "clearAfter": clear}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def grade(values: dict[str, Any], table: dict[str, Any]) -> tuple[str, list[str]]:
    """The grade of one reading (short name → value) and why (one line per measure over)."""
    worst, reasons = 0, []
    for name, spec in table["measures"].items():
        value = values.get(name)
        if not _number(value):
            continue
        unit = f" {spec['unit']}" if spec.get("unit") else ""
        for index, level in ((2, DANGER), (1, CAUTION)):
            bound = spec.get(level)
            if bound is not None and value >= bound:
                reasons.append(f"{name} {value:g}{unit} ≥ {bound:g}{unit} ({level})")
                worst = max(worst, index)
                break
    return GRADES[worst], reasons


def measured(table: dict[str, Any]) -> frozenset[str]:
    """The attributes a reading is graded on."""
    return frozenset(table["measures"])
