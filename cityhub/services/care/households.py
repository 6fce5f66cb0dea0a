"""Elderly-alone households watched through their sensors: the change-log consumer ``care``
and the periodic check.

Why not situation rules (docs/rules.md)? An ``absence`` rule watches one entity for one fixed
time, and raises an event; a household has several sensors (no activity means none of them saw
any), its own number of hours, night hours that do not count, and its emergency must be filed
as a 119 linked-service request with the route and the cameras. So the service evaluates
households itself:

- :meth:`Households.handle` is the durable consumer ``care``: ``CareHousehold`` changes enrol,
  change or drop a household; a sensor's change (an entity naming a household with
  ``refHousehold`` or ``controlledAsset``) moves its state on (readings.py), written with the
  cursor in one transaction. The alerts are then reconciled at the time of the readings (an
  emergency button files at once, activity ends an inactivity alert, a cold spell that the
  readings show lasted ``care_temp_minutes`` files).
- :meth:`Households.check` is the periodic check (every 30 s): time passes without a reading,
  so inactivity and spells become due, and alerts whose event was closed end (alerts.py). Tests
  call it with the time they want.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from cityhub.bus import DELETE, Change
from cityhub.bus.feed import ChangeFeed
from cityhub.ngsild.hub import Hub
from cityhub.ops.cctv import CctvService
from cityhub.ops.events import EventService
from cityhub.ops.linked import LinkedService
from cityhub.services.care.alerts import HouseholdAlerts
from cityhub.services.care.clock import parse_time, stamp
from cityhub.services.care.readings import (
    HOUSEHOLD,
    Household,
    Limits,
    apply_reading,
    household_of,
    households_named,
    is_type,
)
from cityhub.services.care.store import Alert, CareStore
from cityhub.storage.plain import Statement

log = logging.getLogger(__name__)

CONSUMER = "care"
Key = tuple[str, str]  # tenant, household id


class Households:
    """Enrolled households, their state and their alerts (``hub.extras["care"].households``)."""

    def __init__(
        self, hub: Hub, events: EventService, cctv: CctvService, linked: LinkedService
    ) -> None:
        self.hub = hub
        self.store = CareStore(hub.storage)
        self.alerts = HouseholdAlerts(hub, self.store, events, cctv, linked)
        self.feed: ChangeFeed | None = None

    def _limits(self) -> Limits:
        return Limits(self.hub.settings.care_temp_min, self.hub.settings.care_temp_max)

    # --- the change-log consumer ---------------------------------------------------------

    async def handle(self, changes: list[Change], old: int, new: int) -> bool:
        """Keep households and their readings (with the cursor, in one transaction), then
        reconcile the alerts of those that had readings; False when nothing concerned care."""
        relevant = [
            c for c in changes if is_type(c.entity, HOUSEHOLD) or households_named(c.entity)
        ]
        if not relevant:
            return False
        homes = await self._load(relevant)
        statements: list[Statement] = []
        dirty: set[Key] = set()
        readings_at: dict[Key, datetime] = {}
        limits = self._limits()
        for change in relevant:
            if is_type(change.entity, HOUSEHOLD):
                self._enrol(change, homes, statements)
                continue
            if change.op == DELETE:
                continue
            for household in households_named(change.entity):
                key = (change.tenant, household)
                home = homes.get(key)
                if home is None:
                    continue  # not enrolled (yet): its readings do not count
                latest = apply_reading(home, change, limits)
                dirty.add(key)
                if latest is not None and (key not in readings_at or latest > readings_at[key]):
                    readings_at[key] = latest
        statements += [CareStore.readings(homes[k]) for k in sorted(dirty) if k in homes]
        await self.store.write(statements, (CONSUMER, old, new))
        for key, at in readings_at.items():
            if key in homes:
                await self._reconcile(homes[key], at)
        return True

    async def _load(self, changes: list[Change]) -> dict[Key, Household]:
        wanted: dict[str, set[str]] = {}
        for change in changes:
            ids = wanted.setdefault(change.tenant, set())
            if is_type(change.entity, HOUSEHOLD):
                ids.add(change.entity_id)
            else:
                ids.update(households_named(change.entity))
        homes: dict[Key, Household] = {}
        for tenant, ids in wanted.items():
            for home in await self.store.households(tenant, sorted(ids)):
                homes[home.tenant, home.id] = home
        return homes

    @staticmethod
    def _enrol(change: Change, homes: dict[Key, Household], statements: list[Statement]) -> None:
        key = (change.tenant, change.entity_id)
        at = parse_time(change.at) or datetime.now(UTC)
        if change.op == DELETE:
            statements += CareStore.forget(*key, stamp(at))
            homes.pop(key, None)
            return
        fresh = household_of(change.entity, change.tenant, stamp(at))
        statements.append(CareStore.enrol(fresh))
        before = homes.get(key)
        if before is None:
            homes[key] = fresh
            return
        for name in ("code", "lon", "lat", "place", "inactivity_hours", "night_hours"):
            setattr(before, name, getattr(fresh, name))

    async def _reconcile(
        self, home: Household, now: datetime, open_alerts: list[Alert] | None = None
    ) -> int:
        try:
            return await self.alerts.reconcile(home, now, open_alerts)
        except Exception:  # noqa: BLE001 - the periodic check tries again
            log.exception("care: the alerts of household %s failed", home.id)
            return 0

    # --- the periodic check ------------------------------------------------------------------

    async def check(self, now: datetime | None = None) -> int:
        """Reconcile every household at ``now`` (default: the current time); how many alerts
        were filed or ended."""
        moment = now or datetime.now(UTC)
        open_alerts: dict[Key, list[Alert]] = {}
        for alert in await self.store.alerts(None, open_only=True, limit=100_000):
            open_alerts.setdefault((alert.tenant, alert.household), []).append(alert)
        done = 0
        for home in await self.store.households():
            done += await self._reconcile(home, moment, open_alerts.get((home.tenant, home.id), []))
        return done
