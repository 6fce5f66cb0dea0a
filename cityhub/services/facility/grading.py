"""The data safety grade of a facility (A best … E worst) from its sensors' readings: the
threshold table (defaults, checking a city's own), the grade of one measure, and the worst.

A table holds, per structure type (``default`` for every type it does not name), per measure
(an attribute of the sensors: ``tilt``, ``crackWidth``, ``vibrationVelocity``...)::

    {"unit": "mm", "bounds": [0.1, 0.2, 0.3, 1.0], "trend": {"window": "P7D", "rise": 0.1}}

``bounds`` are where B, C, D and E begin: a value below the first is A, at or above the last E.
Values are taken as magnitudes (a tilt of −0.3° is 0.3°); a sensor with ``tiltX``/``tiltY``
and no ``tilt`` has the resultant of the two. ``trend`` makes a measure one grade worse when it
grew by ``rise`` or more within ``window`` (the latest reading against the smallest in the
window before it): a crack widening fast is worse than a wide crack that is stable. The worst
measure of any sensor decides the facility's grade.
"""

from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass
from typing import Any

from cityhub.errors import BadRequestData
from cityhub.ops.rules.model import duration_us

GRADES = "ABCDE"
DEFAULT_KIND = "default"
TILT, TILT_AXES = "tilt", ("tiltX", "tiltY")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_US_PER_DAY = 86_400_000_000

#: Placeholders a city calibrates (docs/services/facility.md): tilt in degrees (the Korean
#: building guideline's angular distortion 1/750, 1/500, 1/250, 1/150 is 0.076°, 0.115°,
#: 0.229°, 0.382°), crack width in mm, peak vibration velocity (PPV) in mm/s.
DEFAULTS: dict[str, Any] = {
    DEFAULT_KIND: {
        TILT: {
            "unit": "degree",
            "bounds": [0.05, 0.1, 0.2, 0.5],
            "trend": {"window": "P7D", "rise": 0.05},
        },
        "crackWidth": {
            "unit": "mm",
            "bounds": [0.1, 0.2, 0.3, 1.0],
            "trend": {"window": "P7D", "rise": 0.1},
        },
        "vibrationVelocity": {"unit": "mm/s", "bounds": [0.5, 1.0, 2.0, 5.0]},
    },
    # traffic shakes a bridge every day: its vibration is graded more leniently
    "bridge": {"vibrationVelocity": {"unit": "mm/s", "bounds": [2.0, 5.0, 10.0, 20.0]}},
}


def check_table(body: Any) -> dict[str, Any]:
    """A valid threshold table (its stored form), or BadRequestData naming the bad member."""
    if not isinstance(body, dict) or not isinstance(body.get(DEFAULT_KIND), dict):
        raise BadRequestData(
            'a facility threshold table is a JSON object with "default" and other structure '
            'types, each {"<measure>": {"bounds": [B, C, D, E], "unit"?, "trend"?}}'
        )
    table: dict[str, Any] = {}
    for kind, measures in body.items():
        if not isinstance(kind, str) or not _NAME.match(kind):
            raise BadRequestData(f"structure type {kind!r} must be a name of letters and digits")
        if not isinstance(measures, dict) or (kind == DEFAULT_KIND and not measures):
            raise BadRequestData(f"{kind} must be an object of measures (default: at least one)")
        table[kind] = {}
        for measure, spec in measures.items():
            where = f"{kind}.{measure}"
            if not _NAME.match(measure):
                raise BadRequestData(f"{where}: a measure is an attribute name")
            table[kind][measure] = _check_measure(spec, where)
    return table


def _check_measure(spec: Any, where: str) -> dict[str, Any]:
    if not isinstance(spec, dict) or set(spec) - {"unit", "bounds", "trend"}:
        raise BadRequestData(f'{where} must be an object with "bounds", "unit" and "trend"')
    bounds = spec.get("bounds")
    if (
        not isinstance(bounds, list)
        or len(bounds) != 4
        or not all(_number(b) and b >= 0 for b in bounds)
        or any(a >= b for a, b in zip(bounds, bounds[1:], strict=False))
    ):
        raise BadRequestData(
            f"{where}.bounds must be 4 increasing numbers ≥ 0: where B, C, D and E begin"
        )
    found: dict[str, Any] = {"bounds": [float(b) for b in bounds]}
    if "unit" in spec:
        if not isinstance(spec["unit"], str) or len(spec["unit"]) > 32:
            raise BadRequestData(f"{where}.unit must be a short text")
        found["unit"] = spec["unit"]
    trend = spec.get("trend")
    if trend is not None:
        if not isinstance(trend, dict) or set(trend) != {"window", "rise"}:
            raise BadRequestData(f'{where}.trend must be {{"window": "P7D", "rise": <number>}}')
        window = duration_us(trend["window"], f"{where}.trend.window")
        if not 0 < window <= 366 * _US_PER_DAY:
            raise BadRequestData(f"{where}.trend.window must be more than 0 and at most P366D")
        if not _number(trend["rise"]) or trend["rise"] <= 0:
            raise BadRequestData(f"{where}.trend.rise must be a number > 0")
        found["trend"] = {"window": trend["window"], "rise": float(trend["rise"])}
    return found


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def measures_for(table: dict[str, Any], kind: str | None) -> dict[str, Any]:
    """The measures graded on a structure type: the default ones, overridden by the type's."""
    found = dict(table[DEFAULT_KIND])
    if kind and kind != DEFAULT_KIND:
        found |= table.get(kind, {})
    return found


def measured_attributes(table: dict[str, Any]) -> frozenset[str]:
    """Every attribute a reading of the table is taken from (tilt axes included)."""
    names = {m for measures in table.values() for m in measures}
    if TILT in names:
        names |= set(TILT_AXES)
    return frozenset(names)


def level(value: float, bounds: list[float]) -> int:
    """0 (A) … 4 (E): how many of the bounds the value reached."""
    return bisect.bisect_right(bounds, value)


def reading(values: dict[str, Any], measure: str) -> float | None:
    """The magnitude of ``measure`` among a sensor's values (short name → value)."""
    value: Any = values.get(measure)
    if _number(value):
        return abs(float(value))
    if measure == TILT:
        axes: list[Any] = [values.get(axis) for axis in TILT_AXES]
        if any(_number(a) for a in axes):
            return math.hypot(*(float(a) if _number(a) else 0.0 for a in axes))
    return None


def points(series: dict[str, list[tuple[int, Any]]], measure: str) -> list[tuple[int, float]]:
    """A measure's (time µs, magnitude) history from its attributes' histories (short name →
    [(time, value)]); tilt axes recorded at the same instant make one resultant."""
    if series.get(measure):
        return [(t, abs(float(v))) for t, v in series[measure] if _number(v)]
    if measure != TILT:
        return []
    at: dict[int, dict[str, Any]] = {}
    for axis in TILT_AXES:
        for t, v in series.get(axis, []):
            at.setdefault(t, {})[axis] = v
    found = [(t, reading(values, TILT)) for t, values in sorted(at.items())]
    return [(t, v) for t, v in found if v is not None]


@dataclass(slots=True)
class MeasureGrade:
    """One measure of one sensor, graded."""

    sensor: str
    measure: str
    value: float
    unit: str
    by_value: int  # 0..4 from the bounds alone
    level: int  # 0..4 after the trend
    bound: float | None  # the bound the value reached (None: below the first)
    at: str | None  # observedAt of the reading
    growth: float | None = None  # rise within the trend window, when it made it worse
    window: str | None = None

    @property
    def grade(self) -> str:
        """The letter."""
        return GRADES[self.level]

    def reason(self) -> str:
        """Why, in one line: ``crackWidth 0.35 mm on <sensor>: D (≥ 0.3 mm)``."""
        unit = f" {self.unit}" if self.unit else ""
        text = f"{self.measure} {self.value:g}{unit} on {self.sensor}: {GRADES[self.by_value]}"
        if self.bound is None:
            text += " (below every bound)"
        else:
            text += f" (≥ {self.bound:g}{unit})"
        if self.growth is not None:
            text += f"; grew {self.growth:g}{unit} within {self.window}: {self.grade}"
        return text

    def json(self) -> dict[str, Any]:
        """As the reports show it."""
        body: dict[str, Any] = {
            "sensor": self.sensor,
            "measure": self.measure,
            "value": self.value,
            "unit": self.unit,
            "grade": self.grade,
            "observedAt": self.at,
        }
        if self.growth is not None:
            body |= {"growth": self.growth, "window": self.window}
        return body


def grade_measure(
    sensor: str,
    measure: str,
    value: float,
    spec: dict[str, Any],
    at: str | None,
    growth: float | None = None,
) -> MeasureGrade:
    """Grade one reading; ``growth``: its rise within the spec's trend window, if known."""
    bounds = spec["bounds"]
    by_value = level(value, bounds)
    found = MeasureGrade(
        sensor,
        measure,
        round(value, 6),
        spec.get("unit", ""),
        by_value,
        by_value,
        bounds[by_value - 1] if by_value else None,
        at,
    )
    trend = spec.get("trend")
    if trend is not None and growth is not None and growth >= trend["rise"] and by_value < 4:
        found.level = by_value + 1
        found.growth = round(growth, 6)
        found.window = trend["window"]
    return found


def worst(grades: list[MeasureGrade]) -> MeasureGrade | None:
    """The measure deciding the facility's grade: the worst, the first of equals."""
    ranked = sorted(grades, key=lambda g: (-g.level, -g.by_value, g.sensor, g.measure))
    return ranked[0] if ranked else None
