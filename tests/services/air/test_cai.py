"""The CAI by hand-worked examples: every breakpoint boundary of the AirKorea table, the
truncation that keeps values out of the gaps between bands, the cap at 500, unit conversion,
the dominant pollutant; and the alert decision hour by hour."""

from __future__ import annotations

import pytest

from cityhub.services.air.alerts import ADVISORY, RULES, WARNING, AlertRule, next_level
from cityhub.services.air.cai import cai, grade, sub_index, to_cai_unit

BOUNDARIES = [
    # PM10 µg/m³ (24 h): 0-30 / 31-80 / 81-150 / 151-600
    ("pm10", 0, 0),
    ("pm10", 30, 50),
    ("pm10", 31, 51),
    ("pm10", 80, 100),
    ("pm10", 81, 101),
    ("pm10", 150, 250),
    ("pm10", 151, 251),
    ("pm10", 600, 500),
    ("pm10", 601, 500),
    ("pm10", 1012, 500),
    # PM2.5 µg/m³ (24 h): 0-15 / 16-35 / 36-75 / 76-500
    ("pm25", 15, 50),
    ("pm25", 16, 51),
    ("pm25", 35, 100),
    ("pm25", 36, 101),
    ("pm25", 75, 250),
    ("pm25", 76, 251),
    ("pm25", 500, 500),
    # O3 ppm (1 h): 0-0.030 / 0.031-0.090 / 0.091-0.150 / 0.151-0.6
    ("o3", 0.030, 50),
    ("o3", 0.031, 51),
    ("o3", 0.090, 100),
    ("o3", 0.091, 101),
    ("o3", 0.150, 250),
    ("o3", 0.151, 251),
    ("o3", 0.6, 500),
    # NO2 ppm: 0-0.030 / 0.031-0.060 / 0.061-0.200 / 0.201-2
    ("no2", 0.030, 50),
    ("no2", 0.031, 51),
    ("no2", 0.060, 100),
    ("no2", 0.061, 101),
    ("no2", 0.200, 250),
    ("no2", 0.201, 251),
    ("no2", 2, 500),
    # CO ppm: 0-2 / 2.01-9 / 9.01-15 / 15.01-50
    ("co", 2, 50),
    ("co", 2.01, 51),
    ("co", 9, 100),
    ("co", 9.01, 101),
    ("co", 15, 250),
    ("co", 15.01, 251),
    ("co", 50, 500),
    # SO2 ppm: 0-0.020 / 0.021-0.050 / 0.051-0.150 / 0.151-1
    ("so2", 0.020, 50),
    ("so2", 0.021, 51),
    ("so2", 0.050, 100),
    ("so2", 0.051, 101),
    ("so2", 0.150, 250),
    ("so2", 0.151, 251),
    ("so2", 1, 500),
    ("so2", 1.5, 500),
]


@pytest.mark.parametrize(("pollutant", "concentration", "index"), BOUNDARIES)
def test_sub_index_at_every_boundary(pollutant: str, concentration: float, index: int) -> None:
    assert sub_index(pollutant, concentration) == index


@pytest.mark.parametrize(
    ("pollutant", "concentration", "index"),
    [
        ("pm10", 55, 75),  # 49/49 * 24 + 51
        ("pm25", 50, 154),  # 149/39 * 14 + 101 = 154.49 → 154
        ("pm25", 20, 61),  # 49/19 * 4 + 51 = 61.3
        ("pm10", 43, 63),  # 49/49 * 12 + 51
        ("co", 0.46, 12),  # 50/2 * 0.46 = 11.5 → rounded half up
        ("o3", 0.045, 63),  # 49/0.059 * 0.014 + 51 = 62.63
    ],
)
def test_sub_index_inside_bands(pollutant: str, concentration: float, index: int) -> None:
    assert sub_index(pollutant, concentration) == index


@pytest.mark.parametrize(
    ("pollutant", "concentration", "index"),
    [
        ("pm10", 30.9, 50),  # truncated to 30, never rounded up into the next band
        ("pm10", 80.99, 100),
        ("pm25", 35.7, 100),
        ("o3", 0.0309, 50),
        ("o3", 0.0909, 100),
        ("co", 2.009, 50),
        ("so2", 0.0209, 50),
    ],
)
def test_concentrations_are_truncated_to_the_table(
    pollutant: str, concentration: float, index: int
) -> None:
    assert sub_index(pollutant, concentration) == index


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_a_concentration_that_is_no_measure_is_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="pm10 concentration"):
        sub_index("pm10", bad)


def test_units_are_converted_to_the_tables() -> None:
    assert to_cai_unit("pm10", 43, None) == 43  # µg/m³ by the data model
    assert to_cai_unit("pm10", 0.043, "GP") == pytest.approx(43)  # mg/m³
    assert to_cai_unit("pm10", 43, "59") is None  # PM in ppm is no measure we can use
    assert to_cai_unit("o3", 0.045, "59") == 0.045  # ppm as AirKorea sends it
    assert to_cai_unit("no2", 25, "61") == pytest.approx(0.025)  # ppb
    assert to_cai_unit("o3", 58.9, "GQ") == pytest.approx(0.030002, abs=1e-6)  # 1,963 µg/m³/ppm
    assert to_cai_unit("co", 0.46, None) == pytest.approx(0.401535, abs=1e-6)  # mg/m³
    assert sub_index("co", to_cai_unit("co", 0.46, None) or 0) == 10  # 0.40 ppm → 50/2 × 0.40
    assert to_cai_unit("so2", 7.9, None) == pytest.approx(0.003015, abs=1e-6)
    # a breakpoint sent in µg/m³ stays on its side: 0.091 ppm O3 is 178.65 µg/m³
    assert sub_index("o3", to_cai_unit("o3", 0.091 * 48.00 / 24.45e-3, "GQ") or 0) == 101
    assert to_cai_unit("o3", 1.0, "XYZ") is None


def test_cai_is_the_highest_sub_index_with_its_grade_and_pollutant() -> None:
    found = cai({"pm10": 43, "pm25": 20, "o3": 0.091, "no2": 0.025, "temperature": 6.4})
    assert found is not None
    assert found.sub_indices == {"pm10": 63, "pm25": 61, "o3": 101, "no2": 42}
    assert (found.index, found.grade, found.name, found.level) == (101, 3, "나쁨", "unhealthy")
    assert found.dominant == "o3"
    assert found.concentrations == {"pm10": 43.0, "pm25": 20.0, "o3": 0.091, "no2": 0.025}


def test_a_tie_goes_to_the_first_pollutant_of_the_table() -> None:
    found = cai({"o3": 0.030, "pm25": 15, "pm10": 30})  # all three score 50
    assert found is not None and found.dominant == "pm10" and found.index == 50
    assert cai({"temperature": 3}) is None


@pytest.mark.parametrize(
    ("index", "expected"), [(0, 1), (50, 1), (51, 2), (100, 2), (101, 3), (250, 3), (251, 4)]
)
def test_grades(index: int, expected: int) -> None:
    assert grade(index) == expected


PM10 = RULES["pm10"]
PM25 = RULES["pm25"]


@pytest.mark.parametrize(
    ("rule", "level", "previous", "current", "expected"),
    [
        (PM10, None, 149, 150, None),  # one hour at 150 is not 2 hours
        (PM10, None, 150, 150, ADVISORY),  # two consecutive hours: issued
        (PM10, None, None, 200, None),  # the hour before has no average: not sustained
        (PM10, ADVISORY, 120, 100, ADVISORY),  # between 100 and 150: stays (hysteresis)
        (PM10, ADVISORY, 120, 99.9, None),  # lifted below 100, at once
        (PM10, ADVISORY, 300, 299, ADVISORY),  # 경보 needs 2 hours ≥ 300
        (PM10, ADVISORY, 300, 300, WARNING),
        (PM10, None, 310, 320, WARNING),  # straight to 경보
        (PM10, WARNING, 320, 150, WARNING),  # ≥ 150: the 경보 stays
        (PM10, WARNING, 320, 149, ADVISORY),  # lowered to 주의보
        (PM10, WARNING, 320, 90, None),  # already under the 주의보 lift too
        (PM10, ADVISORY, 150, None, ADVISORY),  # no value this hour: nothing decided
        (PM25, None, 75, 75, ADVISORY),
        (PM25, ADVISORY, 80, 35, ADVISORY),
        (PM25, ADVISORY, 80, 34, None),
        (PM25, ADVISORY, 150, 150, WARNING),
        (PM25, WARNING, 150, 74, ADVISORY),
    ],
)
def test_alert_levels_hour_by_hour(
    rule: AlertRule,
    level: str | None,
    previous: float | None,
    current: float | None,
    expected: str | None,
) -> None:
    assert next_level(rule, level, previous, current) == expected
