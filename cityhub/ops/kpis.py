"""Key performance indicators of the operations center, computed from rows the caller passes.

Pure: no database, no clock. The caller reads the city events (``CityEvent`` in keyValues
form) and the CCTV grants, and :func:`compute` turns them into one JSON-ready summary: counts
by status, severity, type and category, times to acknowledge and to close, how the five linked
safety services were answered, the 119 dispatch figures of the Daejeon pilot (arrival time and
the share of dispatches on the scene within 7 minutes) and what each agency requested and got.

Data as it comes from the field is not trusted: a missing or unparseable value leaves its event
out of that one figure, and a negative duration (clock skew between systems) is dropped, not
counted. Only events whose ``occurredAt`` is in the window ``[start, end)`` count; an event
without a readable ``occurredAt`` cannot be placed in a window and counts nowhere.

Percentiles are nearest-rank: p90 of n sorted values is the ``ceil(0.9 n)``-th of them, always
an observed value (the median is the usual middle, the mean of the two middles when n is even).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from cityhub.errors import BadRequestData
from cityhub.ops.events import CLOSED, CODES, OPEN, SEOUL, SEVERITIES

#: the five linked safety services (5대 연계서비스), always present in the result
LINKED_SERVICES = ("112-video", "112-dispatch", "119-dispatch", "disaster", "vulnerable")
DISPATCH_119 = "119-dispatch"
DEFAULT_WINDOW = timedelta(hours=24)
MAX_WINDOW = timedelta(days=366)
#: sections whose keys are names (a service, an agency) holding figures, not figures themselves
_KEYED_SECTIONS = ("linkedServices", "agencies")
#: a spreadsheet runs a cell starting with one of these as a formula
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def compute(
    events: Iterable[Mapping[str, Any]],
    grants: Iterable[Mapping[str, Any]],
    window: tuple[datetime, datetime],
    *,
    answer_target_s: float = 60.0,
    dispatch_target_minutes: float = 7.0,
) -> dict[str, Any]:
    """The operations center's KPIs for the events that occurred in ``window`` (JSON-ready)."""
    start, end = window
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("the window needs aware datetimes")
    for name, target in (
        ("answer_target_s", answer_target_s),
        ("dispatch_target_minutes", dispatch_target_minutes),
    ):
        if not 0 < target < float("inf"):
            raise BadRequestData(f"{name} must be a positive number, not {target!r}")

    by_status: Counter[str] = Counter({status: 0 for status in CODES})
    by_severity: Counter[str] = Counter({severity: 0 for severity in SEVERITIES})
    by_type: Counter[str] = Counter()
    by_category: Counter[str] = Counter()
    to_ack: list[float] = []
    to_close: list[float] = []
    services = {name: _service() for name in LINKED_SERVICES}
    arrivals: list[float] = []
    dispatch_requests = 0
    agencies: dict[str, dict[str, Any]] = {}
    ids: set[str] = set()
    total = open_count = 0

    for event in events:
        occurred = _moment(event.get("occurredAt"))
        if occurred is None or not start <= occurred < end:
            continue
        total += 1
        if isinstance(event.get("id"), str):
            ids.add(event["id"])
        status = _text(event.get("status"))
        if status is not None:
            by_status[status] += 1
            open_count += status in OPEN
        for counter, name in (
            (by_severity, "severity"),
            (by_type, "eventCode"),
            (by_category, "category"),
        ):
            value = _text(event.get(name))
            if value is not None:
                counter[value] += 1

        acknowledged = _moment(event.get("acknowledgedAt"))
        ack_s = _seconds(occurred, acknowledged)
        if ack_s is not None:
            to_ack.append(ack_s)
        # closed means the status says so; endedAt alone (a half-written row) is not enough
        if status in CLOSED:
            close_s = _seconds(occurred, _moment(event.get("endedAt")))
            if close_s is not None:
                to_close.append(close_s)

        service = _text(event.get("linkedService"))
        if service is not None:
            figures = services.setdefault(service, _service())
            figures["requests"] += 1
            if acknowledged is not None:
                figures["answered"] += 1
                if ack_s is not None and ack_s <= answer_target_s:
                    figures["answeredWithinTarget"] += 1
            if service == DISPATCH_119:
                dispatch_requests += 1
                arrival_s = _seconds(occurred, _moment(event.get("arrivedAt")))
                if arrival_s is not None:
                    arrivals.append(arrival_s)

        requester = _text(event.get("requestedBy"))
        if requester is not None:
            _agency(agencies, requester)["requests"] += 1

    for grant in grants:
        if _text(grant.get("eventId")) not in ids:
            continue
        agency = _text(grant.get("agency"))
        if agency is None:
            continue
        figures = _agency(agencies, agency)
        figures["grants"] += 1
        camera = _text(grant.get("cameraId"))
        if camera is not None:
            figures["cameras"].add(camera)

    for figures in services.values():
        figures["shareWithinTarget"] = _share(figures["answeredWithinTarget"], figures["requests"])
    within = sum(1 for s in arrivals if s <= dispatch_target_minutes * 60)
    return {
        "window": {"start": _iso(start), "end": _iso(end)},
        "events": {
            "total": total,
            "open": open_count,
            "byStatus": dict(by_status),
            "bySeverity": dict(by_severity),
            "byType": dict(sorted(by_type.items())),
            "byCategory": dict(sorted(by_category.items())),
        },
        "timeToAcknowledge": _stats(to_ack),
        "timeToClose": _stats(to_close),
        "linkedServices": services,
        "dispatch119": {
            "requests": dispatch_requests,
            "arrivals": len(arrivals),
            "meanArrival_s": round(statistics.fmean(arrivals), 1) if arrivals else None,
            "withinTarget": within,
            "shareWithinTarget": _share(within, len(arrivals)),
            "targetMinutes": dispatch_target_minutes,
        },
        "agencies": {
            name: {
                "requests": figures["requests"],
                "grants": figures["grants"],
                "camerasShared": len(figures["cameras"]),
            }
            for name, figures in sorted(agencies.items())
        },
    }


def parse_window(start: str | None, end: str | None, now: datetime) -> tuple[datetime, datetime]:
    """The KPI window ``[start, end)`` in UTC from API parameters (default: the last 24 h).

    A value is an ISO 8601 date-time with ``Z`` or an offset, or a plain date, taken as
    midnight in Seoul (the city's day): ``start=2026-11-01&end=2026-12-01`` is November. Without
    ``end`` the window ends now; without ``start`` it is the 24 h before its end.
    """
    until = _parse_bound("end", end) if end is not None else now.astimezone(UTC)
    since = _parse_bound("start", start) if start is not None else until - DEFAULT_WINDOW
    if since >= until:
        raise BadRequestData(f"start ({_iso(since)}) must be before end ({_iso(until)})")
    if until - since > MAX_WINDOW:
        days = (until - since) / timedelta(days=1)
        raise BadRequestData(f"the window is {days:g} days long: at most 366 days are allowed")
    return since, until


def csv_rows(kpis: dict[str, Any]) -> list[list[str]]:
    """The result of :func:`compute` as ``metric,key,value`` rows, a header row first.

    ``metric`` is ``section.figure`` (``events.byStatus``, ``dispatch119.shareWithinTarget``);
    ``key`` is what a figure is broken down by (a status, a service, an agency), empty for a
    single figure; a null value is an empty cell.
    """
    rows = [["metric", "key", "value"]]
    for section, body in kpis.items():
        for name, value in body.items():
            if not isinstance(value, dict):
                rows.append([f"{section}.{name}", "", _cell(value)])
            elif section in _KEYED_SECTIONS:  # name is a service or an agency
                for figure, figure_value in value.items():
                    rows.append([f"{section}.{figure}", _cell(name), _cell(figure_value)])
            else:  # a breakdown: byStatus, bySeverity, ...
                for key, count in value.items():
                    rows.append([f"{section}.{name}", _cell(key), _cell(count)])
    return rows


def _parse_bound(name: str, value: str) -> datetime:
    text = value.strip()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        return datetime.combine(day, time(), tzinfo=SEOUL).astimezone(UTC)
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError as err:
        raise BadRequestData(
            f"{name} must be an ISO 8601 date-time or a date (YYYY-MM-DD), not {value!r}"
        ) from err
    if moment.tzinfo is None:
        raise BadRequestData(f"{name} needs a time zone (Z or an offset like +09:00): {value!r}")
    return moment.astimezone(UTC)


def _moment(value: Any) -> datetime | None:
    """An aware datetime from an ISO 8601 string, None when there is none or it is unreadable."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _seconds(since: datetime, until: datetime | None) -> float | None:
    """Seconds from ``since`` to ``until``; None when unknown or negative (clock skew)."""
    if until is None:
        return None
    seconds = (until - since).total_seconds()
    return seconds if seconds >= 0 else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _service() -> dict[str, Any]:
    return {"requests": 0, "answered": 0, "answeredWithinTarget": 0, "shareWithinTarget": None}


def _agency(agencies: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    return agencies.setdefault(name, {"requests": 0, "grants": 0, "cameras": set()})


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _stats(values: list[float]) -> dict[str, Any]:
    """Count, mean, median and nearest-rank p90 of durations in seconds (0.1 s)."""
    if not values:
        return {"count": 0, "mean_s": None, "median_s": None, "p90_s": None}
    ordered = sorted(values)
    rank = -(-9 * len(ordered) // 10)  # ceil(0.9 n) in integers: 0.9 * 70 is 63.00000000000001
    return {
        "count": len(ordered),
        "mean_s": round(statistics.fmean(ordered), 1),
        "median_s": round(statistics.median(ordered), 1),
        "p90_s": round(ordered[rank - 1], 1),
    }


def _iso(moment: datetime) -> str:
    """UTC with milliseconds and Z, as NGSI-LD times are written."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def _cell(value: Any) -> str:
    """A CSV cell; text from the data that a spreadsheet would run as a formula is quoted."""
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if value.startswith(_FORMULA_START) else value
    return str(value)
