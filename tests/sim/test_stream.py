"""The demo city's sensor stream: deterministic for a seed and start, and shaped like a city's
day — parking fills with the weekday morning, fine dust rises in an episode, households are
quiet at night, distribution panels read normal until a fault, sensors drop out and come back,
buses sight plates in the enforcement zones."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from statistics import mean

import pytest
from click.testing import CliRunner

from cityhub.cli import main
from cityhub.services.electrical.grading import DEFAULTS, check_table, grade
from cityhub.services.parking.enforcement_model import Sighting
from cityhub.sim import patterns
from cityhub.sim.city import COUNTS, generate
from cityhub.sim.devices import KINDS, devices_of
from cityhub.sim.stream import ALARMED_EVERY, EVERY, SIGHTINGS, CityStream, Message

SEED = 2026
MONDAY = datetime(2026, 3, 1, 15, 0, tzinfo=UTC)  # Monday 2 March 2026, 00:00 in Seoul


@pytest.fixture(scope="module")
def city() -> list[dict[str, object]]:
    """The demo city of SEED (generated once for the module)."""
    return generate(SEED)


@pytest.fixture(scope="module")
def day(city: list[dict[str, object]]) -> list[Message]:
    """A Monday of the demo city's messages, from midnight in Seoul."""
    stream = CityStream(SEED, MONDAY, city)
    return list(stream.messages(MONDAY + timedelta(days=1)))


def _kst(msg: Message) -> float:
    return patterns.local(msg.at)[0]


def graded(msg: Message) -> str:
    """The electrical service's grade of a panel's message, on its default thresholds."""
    names = {a["object_id"]: a["name"] for a in KINDS["panel"].attributes}
    return grade({names[k]: v for k, v in msg.body.items()}, check_table(DEFAULTS))[0]


def fault_at_peak(seed: int, city: list[dict[str, object]], level: str) -> Message:
    """The first report, from MONDAY on, of a demo panel at the peak of a fault that the
    electrical service grades ``level``."""
    device_of = {d.entity_id: d.device_id for d in devices_of(city) if d.kind == "panel"}
    for days in range(120):
        for panel, device in device_of.items():
            fault = patterns.fault_of(seed, panel, MONDAY + timedelta(days=days))
            if fault is None or fault.start < MONDAY:
                continue
            reports = CityStream(seed, fault.peak[0], city).messages(fault.peak[1])
            msg = next((m for m in reports if m.device_id == device), None)
            if msg is not None and graded(msg) == level:
                return msg
    raise AssertionError(f"no demo panel reads {level} in 120 days")


def test_same_seed_and_start_give_the_same_messages(city: list[dict[str, object]]) -> None:
    until = MONDAY + timedelta(hours=3)
    first = [m.json() for m in CityStream(SEED, MONDAY, city).messages(until)]
    again = [m.json() for m in CityStream(SEED, MONDAY, city).messages(until)]
    assert len(first) > 1000 and first == again
    other = [m.json() for m in CityStream(SEED + 1, MONDAY, city).messages(until)]
    assert other != first


def test_panels_leave_the_other_sensors_messages_as_they_were(
    city: list[dict[str, object]],
) -> None:
    until = MONDAY + timedelta(hours=3)
    every = [m.json() for m in CityStream(SEED, MONDAY, city).messages(until)]
    others = [e for e in city if e["type"] != "ElectricalPanel"]
    without = [m.json() for m in CityStream(SEED, MONDAY, others).messages(until)]
    assert without == [m for m in every if m["kind"] != "panel"] != every


def test_dry_run_prints_the_same_messages_for_the_same_seed() -> None:
    args = ["simulate", "--dry-run", "--start", "2026-03-02T08:00:00+09:00", "--duration", "10"]
    runner = CliRunner()
    one = runner.invoke(main, [*args, "--seed", "5"])
    two = runner.invoke(main, [*args, "--seed", "5"])
    other = runner.invoke(main, [*args, "--seed", "6"])
    assert one.exit_code == 0, one.output
    lines = one.output.splitlines()
    assert len(lines) > 50 and one.output == two.output != other.output
    assert '"kind":"spot"' in one.output and '"at":"2026-03-01T23:0' in lines[-1]


def test_bad_flags_are_refused_with_a_reason() -> None:
    runner = CliRunner()
    bad = runner.invoke(main, ["simulate", "--start", "yesterday", "--dry-run"])
    assert bad.exit_code == 2 and "not an ISO 8601 time" in bad.output
    naive = runner.invoke(main, ["simulate", "--start", "2026-03-02T08:00:00", "--dry-run"])
    assert naive.exit_code == 2 and "time zone" in naive.output
    slow = runner.invoke(main, ["simulate", "--speed", "0"])
    assert slow.exit_code == 2 and "--speed" in slow.output
    broker = runner.invoke(main, ["simulate", "--mqtt", "http://x"])
    assert broker.exit_code == 2 and "mqtt://host:port" in broker.output
    assert "--rate" in runner.invoke(main, ["simulate", "--help"]).output


def test_measures_use_the_device_groups_mapping(day: list[Message]) -> None:
    kinds = {m.kind for m in day}
    assert kinds >= {"spot", "lot", "air", "structure", "motion", "crosswalk", "panel", SIGHTINGS}
    for msg in day:
        if msg.kind == SIGHTINGS:
            continue
        mapped = {a["object_id"] for a in KINDS[msg.kind].attributes}
        assert msg.body and set(msg.body) <= mapped, msg
        assert msg.apikey == KINDS[msg.kind].apikey


def test_parking_fills_with_the_weekday_morning(day: list[Message]) -> None:
    def lots(start: float, end: float) -> float:
        shares = [
            m.body["o"] / (m.body["o"] + m.body["f"])
            for m in day
            if m.kind == "lot" and start <= _kst(m) < end
        ]
        return mean(shares)

    assert lots(8.5, 9.5) > lots(2.5, 3.5) + 0.2
    spots: dict[str, bool] = {}
    share: dict[str, float] = {}
    for m in day:
        if m.kind == "spot":
            spots[m.device_id] = m.body["s"] == "occupied"
        hour = _kst(m)
        if hour >= 3 and "03" not in share:
            share["03"] = sum(spots.values()) / len(spots)
        if hour >= 8.75 and "08" not in share:
            share["08"] = sum(spots.values()) / len(spots)
    assert share["08"] > share["03"] + 0.15, share


def test_fine_dust_rises_in_the_episode(city: list[dict[str, object]]) -> None:
    day, episode = MONDAY, None
    while episode is None or episode.start - timedelta(hours=4) < MONDAY:
        episode = patterns.episode_of(SEED, day)
        day += timedelta(days=1)
    before_from = episode.start - timedelta(hours=4)
    stream = CityStream(SEED, before_from, city)
    msgs = [m for m in stream.messages(episode.peak[1]) if m.kind == "air"]
    top_from, top_to = episode.peak
    before = [m.body["p10"] for m in msgs if m.at < episode.start]
    peak = [m.body["p10"] for m in msgs if top_from <= m.at < top_to]
    assert len(before) > 100 and len(peak) > 30
    assert mean(peak) > mean(before) + 0.6 * episode.pm10
    pm25 = [m.body["p25"] for m in msgs if top_from <= m.at < top_to]
    assert mean(pm25) < mean(peak)  # the fine fraction rises less


def test_sensors_drop_out_and_come_back(day: list[Message]) -> None:
    times: dict[str, list[datetime]] = defaultdict(list)
    kind_of: dict[str, str] = {}
    for m in day:
        if m.kind in ("lot", "air", "structure"):
            times[m.device_id].append(m.at)
            kind_of[m.device_id] = m.kind
    gaps = [
        (device, b - a)
        for device, seen in times.items()
        for a, b in zip(seen, seen[1:], strict=False)
        if b - a >= timedelta(minutes=EVERY[kind_of[device]] + 30)
    ]
    # 120 sensors, 1 % an hour: about 29 dropouts a day (each 30 min to 4 h long)
    assert 8 <= len(gaps) <= 60, len(gaps)
    assert all(gap <= timedelta(hours=4, minutes=30) for _, gap in gaps)


def test_households_are_quiet_at_night(day: list[Message]) -> None:
    motions = [m for m in day if m.kind == "motion" and m.body.get("m")]
    night = sum(1 for m in motions if 1 <= _kst(m) < 4)
    morning = sum(1 for m in motions if 6.5 <= _kst(m) < 9.5)
    assert morning > 10 * max(night, 1), (night, morning)
    heard = {m.device_id for m in day if m.kind == "motion"}
    assert len(heard) == 200  # every sensor reports (its temperature) during the day


def test_panels_read_normal_until_a_fault(
    day: list[Message], city: list[dict[str, object]]
) -> None:
    panels = [m for m in day if m.kind == "panel"]
    assert len({m.device_id for m in panels}) == COUNTS["ElectricalPanel"]
    normal = [m for m in panels if graded(m) == "normal"]
    assert len(normal) > 0.9 * len(panels)
    assert 1.0 < mean(m.body["l"] for m in normal) < 8.0  # a few mA
    assert 25.0 < mean(m.body["t"] for m in normal) < 45.0
    # the day has a fault: its panel reports every 5 minutes while it lasts
    faulty = {m.device_id for m in panels if graded(m) != "normal"}
    assert faulty and len(faulty) <= 5
    for device in faulty:
        seen = [m.at for m in panels if m.device_id == device]
        gaps = Counter(b - a for a, b in zip(seen, seen[1:], strict=False))
        assert gaps.most_common(1)[0][0] == timedelta(minutes=ALARMED_EVERY), gaps
    # faults reach caution and, more rarely, danger (fault_at_peak fails when none does)
    assert fault_at_peak(SEED, city, "caution").at < fault_at_peak(SEED, city, "danger").at


def test_bus_cameras_sight_plates_in_the_zones(
    day: list[Message], city: list[dict[str, object]]
) -> None:
    zones = [e for e in city if e["type"] == "EnforcementZone"]
    batches = [m for m in day if m.kind == SIGHTINGS]
    assert len(batches) > 20
    now = datetime.now(UTC)
    for msg in batches:
        assert 5.5 <= _kst(msg) < 23.0  # buses run from 05:30 to 23:00
        for item in msg.body:
            s = Sighting.from_json({**item, "at": "2026-03-02T08:00:00+09:00"}, now)
            assert s.camera.kind == "bus" and s.camera.id == msg.device_id
            assert any(_metres(s.lon, s.lat, z) <= z["radius"]["value"] for z in zones)  # type: ignore[index]
    plates = [i["plate"] for m in batches for i in m.body]
    assert len(set(plates)) < len(plates)  # a car parked a while is seen more than once


def _metres(lon: float, lat: float, zone: dict[str, object]) -> float:
    zlon, zlat = zone["location"]["value"]["coordinates"]  # type: ignore[index]
    dx = (lon - zlon) * 111_320 * math.cos(math.radians(lat))
    return math.hypot(dx, (lat - zlat) * 111_320)
