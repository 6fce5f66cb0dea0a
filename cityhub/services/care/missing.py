"""Missing children and dementia patients (사회적 약자 지원): a report files a ``vulnerable``
linked-service request; follow-up locations move its event and share the cameras that came in
range; finding the person completes the event and ends every share.

A report gives the kind (``child`` | ``dementia``), a description, where the person was last
seen or placed by a telecom fix (``location``) and how precise that is (``accuracy``, metres).
Cameras are searched within the accuracy (at least 500 m, at most 5 km) and shared with the
agency: the reporting agency account, or ``care_missing_agency`` when the center's staff file
it (or the ``agency`` they name). The case (``care_missing``, migration 0019) keeps the latest
location and the list of reported ones.
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cityhub.errors import BadRequestData, Conflict, ResourceNotFound
from cityhub.ngsild.hub import Hub
from cityhub.ops.cctv import CctvService, Grant
from cityhub.ops.events import OPEN, EventService, _value
from cityhub.ops.linked import SERVICES, Filed, LinkedService
from cityhub.ops.linked import Request as LinkedRequest
from cityhub.services.care.clock import iso, shown, stamp
from cityhub.services.care.common import (
    ACTOR,
    LonLat,
    body_object,
    change_once,
    geojson_point,
    metres,
    moment,
    patch_event,
    point,
    text,
)
from cityhub.storage.plain import PlainSql

KINDS = {"child": ("CARE0201", "실종 아동 수색"), "dementia": ("CARE0202", "치매 환자 실종 수색")}
CAMERAS = 5  # shared per location
MIN_RADIUS_M, MAX_RADIUS_M = 500.0, 5000.0
_COLUMNS = (
    "id, tenant, kind, agency, reported_by, request_id, event_id, status, description, "
    "reported_at, found_at, lon, lat, accuracy, located_at"
)


@dataclass(frozen=True, slots=True)
class Case:
    """One missing person's case."""

    id: str
    tenant: str
    kind: str
    agency: str
    reported_by: str
    request_id: str
    event_id: str
    status: str  # searching | found
    description: str
    reported_at: str
    found_at: str | None
    lon: float
    lat: float
    accuracy: float | None
    located_at: str

    def json(self) -> dict[str, Any]:
        """The API form (without the shares, which :meth:`MissingService.view` adds)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "description": self.description,
            "agency": self.agency,
            "reportedBy": self.reported_by,
            "requestId": self.request_id,
            "eventId": self.event_id,
            "reportedAt": shown(self.reported_at),
            "foundAt": shown(self.found_at),
            "location": geojson_point((self.lon, self.lat)),
            "accuracy": self.accuracy,
            "locatedAt": shown(self.located_at),
        }


def radius(accuracy: float | None) -> float:
    """How far from a location cameras are searched."""
    return min(MAX_RADIUS_M, max(MIN_RADIUS_M, accuracy or 0.0))


@dataclass(frozen=True, slots=True)
class Sighting:
    """A location report from the API form."""

    at: LonLat
    accuracy: float | None
    when: datetime
    place: str

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Sighting:
        """Checked (BadRequestData naming the member)."""
        at = point(body, "location")
        assert at is not None
        now = datetime.now(UTC)
        when = moment(body, "at") or now
        if when > now + timedelta(minutes=1):
            raise BadRequestData("at is in the future")
        return cls(at, metres(body, "accuracy", MAX_RADIUS_M), when, text(body, "place", 200))


class MissingService:
    """Missing-person cases (``hub.extras["care"].missing``)."""

    def __init__(
        self, hub: Hub, events: EventService, cctv: CctvService, linked: LinkedService
    ) -> None:
        self.hub = hub
        self.events = events
        self.cctv = cctv
        self.linked = linked
        self.db = PlainSql(hub.storage)

    # --- reading -------------------------------------------------------------------------

    async def cases(self, tenant: str, agency: str | None, limit: int = 100) -> list[Case]:
        """The tenant's cases (one agency's, when given), newest first."""
        sql, args = f"SELECT {_COLUMNS} FROM care_missing WHERE tenant = ?", [tenant]
        if agency is not None:
            sql += " AND (agency = ? OR reported_by = ?)"
            args += [agency, agency]
        rows = await self.db.rows(sql + " ORDER BY reported_at DESC, id LIMIT ?", *args, limit)
        return [Case(*r) for r in rows]

    async def get(self, tenant: str, case_id: str, agency: str | None) -> Case:
        """One case (ResourceNotFound, also when it is another agency's)."""
        for case in await self._where(tenant, "id = ?", case_id):
            if agency is None or agency in (case.agency, case.reported_by):
                return case
        raise ResourceNotFound(f"no missing-person case {case_id}")

    async def _where(self, tenant: str, condition: str, *args: Any) -> list[Case]:
        rows = await self.db.rows(
            f"SELECT {_COLUMNS} FROM care_missing WHERE tenant = ? AND {condition}", tenant, *args
        )
        return [Case(*r) for r in rows]

    async def grants(self, case: Case) -> list[Grant]:
        """The camera shares of a case (live and ended)."""
        return [g for g in await self.cctv.grants(case.tenant, None) if g.event_id == case.event_id]

    async def view(self, case: Case) -> dict[str, Any]:
        """A case with its shares and reported locations."""
        now = stamp(datetime.now(UTC))
        rows = await self.db.rows(
            "SELECT at, lon, lat, accuracy, reported_by FROM care_missing_locations "
            "WHERE missing_id = ? ORDER BY at",
            case.id,
        )
        return case.json() | {
            "grants": [g.json(now) for g in await self.grants(case)],
            "locations": [
                {"at": shown(r[0]), "location": geojson_point((r[1], r[2])), "accuracy": r[3]}
                for r in rows
            ],
        }

    # --- a case's life -------------------------------------------------------------------

    async def report(
        self, tenant: str, body: Any, reporter: str, agency: str
    ) -> tuple[Case, Filed, bool]:
        """Open a case: a ``vulnerable`` request for ``agency``; (case, the request, True when
        new — False: the same ``reference`` was reported before)."""
        report = body_object(body, "a missing-person report")
        kind = report.get("kind")
        if kind not in KINDS:
            raise BadRequestData(f"kind must be one of {', '.join(KINDS)}")
        description = text(report, "description", 2000, required=True)
        seen = Sighting.from_json(report)
        reference = text(report, "reference", 100)
        case_id = f"missing-{secrets.token_hex(8)}"
        code, name = KINDS[kind]
        request = LinkedRequest(
            SERVICES["vulnerable"],
            seen.at[0],
            seen.at[1],
            place=seen.place,
            description=description,
            reference=reference or case_id,
            event_code=code,
            event_name=name,
            cameras=CAMERAS,
            max_distance=radius(seen.accuracy),
            minutes=self.hub.settings.linked_grant_minutes,
        )
        filed, new = await self.linked.request(tenant, request, agency)
        before = await self._where(tenant, "request_id = ?", filed.id)
        if before:
            return before[0], filed, False
        at, when = stamp(datetime.now(UTC)), stamp(seen.when)
        await self.db.run(
            [
                (
                    f"INSERT INTO care_missing ({_COLUMNS}) VALUES ({', '.join('?' * 15)})",
                    (
                        case_id,
                        tenant,
                        kind,
                        agency,
                        reporter,
                        filed.id,
                        filed.event_id,
                        "searching",
                        description,
                        at,
                        None,
                        seen.at[0],
                        seen.at[1],
                        seen.accuracy,
                        when,
                    ),
                ),
                self._location(case_id, seen, reporter),
            ]
        )
        return await self.get(tenant, case_id, None), filed, new

    @staticmethod
    def _location(case_id: str, seen: Sighting, reporter: str) -> tuple[str, tuple[Any, ...]]:
        return (
            "INSERT INTO care_missing_locations (missing_id, at, lon, lat, accuracy, "
            "reported_by) VALUES (?, ?, ?, ?, ?, ?)",
            (case_id, stamp(seen.when), seen.at[0], seen.at[1], seen.accuracy, reporter),
        )

    async def locate(
        self, tenant: str, case_id: str, agency: str | None, body: Any, reporter: str
    ) -> tuple[Case, list[dict[str, Any]], list[Grant]]:
        """A new location: the event moves there, the nearest cameras are picked again and
        those not already shared are shared; (case, cameras near it, the new grants)."""
        seen = Sighting.from_json(body_object(body, "a location report"))
        case = await self.get(tenant, case_id, agency)
        if case.status != "searching":
            raise Conflict(f"case {case_id} is closed ({case.status})")
        event = await self.events.get(tenant, case.event_id)
        if _value(event, "status") not in OPEN:
            raise Conflict(
                f"the event of case {case_id} is {_value(event, 'status')}: report it again"
            )
        cameras = await self.cctv.nearest(
            tenant, seen.at[0], seen.at[1], CAMERAS, radius(seen.accuracy)
        )
        now = stamp(datetime.now(UTC))
        shared = {
            g.camera_id for g in await self.grants(case) if g.agency == case.agency and g.live(now)
        }
        fresh = [c["id"] for c in cameras if c["id"] not in shared]
        grants: list[Grant] = []
        if fresh:
            purpose = f"{SERVICES['vulnerable'].purpose} {case.id}"
            minutes = self.hub.settings.linked_grant_minutes
            grants = await self.cctv.grant(
                tenant, case.event_id, fresh, case.agency, purpose, minutes, f"care:{case.id}"
            )
        moved: dict[str, Any] = {
            "location": {"type": "GeoProperty", "value": geojson_point(seen.at)},
            "lastOccurredAt": {"type": "Property", "value": iso(datetime.now(UTC))},
        }
        if seen.place:
            moved["placeName"] = {"type": "Property", "value": seen.place}
        await patch_event(self.hub, tenant, case.event_id, moved)
        await self.db.run(
            [
                (
                    "UPDATE care_missing SET lon = ?, lat = ?, accuracy = ?, located_at = ? "
                    "WHERE id = ? AND located_at <= ?",
                    (
                        seen.at[0],
                        seen.at[1],
                        seen.accuracy,
                        stamp(seen.when),
                        case.id,
                        stamp(seen.when),
                    ),
                ),
                self._location(case.id, seen, reporter),
            ]
        )
        return await self.get(tenant, case_id, None), cameras, grants

    async def found(
        self, tenant: str, case_id: str, agency: str | None, note: str, actor: str
    ) -> tuple[Case, list[Grant]]:
        """The person is found: the case closes, its event completes and every live share of
        it ends; (case, the grants revoked)."""
        case = await self.get(tenant, case_id, agency)
        await change_once(
            self.db,
            [
                (
                    "UPDATE care_missing SET status = 'found', found_at = ? "
                    "WHERE id = ? AND status = 'searching'",
                    (stamp(datetime.now(UTC)), case.id),
                )
            ],
            f"case {case_id} is closed already",
        )
        reason = f"발견: {note}" if note else "발견"
        with contextlib.suppress(Conflict):  # closed meanwhile (by an operator, auto-ended)
            await self.events.transition(tenant, case.event_id, "completed", actor, reason)
        now, revoked = stamp(datetime.now(UTC)), []
        for grant in await self.grants(case):
            if grant.live(now):
                with contextlib.suppress(Conflict):  # expired meanwhile
                    revoked.append(await self.cctv.revoke(tenant, grant.id, actor or ACTOR))
        return await self.get(tenant, case_id, None), revoked
