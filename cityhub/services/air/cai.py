"""The Korean Comprehensive Air-quality Index (통합대기환경지수, CAI): pure computation.

Each pollutant's concentration gets a sub-index by linear interpolation inside its band of the
AirKorea breakpoint table (REFERENCE §3)::

    I = (I_hi - I_lo) / (BP_hi - BP_lo) * (C - BP_lo) + I_lo

with index bands 0-50 (좋음), 51-100 (보통), 101-250 (나쁨) and 251-500 (매우나쁨). The CAI is
the largest sub-index, its grade 1-4 the band it falls in, and the pollutant giving it the
dominant one (a tie goes to the first in the table order PM10, PM2.5, O3, NO2, CO, SO2).

Concentrations are in the table's units (µg/m³ for PM, ppm for the gases; :func:`to_cai_unit`
converts what stations send) and are **truncated** to the table's precision before the band is
looked up, so that no value falls between two bands (30 < C < 31 for PM10): PM to whole
µg/m³, O3/NO2/SO2 to 0.001 ppm, CO to 0.01 ppm (30.9 µg/m³ → 30 → 50). The sub-index is then
rounded half up to an integer. A concentration above the top breakpoint scores 500.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

#: the index bands of grades 1-4
BANDS: tuple[tuple[int, int], ...] = ((0, 50), (51, 100), (101, 250), (251, 500))
TOP = 500
#: grade -> (Korean name, the Smart Data Models airQualityLevel)
GRADES: dict[int, tuple[str, str]] = {
    1: ("좋음", "good"),
    2: ("보통", "moderate"),
    3: ("나쁨", "unhealthy"),
    4: ("매우나쁨", "veryUnhealthy"),
}
#: map colours of the grades, as AirKorea draws them
COLORS = {1: "#32a1ff", 2: "#00c73c", 3: "#fd9b5a", 4: "#ff5959"}


@dataclass(frozen=True, slots=True)
class Pollutant:
    """One CAI pollutant: its breakpoints (one (low, high) per grade) and how it is read."""

    name: str  # the AirQualityObserved attribute
    label: str  # as AirKorea writes it
    unit: str  # of the breakpoints: µg/m³ or ppm
    hours: int  # the averaging time its breakpoints are for
    step: Decimal  # the precision concentrations are truncated to
    breakpoints: tuple[tuple[Decimal, Decimal], ...]


def _bp(*pairs: tuple[str, str]) -> tuple[tuple[Decimal, Decimal], ...]:
    return tuple((Decimal(lo), Decimal(hi)) for lo, hi in pairs)


POLLUTANTS: dict[str, Pollutant] = {
    p.name: p
    for p in (
        Pollutant(
            "pm10", "PM10", "µg/m³", 24, Decimal(1),
            _bp(("0", "30"), ("31", "80"), ("81", "150"), ("151", "600")),
        ),
        Pollutant(
            "pm25", "PM2.5", "µg/m³", 24, Decimal(1),
            _bp(("0", "15"), ("16", "35"), ("36", "75"), ("76", "500")),
        ),
        Pollutant(
            "o3", "O3", "ppm", 1, Decimal("0.001"),
            _bp(("0", "0.030"), ("0.031", "0.090"), ("0.091", "0.150"), ("0.151", "0.6")),
        ),
        Pollutant(
            "no2", "NO2", "ppm", 1, Decimal("0.001"),
            _bp(("0", "0.030"), ("0.031", "0.060"), ("0.061", "0.200"), ("0.201", "2")),
        ),
        Pollutant(
            "co", "CO", "ppm", 1, Decimal("0.01"),
            _bp(("0", "2"), ("2.01", "9"), ("9.01", "15"), ("15.01", "50")),
        ),
        Pollutant(
            "so2", "SO2", "ppm", 1, Decimal("0.001"),
            _bp(("0", "0.020"), ("0.021", "0.050"), ("0.051", "0.150"), ("0.151", "1")),
        ),
    )
}  # fmt: skip

#: µg/m³ per ppm at 25 °C and 1 atm (molar mass / 24.45 L), as the data model describes them
_UG_PER_PPM = {"o3": 48.00 / 24.45e-3, "no2": 46.0055 / 24.45e-3, "co": 28.010 / 24.45e-3}
_UG_PER_PPM["so2"] = 64.066 / 24.45e-3
#: UN/CEFACT unit codes: GQ µg/m³, GP mg/m³, 59 ppm, 61 ppb
_UG_PER = {"GQ": 1.0, "GP": 1000.0}
_PPM_PER = {"59": 1.0, "61": 0.001}
#: the unit a value without unitCode is in (the AirQualityObserved data model's)
DEFAULT_UNIT = {"pm10": "GQ", "pm25": "GQ", "o3": "GQ", "no2": "GQ", "co": "GP", "so2": "GQ"}


def to_cai_unit(pollutant: str, value: float, unit_code: str | None) -> float | None:
    """``value`` (in ``unit_code``, else the data model's unit) in the unit of the CAI table;
    None for a unit that cannot be converted (PM given in ppm, an unknown code)."""
    code = unit_code or DEFAULT_UNIT[pollutant]
    if pollutant in ("pm10", "pm25"):
        return value * _UG_PER[code] if code in _UG_PER else None
    if code in _PPM_PER:
        return value * _PPM_PER[code]
    if code in _UG_PER:
        # rounded to 6 places first: a float quotient just under a breakpoint (0.0909999...)
        # must not be truncated a whole step down
        return round(value * _UG_PER[code] / _UG_PER_PPM[pollutant], 6)
    return None


def truncate(pollutant: str, concentration: float) -> Decimal:
    """The concentration cut to the breakpoint table's precision (never rounded up)."""
    step = POLLUTANTS[pollutant].step
    return Decimal(repr(concentration)).quantize(step, rounding=ROUND_DOWN)


def sub_index(pollutant: str, concentration: float) -> int:
    """The CAI sub-index (0-500) of one pollutant's concentration in the table's unit
    (ValueError for a negative or non-finite one)."""
    if not concentration >= 0 or concentration == float("inf"):
        raise ValueError(f"{pollutant} concentration must be a number >= 0, not {concentration}")
    c = truncate(pollutant, concentration)
    for (lo, hi), (i_lo, i_hi) in zip(POLLUTANTS[pollutant].breakpoints, BANDS, strict=True):
        if c <= hi:
            index = Decimal(i_hi - i_lo) / (hi - lo) * (c - lo) + i_lo
            return int(index.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return TOP


def grade(index: int) -> int:
    """The grade (1 좋음 … 4 매우나쁨) of a CAI or sub-index."""
    for g, (_, hi) in enumerate(BANDS, start=1):
        if index <= hi:
            return g
    return len(BANDS)


@dataclass(frozen=True, slots=True)
class Cai:
    """A station's CAI: the index, its grade, the dominant pollutant and every sub-index."""

    index: int
    grade: int
    dominant: str
    sub_indices: dict[str, int]
    concentrations: dict[str, float]  # truncated, in the table's units

    @property
    def name(self) -> str:
        """The grade's Korean name (좋음, 보통, 나쁨, 매우나쁨)."""
        return GRADES[self.grade][0]

    @property
    def level(self) -> str:
        """The grade as the Smart Data Models' airQualityLevel (good ... veryUnhealthy)."""
        return GRADES[self.grade][1]


def cai(concentrations: Mapping[str, float]) -> Cai | None:
    """The CAI of the pollutants given (name → concentration in the table's unit; others are
    ignored); None when none of them is a CAI pollutant."""
    subs = {p: sub_index(p, concentrations[p]) for p in POLLUTANTS if p in concentrations}
    if not subs:
        return None
    dominant = max(subs, key=lambda p: subs[p])  # the first of the highest: table order
    index = subs[dominant]
    used = {p: float(truncate(p, concentrations[p])) for p in subs}
    return Cai(index, grade(index), dominant, subs, used)
