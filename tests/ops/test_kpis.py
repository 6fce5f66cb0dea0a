"""Operations center KPIs from hand-made events and grants: counts, times to acknowledge and
close, linked services, the 119 dispatch figures of the Daejeon pilot, agencies, the window
parameters of the API and the CSV export."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cityhub.errors import BadRequestData
from cityhub.ops.kpis import compute, csv_rows, parse_window

WINDOW = (datetime(2026, 11, 30, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
T0 = datetime(2026, 11, 30, 1, tzinfo=UTC)


def at(seconds: float) -> str:
    """T0 plus ``seconds`` as an NGSI-LD time (with milliseconds, as the hub writes them)."""
    moment = T0 + timedelta(seconds=seconds)
    return moment.isoformat(timespec="milliseconds")[:-6] + "Z"


def event(ident: str, status: str, **attrs: Any) -> dict[str, Any]:
    """A CityEvent in keyValues form that occurred at T0 (no fraction in the time)."""
    return {
        "id": f"urn:ngsi-ld:CityEvent:{ident}",
        "type": "CityEvent",
        "eventName": ident,
        "status": status,
        "occurredAt": "2026-11-30T01:00:00Z",
    } | attrs


def sample_events() -> list[dict[str, Any]]:
    """One event in each status, linked requests answered and not, two 119 dispatches (arrived
    in 5:58 and 7:26), and events outside the window or without a readable occurredAt."""
    return [
        event(
            "A",
            "occurred",
            eventCode="FIRE0001",
            severity="high",
            category="fire",
            linkedService="112-video",
            requestedBy="police-1",
        ),
        event(
            "B",
            "acknowledged",
            eventCode="CRIM0001",
            severity="medium",
            category="crime",
            linkedService="112-video",
            requestedBy="police-1",
            acknowledgedAt="2026-11-30T01:00:30.500Z",
        ),
        event(
            "C",
            "assigned",
            eventCode="CRIM0001",
            severity="medium",
            category="crime",
            linkedService="112-dispatch",
            requestedBy="police-2",
            acknowledgedAt=at(90),
        ),
        event(
            "D",
            "inProgress",
            eventCode="TRAF0001",
            severity="low",
            category="traffic",
            acknowledgedAt=at(10),
        ),
        event(
            "E",
            "cleared",
            eventCode="FIRE0001",
            severity="high",
            category="fire",
            linkedService="119-dispatch",
            requestedBy="fire-1",
            acknowledgedAt=at(20),
            arrivedAt=at(5 * 60 + 58),
            endedAt=at(1200),
        ),
        event(
            "F",
            "completed",
            eventCode="FIRE0001",
            severity="critical",
            category="fire",
            linkedService="119-dispatch",
            requestedBy="fire-1",
            acknowledgedAt=at(40),
            arrivedAt=at(7 * 60 + 26),
            endedAt=at(3600),
        ),
        event(
            "G",
            "cancelled",
            eventCode="TRAF0001",
            severity="informational",
            category="traffic",
            endedAt=at(60),
        ),
        # the window is [start, end): an event at its end is outside, as is one just before it
        event(
            "H",
            "occurred",
            eventCode="FIRE0001",
            severity="critical",
            category="fire",
            linkedService="119-dispatch",
            requestedBy="fire-1",
            occurredAt="2026-12-01T00:00:00Z",
            acknowledgedAt="2026-12-01T00:00:05Z",
            arrivedAt="2026-12-01T00:01:40Z",
        ),
        event("I", "cleared", eventCode="OLD00001", occurredAt="2026-11-29T23:59:59.999Z"),
        event("J", "occurred", eventCode="BAD00001", occurredAt="2026-11-31T01:00:00Z"),
    ]


def sample_grants() -> list[dict[str, Any]]:
    """Grants of events in the window, of one outside it, of an unknown event, and a broken one."""

    def grant(ident: str, agency: Any, camera: str, **more: Any) -> dict[str, Any]:
        return {
            "eventId": f"urn:ngsi-ld:CityEvent:{ident}",
            "agency": agency,
            "cameraId": camera,
            "grantedAt": at(30),
            "expiresAt": at(1830),
        } | more

    return [
        grant("B", "police-1", "cam-1"),
        grant("B", "police-1", "cam-2"),
        grant("A", "police-1", "cam-1"),  # the same camera again: one camera shared
        grant("E", "fire-1", "cam-9", revokedAt=at(120)),  # revoked, but it was granted
        grant("F", "disaster-center", "cam-3"),  # an agency that requested nothing
        grant("H", "fire-1", "cam-7"),  # event outside the window
        grant("Z", "police-2", "cam-8"),  # no such event
        grant("C", None, "cam-4"),  # no agency
    ]


def test_event_counts() -> None:
    """Only events in the window count, each status is counted and the open ones summed."""
    kpis = compute(sample_events(), [], WINDOW)
    assert kpis["window"] == {
        "start": "2026-11-30T00:00:00.000Z",
        "end": "2026-12-01T00:00:00.000Z",
    }
    assert kpis["events"] == {
        "total": 7,
        "open": 4,
        "byStatus": {
            "occurred": 1,
            "acknowledged": 1,
            "assigned": 1,
            "inProgress": 1,
            "cleared": 1,
            "cancelled": 1,
            "completed": 1,
        },
        "bySeverity": {"informational": 1, "low": 1, "medium": 2, "high": 2, "critical": 1},
        "byType": {"CRIM0001": 2, "FIRE0001": 3, "TRAF0001": 2},
        "byCategory": {"crime": 2, "fire": 3, "traffic": 2},
    }
    json.dumps(kpis)  # JSON-ready: no sets, no datetimes


def test_times_to_acknowledge_and_close() -> None:
    """Acknowledge: 10, 20, 30.5, 40, 90 s; close (closed events only): 60, 1200, 3600 s."""
    kpis = compute(sample_events(), [], WINDOW)
    assert kpis["timeToAcknowledge"] == {
        "count": 5,
        "mean_s": 38.1,
        "median_s": 30.5,
        "p90_s": 90.0,
    }
    assert kpis["timeToClose"] == {
        "count": 3,
        "mean_s": 1620.0,
        "median_s": 1200.0,
        "p90_s": 3600.0,
    }


def test_p90_is_nearest_rank() -> None:
    """Of 1..10 s the p90 is the 9th value, the median the mean of the 5th and 6th."""
    events = [event(str(n), "acknowledged", acknowledgedAt=at(n)) for n in range(1, 11)]
    stats = compute(events, [], WINDOW)["timeToAcknowledge"]
    assert stats == {"count": 10, "mean_s": 5.5, "median_s": 5.5, "p90_s": 9.0}


def test_linked_services() -> None:
    """Answered means acknowledged; within target means acknowledged within 60 s."""
    services = compute(sample_events(), [], WINDOW)["linkedServices"]
    assert services == {
        "112-video": {
            "requests": 2,
            "answered": 1,
            "answeredWithinTarget": 1,
            "shareWithinTarget": 0.5,
        },
        "112-dispatch": {
            "requests": 1,
            "answered": 1,
            "answeredWithinTarget": 0,
            "shareWithinTarget": 0.0,
        },
        "119-dispatch": {
            "requests": 2,
            "answered": 2,
            "answeredWithinTarget": 2,
            "shareWithinTarget": 1.0,
        },
        "disaster": {
            "requests": 0,
            "answered": 0,
            "answeredWithinTarget": 0,
            "shareWithinTarget": None,
        },
        "vulnerable": {
            "requests": 0,
            "answered": 0,
            "answeredWithinTarget": 0,
            "shareWithinTarget": None,
        },
    }


def test_answer_target_is_inclusive_and_settable() -> None:
    """An answer in exactly the target counts; a 30 s target leaves out 30.5 s and 40 s."""
    events = [
        event("P", "acknowledged", linkedService="vulnerable", acknowledgedAt=at(60)),
        event("Q", "acknowledged", linkedService="vulnerable", acknowledgedAt=at(60.001)),
        event("R", "acknowledged", linkedService="private-security", acknowledgedAt=at(1)),
    ]
    services = compute(events, [], WINDOW)["linkedServices"]
    assert services["vulnerable"]["answeredWithinTarget"] == 1
    assert services["vulnerable"]["shareWithinTarget"] == 0.5
    assert services["private-security"]["requests"] == 1  # a later service is counted too
    strict = compute(sample_events(), [], WINDOW, answer_target_s=30)["linkedServices"]
    assert strict["112-video"]["answeredWithinTarget"] == 0
    assert strict["119-dispatch"]["answeredWithinTarget"] == 1  # 20 s yes, 40 s no


def test_dispatch_119_daejeon_figures() -> None:
    """Arrivals in 5:58 and 7:26: mean 402 s, half within 7 minutes, both within 8."""
    kpis = compute(sample_events(), [], WINDOW)
    assert kpis["dispatch119"] == {
        "requests": 2,
        "arrivals": 2,
        "meanArrival_s": 402.0,
        "withinTarget": 1,
        "shareWithinTarget": 0.5,
        "targetMinutes": 7.0,
    }
    looser = compute(sample_events(), [], WINDOW, dispatch_target_minutes=8)["dispatch119"]
    assert (looser["withinTarget"], looser["shareWithinTarget"]) == (2, 1.0)
    tighter = compute(sample_events(), [], WINDOW, dispatch_target_minutes=5.5)["dispatch119"]
    assert (tighter["withinTarget"], tighter["shareWithinTarget"]) == (0, 0.0)


def test_agencies() -> None:
    """Requests by requestedBy; grants and distinct cameras of the window's events by agency."""
    agencies = compute(sample_events(), sample_grants(), WINDOW)["agencies"]
    assert agencies == {
        "disaster-center": {"requests": 0, "grants": 1, "camerasShared": 1},
        "fire-1": {"requests": 2, "grants": 1, "camerasShared": 1},
        "police-1": {"requests": 2, "grants": 3, "camerasShared": 2},
        "police-2": {"requests": 1, "grants": 0, "camerasShared": 0},
    }


def test_broken_values_are_skipped_per_figure() -> None:
    """An unreadable time leaves its event out of that figure only; unreadable or zone-less
    occurredAt leaves it out of everything."""
    events: list[dict[str, Any]] = [
        event(
            "X",
            "cleared",
            severity=7,
            eventCode=None,
            linkedService="112-video",
            acknowledgedAt="soon",
            endedAt=42,
        ),
        event("Y", "completed", endedAt="2026-11-30T01:00:00.25Z"),
        {"id": "urn:ngsi-ld:CityEvent:W", "occurredAt": "2026-11-30T05:00:00Z"},  # no status
        event("V", "occurred", occurredAt="yesterday"),
        event("U", "occurred", occurredAt="2026-11-30T03:00:00"),  # no zone: unplaceable
        event("T", "occurred", occurredAt=None),
    ]
    kpis = compute(events, [{"eventId": ["x"], "agency": "police-1"}], WINDOW)
    assert kpis["events"]["total"] == 3
    assert kpis["events"]["open"] == 0
    assert sum(kpis["events"]["byStatus"].values()) == 2
    assert sum(kpis["events"]["bySeverity"].values()) == 0
    assert kpis["events"]["byType"] == {}
    assert kpis["timeToAcknowledge"] == {
        "count": 0,
        "mean_s": None,
        "median_s": None,
        "p90_s": None,
    }
    assert kpis["timeToClose"] == {"count": 1, "mean_s": 0.2, "median_s": 0.2, "p90_s": 0.2}
    assert kpis["linkedServices"]["112-video"] == {
        "requests": 1,
        "answered": 0,
        "answeredWithinTarget": 0,
        "shareWithinTarget": 0.0,
    }
    assert kpis["agencies"] == {}


def test_negative_durations_are_dropped() -> None:
    """Times before occurredAt (clock skew) count in no duration, but the event still counts."""
    skewed = event(
        "S",
        "completed",
        linkedService="119-dispatch",
        acknowledgedAt="2026-11-30T00:59:00Z",
        arrivedAt="2026-11-30T00:58:00Z",
        endedAt="2026-11-30T00:30:00Z",
    )
    fine = event("O", "completed", acknowledgedAt=at(100), endedAt=at(200))
    kpis = compute([skewed, fine], [], WINDOW)
    assert kpis["events"]["total"] == 2
    assert kpis["timeToAcknowledge"] == {
        "count": 1,
        "mean_s": 100.0,
        "median_s": 100.0,
        "p90_s": 100.0,
    }
    assert kpis["timeToClose"]["count"] == 1
    assert kpis["linkedServices"]["119-dispatch"]["answered"] == 1  # it was acknowledged
    assert kpis["linkedServices"]["119-dispatch"]["answeredWithinTarget"] == 0
    assert kpis["dispatch119"] == {
        "requests": 1,
        "arrivals": 0,
        "meanArrival_s": None,
        "withinTarget": 0,
        "shareWithinTarget": None,
        "targetMinutes": 7.0,
    }


def test_empty_input() -> None:
    """No events: zero counts, null stats and shares."""
    kpis = compute([], [], WINDOW)
    assert kpis["events"]["total"] == 0
    assert kpis["timeToClose"]["mean_s"] is None
    assert kpis["dispatch119"]["shareWithinTarget"] is None
    assert kpis["agencies"] == {}


def test_bad_targets_and_window() -> None:
    """A target must be a positive number; the window must be aware."""
    with pytest.raises(BadRequestData, match="dispatch_target_minutes must be a positive"):
        compute([], [], WINDOW, dispatch_target_minutes=0)
    with pytest.raises(BadRequestData, match="answer_target_s must be a positive"):
        compute([], [], WINDOW, answer_target_s=float("nan"))
    with pytest.raises(ValueError, match="aware"):
        compute([], [], (datetime(2026, 11, 30), datetime(2026, 12, 1)))  # noqa: DTZ001


NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_parse_window_defaults_to_last_day() -> None:
    """No parameters: the 24 h before now; only start: until now; only end: the day before."""
    assert parse_window(None, None, NOW) == (NOW - timedelta(hours=24), NOW)
    assert parse_window("2026-11-30T06:00:00Z", None, NOW) == (NOW - timedelta(hours=6), NOW)
    end = datetime(2026, 11, 20, tzinfo=UTC)
    assert parse_window(None, "2026-11-20T00:00:00Z", NOW) == (end - timedelta(days=1), end)


def test_parse_window_dates_are_seoul_midnight() -> None:
    """A plain date is midnight in Seoul: 15:00 UTC the day before."""
    start, end = parse_window("2026-11-01", "2026-12-01", NOW)
    assert start == datetime(2026, 10, 31, 15, tzinfo=UTC)
    assert end == datetime(2026, 11, 30, 15, tzinfo=UTC)
    assert start.utcoffset() == timedelta(0)


def test_parse_window_offsets() -> None:
    """Z, offsets and fractions are read and the result is in UTC."""
    start, end = parse_window("2026-11-30T09:00:00+09:00", "2026-11-30T10:30:00.5Z", NOW)
    assert start == datetime(2026, 11, 30, 0, tzinfo=UTC)
    assert end == datetime(2026, 11, 30, 10, 30, 0, 500000, tzinfo=UTC)
    assert start.tzinfo is UTC


def test_parse_window_up_to_366_days() -> None:
    """A leap year (366 days) is allowed."""
    start, end = parse_window("2024-01-01", "2025-01-01", NOW)
    assert end - start == timedelta(days=366)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (
            "yesterday",
            None,
            r"start must be an ISO 8601 date-time or a date \(YYYY-MM-DD\), not 'yesterday'",
        ),
        (None, "2026-02-30", "end must be an ISO 8601 date-time or a date"),
        ("2026-11-30T10:00:00", None, r"start needs a time zone \(Z or an offset"),
        ("", None, "start must be an ISO 8601"),
        (
            "2026-11-30",
            "2026-11-30",
            r"start \(2026-11-29T15:00:00.000Z\) must be before end \(2026-11-29T15:00:00.000Z\)",
        ),
        ("2026-12-01T00:00:00Z", None, "must be before end"),  # start after now
        ("2025-01-01", "2026-01-03", "the window is 367 days long: at most 366 days"),
    ],
)
def test_parse_window_errors(start: str | None, end: str | None, message: str) -> None:
    """Unreadable values, an empty or reversed window and a too long one are refused."""
    with pytest.raises(BadRequestData, match=message):
        parse_window(start, end, NOW)


def test_csv_rows() -> None:
    """Every figure is one metric,key,value row; the key is what a figure is broken down by."""
    events = [*sample_events(), event("M", "occurred", eventCode="=HYPERLINK(1)")]
    rows = csv_rows(compute(events, sample_grants(), WINDOW))
    assert rows[0] == ["metric", "key", "value"]
    assert all(len(row) == 3 and all(isinstance(c, str) for c in row) for row in rows)
    for row in (
        ["window.start", "", "2026-11-30T00:00:00.000Z"],
        ["events.total", "", "8"],
        ["events.byStatus", "occurred", "2"],
        ["events.byType", "FIRE0001", "3"],
        ["events.byType", "'=HYPERLINK(1)", "1"],  # a spreadsheet must not run it
        ["timeToAcknowledge.p90_s", "", "90.0"],
        ["linkedServices.shareWithinTarget", "112-video", "0.5"],
        ["linkedServices.shareWithinTarget", "disaster", ""],
        ["dispatch119.meanArrival_s", "", "402.0"],
        ["dispatch119.shareWithinTarget", "", "0.5"],
        ["agencies.camerasShared", "police-1", "2"],
    ):
        assert row in rows
    # 2 window + 2 totals + 7 statuses + 5 severities + 4 types + 3 categories
    # + 2 * 4 stats + 5 services * 4 + 6 dispatch + 4 agencies * 3
    assert len(rows) == 1 + 2 + 2 + 7 + 5 + 4 + 3 + 8 + 20 + 6 + 12
