"""Fine-dust alerts (미세먼지 주의보·경보): the levels and when one hour's average moves them.

REFERENCE §3 (the Clean Air Conservation Act's rules as AirKorea applies them), hourly
averages in µg/m³:

| pollutant | 주의보 issued | 주의보 lifted | 경보 issued | 경보 lowered to 주의보 |
|---|---|---|---|---|
| PM10 | ≥ 150 for 2 h | < 100 | ≥ 300 for 2 h | < 150 |
| PM2.5 | ≥ 75 for 2 h | < 35 | ≥ 150 for 2 h | < 75 |

"For 2 h" is two consecutive hourly averages (the hour and the one before it) at or above the
threshold; lifting and lowering take one hourly average below. A 경보 replaces the 주의보 in
force, and lowering a 경보 puts a 주의보 in force again (대체 발령); a 경보 whose hour is
already below the 주의보 lift goes straight to no alert. Between the thresholds the level stays
(hysteresis). :func:`next_level` is the whole decision; where the hourly averages come from
(a district's stations) is the service's business.
"""

from __future__ import annotations

from dataclasses import dataclass

ADVISORY, WARNING = "advisory", "warning"
LEVELS = (ADVISORY, WARNING)
#: level -> Korean name
LEVEL_NAMES = {ADVISORY: "주의보", WARNING: "경보"}
SEVERITY = {ADVISORY: "high", WARNING: "critical"}


@dataclass(frozen=True, slots=True)
class AlertRule:
    """The thresholds of one pollutant's alerts, µg/m³ hourly averages."""

    pollutant: str
    name: str  # what the alert is called: 미세먼지 / 초미세먼지
    advisory: float  # 주의보 issued at or above (2 h)
    lift: float  # 주의보 lifted below
    warning: float  # 경보 issued at or above (2 h)
    lower: float  # 경보 lowered to 주의보 below
    codes: tuple[str, str]  # event codes of the 주의보 and the 경보

    def threshold(self, level: str) -> float:
        """The issuing threshold of a level."""
        return self.advisory if level == ADVISORY else self.warning

    def code(self, level: str) -> str:
        """The event code of a level."""
        return self.codes[0] if level == ADVISORY else self.codes[1]


RULES: dict[str, AlertRule] = {
    "pm10": AlertRule("pm10", "미세먼지(PM10)", 150, 100, 300, 150, ("ENV0010", "ENV0011")),
    "pm25": AlertRule("pm25", "초미세먼지(PM2.5)", 75, 35, 150, 75, ("ENV0025", "ENV0026")),
}


def next_level(
    rule: AlertRule, level: str | None, previous: float | None, current: float | None
) -> str | None:
    """The alert level after an hour whose average is ``current`` (the hour before it:
    ``previous``; None where an hour has no average), from ``level`` (None: no alert)."""
    if current is None:
        return level  # nothing measured: nothing decided

    def sustained(threshold: float) -> bool:
        return previous is not None and previous >= threshold and current >= threshold

    if level != WARNING and sustained(rule.warning):
        return WARNING
    if level == WARNING:
        if current >= rule.lower:
            return WARNING
        level = ADVISORY  # lowered; and lifted too when already below the 주의보 lift
    if level == ADVISORY:
        return None if current < rule.lift else ADVISORY
    return ADVISORY if sustained(rule.advisory) else None
