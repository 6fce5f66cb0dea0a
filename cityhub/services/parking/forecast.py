"""Occupancy forecast of a lot for the next hours, from its history: a seasonal profile.

The history is the lot's recorded ``occupiedSpotNumber`` (or, for hours without it,
``totalSpotNumber - availableSpotNumber``), read through the temporal service as hourly
averages (the aggregated representation, ``avg`` over ``PT1H``). The profile is the mean
occupancy of each weekday × hour slot over the past weeks, in Seoul local time (the city's day:
people park by the local clock; Korea keeps no daylight saving). A slot without history falls
back on the same hour of days of the same kind (weekday or weekend), then of any day, then on
the overall mean.

The forecast of an hour is its slot's value in the profile of the whole history. The
evaluation holds the last ``days`` (7) days of history out: a profile of the earlier history
predicts each held-out hour, and MAE (spaces) and MAPE (%, over hours with some occupancy)
measure it, next to the MAE of a flat forecast (the earlier history's mean) as a baseline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from cityhub.datamodels.model import short_name
from cityhub.errors import BadRequestData, NonexistentTenant, ResourceNotFound
from cityhub.ngsild.hub import Hub
from cityhub.ops.events import _value
from cityhub.temporal.model import BETWEEN, OBSERVED_AT, Duration, TimeFilter, iso, to_micros
from cityhub.temporal.params import AGGREGATED, TemporalQuery
from cityhub.temporal.service import TemporalService

SEOUL = ZoneInfo("Asia/Seoul")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
SLOTS = 7 * 24
HELD_OUT_DAYS = 7
_NAMES = ("occupiedSpotNumber", "availableSpotNumber", "totalSpotNumber")

Hourly = dict[int, float]  # hour start (µs since the epoch) -> mean occupied spaces


@dataclass(slots=True)
class History:
    """A lot's hourly occupancy and its latest capacity."""

    occupied: Hourly
    total: float | None


def slot_of(micros: int) -> int:
    """The weekday × hour slot (0 = Monday 00:00 Seoul time) of an instant."""
    local = datetime.fromtimestamp(micros / 1_000_000, SEOUL)
    return local.weekday() * 24 + local.hour


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def profile(hourly: Hourly) -> list[float]:
    """The mean of each of the 168 slots, gaps filled (see the module); [] without history."""
    if not hourly:
        return []
    by_slot: list[list[float]] = [[] for _ in range(SLOTS)]
    for start, value in hourly.items():
        by_slot[slot_of(start)].append(value)
    means = [_mean(values) for values in by_slot]
    overall = sum(hourly.values()) / len(hourly)
    filled = []
    for slot, mean in enumerate(means):
        if mean is not None:
            filled.append(mean)
            continue
        day, hour = divmod(slot, 24)
        weekend = day >= 5
        kind = [v for d in range(7) if (d >= 5) == weekend for v in by_slot[d * 24 + hour]]
        any_day = [v for d in range(7) for v in by_slot[d * 24 + hour]]
        fallback = next((m for m in (_mean(kind), _mean(any_day)) if m is not None), overall)
        filled.append(fallback)
    return filled


def evaluate(hourly: Hourly, days: int = HELD_OUT_DAYS) -> dict[str, Any] | None:
    """Train on all but the last ``days`` days, test on them (None when either is empty)."""
    if not hourly:
        return None
    end = max(hourly) + HOUR_US
    cut = end - days * DAY_US
    train = {t: v for t, v in hourly.items() if t < cut}
    test = {t: v for t, v in hourly.items() if t >= cut}
    if not train or not test:
        return None
    predict = profile(train)
    flat = sum(train.values()) / len(train)
    errors = [abs(predict[slot_of(t)] - v) for t, v in test.items()]
    relative = [abs(predict[slot_of(t)] - v) / v for t, v in test.items() if v > 0]
    return {
        "mae": round(sum(errors) / len(errors), 2),
        "mape": round(100 * sum(relative) / len(relative), 1) if relative else None,
        "days": days,
        "hours": len(test),
        "trainedFrom": iso(min(train)),
        "heldOutFrom": iso(cut),
        "baselineMae": round(sum(abs(flat - v) for v in test.values()) / len(test), 2),
    }


async def history(
    hub: Hub, temporal: TemporalService, tenant: str, lot_id: str, start: int, end: int
) -> History:
    """The lot's hourly occupancy in [start, end) (hour-aligned µs) and its capacity now."""
    query = TemporalQuery(
        tf=TimeFilter(OBSERVED_AT, BETWEEN, start, end),
        fmt=AGGREGATED,
        methods=("avg",),
        period=Duration(0, HOUR_US),
    )
    result = await temporal.retrieve(tenant, lot_id, query)
    hours: dict[str, Hourly] = {}
    for entity in result.entities:
        for series, _ in entity.series:
            name = short_name(series.attr)
            if series.dataset or name not in _NAMES:
                continue
            for bucket in entity.buckets.get(series.sid, []):
                _, index, avg = bucket[:3]
                if isinstance(avg, int | float) and math.isfinite(avg):
                    hours.setdefault(name, {})[start + index * HOUR_US] = float(avg)
    total = await _capacity(hub, tenant, lot_id, hours.get("totalSpotNumber", {}))
    occupied = dict(hours.get("occupiedSpotNumber", {}))
    free = hours.get("availableSpotNumber", {})
    for at, available in free.items():
        capacity = hours.get("totalSpotNumber", {}).get(at, total)
        if at not in occupied and capacity is not None:
            occupied[at] = max(0.0, capacity - available)
    return History(occupied, total)


async def _capacity(hub: Hub, tenant: str, lot_id: str, totals: Hourly) -> float | None:
    """The lot's capacity: its totalSpotNumber now, else free + occupied now, else the latest
    recorded total."""
    try:
        lot = await hub.entities.get(tenant, lot_id)
    except (ResourceNotFound, NonexistentTenant):
        lot = None
    if lot is not None:
        total = _value(lot, "totalSpotNumber")
        if isinstance(total, int | float) and not isinstance(total, bool):
            return float(total)
        free, used = _value(lot, "availableSpotNumber"), _value(lot, "occupiedSpotNumber")
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in (free, used)):
            return float(free + used)
    return totals[max(totals)] if totals else None


async def forecast(
    hub: Hub,
    temporal: TemporalService,
    tenant: str,
    lot_id: str,
    *,
    hours: int = 6,
    weeks: int = 8,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The profile, the forecast of the next ``hours`` hours (from the current hour) and the
    held-out evaluation, from the last ``weeks`` weeks of history."""
    if not 1 <= hours <= 168 or not 1 <= weeks <= 52:
        raise BadRequestData("hours is 1-168 and weeks 1-52")
    current = to_micros(now or datetime.now(UTC)) // HOUR_US * HOUR_US
    end = current + HOUR_US
    found = await history(hub, temporal, tenant, lot_id, end - weeks * 7 * DAY_US, end)
    if not found.occupied:
        raise ResourceNotFound(
            f"lot {lot_id} has no history of occupiedSpotNumber or availableSpotNumber"
        )
    shape = profile(found.occupied)
    total = found.total
    ahead = []
    for i in range(hours):
        at = current + i * HOUR_US
        occupied = max(0.0, shape[slot_of(at)])
        if total is not None:
            occupied = min(occupied, total)
        occupied = round(occupied, 1)
        ahead.append(
            {
                "at": iso(at),
                "occupied": occupied,
                "available": round(total - occupied, 1) if total is not None else None,
            }
        )
    return {
        "lot": lot_id,
        "total": total,
        "profile": {
            "timezone": "Asia/Seoul",
            "weekdays": list(WEEKDAYS),
            "occupied": [[round(v, 1) for v in shape[d * 24 : d * 24 + 24]] for d in range(7)],
            "hours": len(found.occupied),
            "from": iso(min(found.occupied)),
            "to": iso(max(found.occupied) + HOUR_US),
        },
        "forecast": ahead,
        "evaluation": evaluate(found.occupied),
    }
