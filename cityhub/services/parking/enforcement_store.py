"""The enforcement tables (migration 0017): sightings, cases and their changes, on either
backend through :class:`PlainSql`.

A case changes by compare-and-set on its ``version`` and an open case is unique per plate
and zone (a partial unique index), so two workers judging sightings of one plate at once
cannot both open a case or both confirm one: the loser's statements change no row, its
transaction rolls back (AlreadyExists) and it judges again from what is stored.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import orjson

from cityhub.services.parking.enforcement_model import Camera, Sighting, mask_plate
from cityhub.storage.base import Storage
from cityhub.storage.plain import PlainSql, Statement

PENDING, VIOLATION, MOVED, EXPIRED = "pending", "violation", "moved", "expired"
STATUSES = (PENDING, VIOLATION, MOVED, EXPIRED)
_CASE_COLUMNS = (
    "id, tenant, plate, zone_id, zone, status, first_at, first_camera, lon, lat, last_at, "
    "last_camera, confirmed_at, confirm_camera, violation_id, notice, notice_to, notice_lot, "
    "ended_at, ended_reason, version"
)
_SIGHTING_COLUMNS = (
    "tenant, plate, camera_id, camera_kind, at, lon, lat, zone_id, case_id, received_at, result"
)


def _camera(raw: Any) -> Camera | None:
    if not raw:
        return None
    data = orjson.loads(raw)
    return Camera(data["id"], data["kind"])


def _dump(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


@dataclass(frozen=True, slots=True)
class Case:
    """A plate standing in one zone, as stored."""

    id: str
    tenant: str
    plate: str
    zone: dict[str, Any]  # Zone.json() when the case opened
    status: str
    first_at: str
    first_camera: Camera
    lon: float
    lat: float
    last_at: str
    last_camera: Camera
    confirmed_at: str | None = None
    confirm_camera: Camera | None = None
    violation_id: str | None = None
    notice: str = "none"
    notice_to: str | None = None
    notice_lot: dict[str, Any] | None = None
    ended_at: str | None = None
    ended_reason: str | None = None
    version: int = 0

    @property
    def zone_id(self) -> str:
        """The id of its zone."""
        zone_id: str = self.zone["id"]
        return zone_id

    @property
    def open(self) -> bool:
        """Not ended yet."""
        return self.ended_at is None

    @classmethod
    def of_row(cls, row: tuple[Any, ...]) -> Case:
        """From a row of ``_CASE_COLUMNS``."""
        first, last = _camera(row[7]), _camera(row[11])
        assert first is not None and last is not None
        return cls(
            row[0],
            row[1],
            row[2],
            orjson.loads(row[4]),
            row[5],
            row[6],
            first,
            float(row[8]),
            float(row[9]),
            row[10],
            last,
            row[12],
            _camera(row[13]),
            row[14],
            row[15],
            row[16],
            orjson.loads(row[17]) if row[17] else None,
            row[18],
            row[19],
            int(row[20]),
        )

    def json(self, *, full_plate: bool = True) -> dict[str, Any]:
        """The API form."""
        violation = None
        if self.violation_id is not None:
            violation = {
                "id": self.violation_id,
                "at": self.confirmed_at,
                "camera": self.confirm_camera.json() if self.confirm_camera else None,
                "fine": self.zone.get("fine"),
            }
        notice: dict[str, Any] = {"status": self.notice}
        if self.notice_to:
            notice["to"] = self.notice_to
        if self.notice_lot:
            notice["lot"] = self.notice_lot
        return {
            "id": self.id,
            "plate": self.plate if full_plate else mask_plate(self.plate),
            "zone": self.zone,
            "status": self.status,
            "open": self.open,
            "firstSeen": {
                "at": self.first_at,
                "camera": self.first_camera.json(),
                "location": {"type": "Point", "coordinates": [self.lon, self.lat]},
            },
            "lastSeen": {"at": self.last_at, "camera": self.last_camera.json()},
            "violation": violation,
            "notice": notice,
            "endedAt": self.ended_at,
            "endedReason": self.ended_reason,
        }


class CaseStore:
    """Reads and writes of sightings and cases."""

    def __init__(self, storage: Storage) -> None:
        self.db = PlainSql(storage)

    # --- statements, run together by :meth:`commit` ------------------------------------

    @staticmethod
    def insert_case(case: Case) -> Statement:
        """Open a case (changes no row when the plate has an open case in that zone)."""
        return (
            f"INSERT INTO parking_cases ({_CASE_COLUMNS}) VALUES ({', '.join('?' * 21)}) "
            "ON CONFLICT DO NOTHING",
            (
                case.id,
                case.tenant,
                case.plate,
                case.zone_id,
                _dump(case.zone),
                case.status,
                case.first_at,
                _dump(case.first_camera.json()),
                case.lon,
                case.lat,
                case.last_at,
                _dump(case.last_camera.json()),
                case.confirmed_at,
                _dump(case.confirm_camera.json() if case.confirm_camera else None),
                case.violation_id,
                case.notice,
                case.notice_to,
                _dump(case.notice_lot),
                case.ended_at,
                case.ended_reason,
                case.version,
            ),
        )

    @staticmethod
    def update_case(new: Case, old: Case) -> tuple[Statement, Case]:
        """Change a case from ``old`` (changes no row when it is not ``old`` any more); the
        statement and the case as it will be stored."""
        stored = replace(new, version=old.version + 1)
        return (
            "UPDATE parking_cases SET zone = ?, status = ?, first_at = ?, first_camera = ?, "
            "last_at = ?, "
            "last_camera = ?, confirmed_at = ?, confirm_camera = ?, violation_id = ?, "
            "ended_at = ?, ended_reason = ?, version = ? WHERE id = ? AND version = ?",
            (
                _dump(stored.zone),
                stored.status,
                stored.first_at,
                _dump(stored.first_camera.json()),
                stored.last_at,
                _dump(stored.last_camera.json()),
                stored.confirmed_at,
                _dump(stored.confirm_camera.json() if stored.confirm_camera else None),
                stored.violation_id,
                stored.ended_at,
                stored.ended_reason,
                stored.version,
                old.id,
                old.version,
            ),
        ), stored

    @staticmethod
    def insert_sighting(
        tenant: str, s: Sighting, zone_id: str, case_id: str, received_at: str, result: Any
    ) -> Statement:
        """Record a sighting (changes no row when it was recorded before)."""
        return (
            f"INSERT INTO parking_sightings ({_SIGHTING_COLUMNS}) "
            f"VALUES ({', '.join('?' * 11)}) ON CONFLICT DO NOTHING",
            (
                tenant,
                s.plate,
                s.camera.id,
                s.camera.kind,
                s.at,
                s.lon,
                s.lat,
                zone_id,
                case_id,
                received_at,
                _dump(result),
            ),
        )

    async def commit(self, statements: list[Statement]) -> None:
        """All in one transaction; AlreadyExists (nothing written) when one changed no row."""
        await self.db.run(statements, conflict="the plate's cases changed meanwhile")

    async def set_result(self, tenant: str, s: Sighting, result: Any) -> None:
        """The final answer to a sighting (after its notice and violation were made)."""
        await self.db.run(
            [
                (
                    "UPDATE parking_sightings SET result = ? "
                    "WHERE tenant = ? AND plate = ? AND camera_id = ? AND at = ?",
                    (_dump(result), tenant, s.plate, s.camera.id, s.at),
                )
            ]
        )

    async def set_notice(
        self, case_id: str, notice: str, to: str | None, lot: dict[str, Any] | None
    ) -> None:
        """What became of a case's pre-notice (columns no judgement reads)."""
        await self.db.run(
            [
                (
                    "UPDATE parking_cases SET notice = ?, notice_to = ?, notice_lot = ? "
                    "WHERE id = ?",
                    (notice, to, _dump(lot), case_id),
                )
            ]
        )

    # --- reads ---------------------------------------------------------------------------

    async def sighting_result(self, tenant: str, s: Sighting) -> dict[str, Any] | None:
        """The answer given to this sighting before, if it was recorded."""
        rows = await self.db.rows(
            "SELECT result FROM parking_sightings "
            "WHERE tenant = ? AND plate = ? AND camera_id = ? AND at = ?",
            tenant,
            s.plate,
            s.camera.id,
            s.at,
        )
        if not rows:
            return None
        found: dict[str, Any] = orjson.loads(rows[0][0])
        return found

    async def open_cases(self, tenant: str, plate: str) -> list[Case]:
        """The plate's open cases."""
        rows = await self.db.rows(
            f"SELECT {_CASE_COLUMNS} FROM parking_cases "
            "WHERE tenant = ? AND plate = ? AND ended_at IS NULL ORDER BY first_at",
            tenant,
            plate,
        )
        return [Case.of_row(r) for r in rows]

    async def case(self, tenant: str, case_id: str) -> Case | None:
        """One case."""
        rows = await self.db.rows(
            f"SELECT {_CASE_COLUMNS} FROM parking_cases WHERE tenant = ? AND id = ?",
            tenant,
            case_id,
        )
        return Case.of_row(rows[0]) if rows else None

    async def cases(
        self,
        tenant: str,
        *,
        plate: str | None = None,
        status: str | None = None,
        zone_id: str | None = None,
        open_only: bool = False,
        limit: int = 100,
    ) -> list[Case]:
        """Cases, newest first."""
        terms, args = ["tenant = ?"], [tenant]
        for column, value in (("plate", plate), ("status", status), ("zone_id", zone_id)):
            if value is not None:
                terms.append(f"{column} = ?")
                args.append(value)
        if open_only:
            terms.append("ended_at IS NULL")
        rows = await self.db.rows(
            f"SELECT {_CASE_COLUMNS} FROM parking_cases WHERE {' AND '.join(terms)} "
            f"ORDER BY first_at DESC, id LIMIT {int(limit)}",
            *args,
        )
        return [Case.of_row(r) for r in rows]

    async def cases_between(self, tenant: str, column: str, start: str, end: str) -> list[Case]:
        """Cases whose ``first_at`` or ``confirmed_at`` is in [start, end)."""
        assert column in ("first_at", "confirmed_at")
        rows = await self.db.rows(
            f"SELECT {_CASE_COLUMNS} FROM parking_cases "
            f"WHERE tenant = ? AND {column} >= ? AND {column} < ?",
            tenant,
            start,
            end,
        )
        return [Case.of_row(r) for r in rows]

    async def sightings_between(
        self, tenant: str, start: str, end: str
    ) -> list[tuple[str, str, dict[str, Any] | None]]:
        """(zone id, at, the zone of its case) of the sightings in [start, end)."""
        rows = await self.db.rows(
            "SELECT s.zone_id, s.at, c.zone FROM parking_sightings s "
            "LEFT JOIN parking_cases c ON c.id = s.case_id "
            "WHERE s.tenant = ? AND s.at >= ? AND s.at < ?",
            tenant,
            start,
            end,
        )
        return [(r[0], r[1], orjson.loads(r[2]) if r[2] else None) for r in rows]
