"""The care service's households and alerts tables (migration 0019), on either backend."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from cityhub.services.care.readings import Household
from cityhub.storage.base import Storage
from cityhub.storage.plain import PlainSql, Statement

_HOUSEHOLD = (
    "tenant, id, code, lon, lat, place, inactivity_hours, night_hours, enrolled_at, "
    "watched_from, last_activity, cold_since, hot_since, temperature, temperature_at, "
    "button_at, devices"
)
_ALERT = (
    "id, tenant, household, kind, episode, last_seen, request_id, event_id, raised_at, "
    "ended_at, end_reason"
)


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert filed for a household."""

    id: str
    tenant: str
    household: str
    kind: str
    episode: str
    last_seen: str
    request_id: str
    event_id: str
    raised_at: str
    ended_at: str | None
    end_reason: str | None


def _household(r: tuple[Any, ...]) -> Household:
    home = Household(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9])
    home.last_activity, home.cold_since, home.hot_since = r[10], r[11], r[12]
    home.temperature, home.temperature_at, home.button_at = r[13], r[14], r[15]
    home.devices = orjson.loads(r[16])
    return home


class CareStore:
    """Households and their alerts."""

    def __init__(self, storage: Storage) -> None:
        self.db = PlainSql(storage)

    # --- households ----------------------------------------------------------------------

    @staticmethod
    def enrol(home: Household) -> Statement:
        """Add a household or change what its entity says (its readings stay)."""
        return (
            f"INSERT INTO care_households ({_HOUSEHOLD}) VALUES ({', '.join('?' * 17)}) "
            "ON CONFLICT (tenant, id) DO UPDATE SET code = excluded.code, lon = excluded.lon, "
            "lat = excluded.lat, place = excluded.place, "
            "inactivity_hours = excluded.inactivity_hours, night_hours = excluded.night_hours",
            (
                home.tenant,
                home.id,
                home.code,
                home.lon,
                home.lat,
                home.place,
                home.inactivity_hours,
                home.night_hours,
                home.enrolled_at,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                "[]",
            ),
        )

    @staticmethod
    def forget(tenant: str, household: str, at: str) -> list[Statement]:
        """Drop a household (its entity was deleted): its open alerts end, they and their
        events stay as history."""
        return [
            ("DELETE FROM care_households WHERE tenant = ? AND id = ?", (tenant, household)),
            (
                "UPDATE care_alerts SET ended_at = ?, end_reason = ? "
                "WHERE tenant = ? AND household = ? AND ended_at IS NULL",
                (at, "household removed", tenant, household),
            ),
        ]

    @staticmethod
    def readings(home: Household) -> Statement:
        """Store what the readings changed."""
        return (
            "UPDATE care_households SET watched_from = ?, last_activity = ?, cold_since = ?, "
            "hot_since = ?, "
            "temperature = ?, temperature_at = ?, button_at = ?, devices = ? "
            "WHERE tenant = ? AND id = ?",
            (
                home.watched_from,
                home.last_activity,
                home.cold_since,
                home.hot_since,
                home.temperature,
                home.temperature_at,
                home.button_at,
                orjson.dumps(home.devices).decode(),
                home.tenant,
                home.id,
            ),
        )

    async def write(self, statements: list[Statement], cursor: tuple[str, int, int]) -> None:
        """Run statements with the consumer's cursor move, in one transaction."""
        await self.db.run(statements, cursor=cursor)

    async def households(
        self, tenant: str | None = None, ids: list[str] | None = None
    ) -> list[Household]:
        """Households of one tenant (every tenant: None), or only those of ``ids``."""
        sql = f"SELECT {_HOUSEHOLD} FROM care_households"
        args: list[Any] = []
        if tenant is not None:
            sql += " WHERE tenant = ?"
            args.append(tenant)
            if ids is not None:
                if not ids:
                    return []
                sql += f" AND id IN ({', '.join('?' * len(ids))})"
                args.extend(ids)
        rows = await self.db.rows(sql + " ORDER BY tenant, code", *args)
        return [_household(r) for r in rows]

    # --- alerts --------------------------------------------------------------------------

    async def add_alert(self, alert: Alert) -> bool:
        """Store an alert; False when that episode had one already."""
        counts = await self.db.run(
            [
                (
                    f"INSERT INTO care_alerts ({_ALERT}) VALUES ({', '.join('?' * 11)}) "
                    "ON CONFLICT (tenant, household, kind, episode) DO NOTHING",
                    (
                        alert.id,
                        alert.tenant,
                        alert.household,
                        alert.kind,
                        alert.episode,
                        alert.last_seen,
                        alert.request_id,
                        alert.event_id,
                        alert.raised_at,
                        None,
                        None,
                    ),
                )
            ]
        )
        return counts[0] == 1

    async def alerts(
        self,
        tenant: str | None,
        household: str | None = None,
        *,
        open_only: bool = False,
        limit: int = 1000,
    ) -> list[Alert]:
        """Alerts, newest first."""
        sql, args = f"SELECT {_ALERT} FROM care_alerts WHERE 1 = 1", []
        if tenant is not None:
            sql += " AND tenant = ?"
            args.append(tenant)
        if household is not None:
            sql += " AND household = ?"
            args.append(household)
        if open_only:
            sql += " AND ended_at IS NULL"
        rows = await self.db.rows(sql + " ORDER BY raised_at DESC, id LIMIT ?", *args, limit)
        return [Alert(*r) for r in rows]

    async def latest(self, tenant: str, household: str, kind: str) -> Alert | None:
        """The household's latest alert of a kind (by episode)."""
        rows = await self.db.rows(
            f"SELECT {_ALERT} FROM care_alerts WHERE tenant = ? AND household = ? AND kind = ? "
            "ORDER BY episode DESC LIMIT 1",
            tenant,
            household,
            kind,
        )
        return Alert(*rows[0]) if rows else None

    async def end_alert(self, alert_id: str, at: str, reason: str) -> bool:
        """End an open alert; False when it had ended already."""
        counts = await self.db.run(
            [
                (
                    "UPDATE care_alerts SET ended_at = ?, end_reason = ? "
                    "WHERE id = ? AND ended_at IS NULL",
                    (at, reason[:500], alert_id),
                )
            ]
        )
        return counts[0] == 1

    async def seen(self, alert_id: str, at: str) -> None:
        """An open button alert answers a later press too."""
        await self.db.run(
            [
                (
                    "UPDATE care_alerts SET last_seen = ? WHERE id = ? AND last_seen < ?",
                    (at, alert_id, at),
                )
            ]
        )
