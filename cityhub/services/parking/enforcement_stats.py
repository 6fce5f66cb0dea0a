"""Enforcement statistics per zone and hour of the day (Seoul time), over a window.

For each zone (and ``null``: sightings outside every zone) and each hour 0-23 with anything
in it: ``sightings`` (by the time of the sighting), ``preNotices`` (sent, by the time of the
first sighting, when they go out), ``violations`` (by the time they were confirmed) and
``movedAfterNotice`` (cases sent a pre-notice that ended without a violation: the car moved
or was not seen again within ``parking_case_expiry_minutes``; by the time of the notice).
``fines`` sums the fines of the violations, in won.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from cityhub.ops.events import SEOUL
from cityhub.services.parking.enforcement_model import iso, when
from cityhub.services.parking.enforcement_store import PENDING, Case, CaseStore

COUNTS = ("sightings", "preNotices", "violations", "movedAfterNotice")


def _hour(at: str) -> int:
    return when(at).astimezone(SEOUL).hour


def _moved_after_notice(case: Case, now: datetime, expiry: timedelta) -> bool:
    if case.notice != "sent" or case.violation_id is not None:
        return False
    if case.status != PENDING:
        return True  # moved or expired
    return when(case.last_at) + expiry <= now  # expired, not marked until its next sighting


async def stats(
    store: CaseStore, tenant: str, start: datetime, end: datetime, now: datetime, expiry: timedelta
) -> dict[str, Any]:
    """The statistics of ``tenant`` in [start, end)."""
    lo, hi = iso(start), iso(end)
    table: dict[str | None, dict[int, dict[str, int]]] = defaultdict(
        lambda: defaultdict(lambda: dict.fromkeys(COUNTS, 0))
    )
    fines: dict[str | None, int] = defaultdict(int)
    zones: dict[str | None, dict[str, Any] | None] = {None: None}
    for zone_id, at, zone in await store.sightings_between(tenant, lo, hi):
        key = zone_id or None
        zones.setdefault(key, zone)
        table[key][_hour(at)]["sightings"] += 1
    for case in await store.cases_between(tenant, "first_at", lo, hi):
        zones.setdefault(case.zone_id, case.zone)
        cell = table[case.zone_id][_hour(case.first_at)]
        if case.notice == "sent":
            cell["preNotices"] += 1
        if _moved_after_notice(case, now, expiry):
            cell["movedAfterNotice"] += 1
    for case in await store.cases_between(tenant, "confirmed_at", lo, hi):
        assert case.confirmed_at is not None
        zones.setdefault(case.zone_id, case.zone)
        table[case.zone_id][_hour(case.confirmed_at)]["violations"] += 1
        fines[case.zone_id] += int(case.zone.get("fine") or 0)
    rows: list[dict[str, Any]] = []
    grand = dict.fromkeys((*COUNTS, "fines"), 0)
    for key in sorted(table, key=lambda k: (k is None, k or "")):
        zone = zones.get(key)
        hours = [{"hour": h} | table[key][h] for h in sorted(table[key])]
        totals = {c: sum(h[c] for h in hours) for c in COUNTS} | {"fines": fines[key]}
        for name, value in totals.items():
            grand[name] += value
        shown: dict[str, Any] | None = None
        if zone is not None:
            shown = {k: zone.get(k) for k in ("id", "name", "category", "type")}
        elif key is not None:
            shown = {"id": key, "name": None, "category": None, "type": None}
        rows.append({"zone": shown, "totals": totals, "hours": hours})
    return {
        "from": lo,
        "to": hi,
        "timeZone": "Asia/Seoul",
        "totals": grand,
        "zones": rows,
    }
