"""Safe way home (안심귀가, as in Anyang's safe-return app): a citizen's walk with an expected
arrival, watched until they arrive.

A walk (``care_walks``, migration 0019) goes from ``from`` to ``to`` by ``route`` (a LineString;
the straight line when none is given) and should end by ``expectedArrival``. Position updates
keep only the last position. It raises a ``CityEvent`` (category ``vulnerablePeople``, the
``vulnerable`` SOP: cameras near the walker, police and fire told) when

- the walker is farther than ``care_offroute_m`` from the route (off route, at once), or
- the walk is not ended by ``expectedArrival`` + ``care_walk_grace_minutes`` (overdue, found by
  the periodic check without any new position).

Open alert events follow the walker's last position; arriving completes them. Walks are not
NGSI-LD entities on purpose: any account that reads the city's entities could follow them.
A citizen sees their own walks only; the center's staff (``events:write``) see every one.
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from cityhub.errors import BadRequestData, Conflict, ResourceNotFound
from cityhub.ngsild.hub import Hub
from cityhub.ops.events import OPEN, EventService, EventSpec, _value
from cityhub.services.care.clock import SEOUL, shown, stamp
from cityhub.services.care.common import (
    ACTOR,
    LonLat,
    body_object,
    change_once,
    geojson_point,
    line,
    moment,
    patch_event,
    point,
    text,
)
from cityhub.services.care.offroute import distance_to_line
from cityhub.storage.plain import PlainSql

OVERDUE, OFF_ROUTE = "overdue", "offRoute"
#: alert kind -> (event code, event name)
EVENTS = {
    OVERDUE: ("CARE0301", "안심귀가 도착 지연"),
    OFF_ROUTE: ("CARE0302", "안심귀가 경로 이탈"),
}
MAX_HOURS = 24  # the farthest expected arrival a walk may have
_COLUMNS = (
    "id, tenant, owner, status, from_lon, from_lat, to_lon, to_lat, route, contact, "
    "expected_at, started_at, ended_at, last_lon, last_lat, last_at, off_route_m, "
    "overdue_event, offroute_event"
)


@dataclass(frozen=True, slots=True)
class Walk:
    """One walk home."""

    id: str
    tenant: str
    owner: str
    status: str  # active | arrived
    start: LonLat
    end: LonLat
    route: list[LonLat] | None
    contact: str
    expected_at: str
    started_at: str
    ended_at: str | None
    last: LonLat | None
    last_at: str | None
    off_route_m: float | None
    overdue_event: str | None
    offroute_event: str | None

    def path(self) -> list[LonLat]:
        """The way home: the route, else the straight line."""
        return self.route or [self.start, self.end]

    def json(self) -> dict[str, Any]:
        """The API form."""
        last = None
        if self.last is not None:
            last = {
                "location": geojson_point(self.last),
                "at": shown(self.last_at),
                "offRouteM": self.off_route_m,
            }
        return {
            "id": self.id,
            "owner": self.owner,
            "status": self.status,
            "from": geojson_point(self.start),
            "to": geojson_point(self.end),
            "route": (
                {"type": "LineString", "coordinates": [list(p) for p in self.route]}
                if self.route
                else None
            ),
            "contact": self.contact or None,
            "expectedArrival": shown(self.expected_at),
            "startedAt": shown(self.started_at),
            "endedAt": shown(self.ended_at),
            "lastPosition": last,
            "alerts": {OVERDUE: self.overdue_event, OFF_ROUTE: self.offroute_event},
        }


def _walk(r: tuple[Any, ...]) -> Walk:
    route = [(p[0], p[1]) for p in orjson.loads(r[8])] if r[8] else None
    last = (r[13], r[14]) if r[13] is not None else None
    return Walk(
        r[0], r[1], r[2], r[3], (r[4], r[5]), (r[6], r[7]), route, r[9], r[10], r[11], r[12],
        last, r[15], r[16], r[17], r[18],
    )  # fmt: skip


class WalkService:
    """Walks, their positions and alerts (``hub.extras["care"].walks``)."""

    def __init__(self, hub: Hub, events: EventService) -> None:
        self.hub = hub
        self.events = events
        self.db = PlainSql(hub.storage)

    # --- reading -------------------------------------------------------------------------

    async def walks(
        self, tenant: str, owner: str | None, status: str | None = None, limit: int = 100
    ) -> list[Walk]:
        """Walks of the tenant (one owner's, when given), newest first."""
        sql, args = f"SELECT {_COLUMNS} FROM care_walks WHERE tenant = ?", [tenant]
        if owner is not None:
            sql += " AND owner = ?"
            args.append(owner)
        if status is not None:
            sql += " AND status = ?"
            args.append(status)
        rows = await self.db.rows(sql + " ORDER BY started_at DESC, id LIMIT ?", *args, limit)
        return [_walk(r) for r in rows]

    async def get(self, tenant: str, walk_id: str, owner: str | None) -> Walk:
        """One walk (ResourceNotFound, also when it is someone else's)."""
        sql, args = (
            f"SELECT {_COLUMNS} FROM care_walks WHERE tenant = ? AND id = ?",
            [tenant, walk_id],
        )
        if owner is not None:
            sql += " AND owner = ?"
            args.append(owner)
        rows = await self.db.rows(sql, *args)
        if not rows:
            raise ResourceNotFound(f"no walk {walk_id}")
        return _walk(rows[0])

    # --- a walk's life -------------------------------------------------------------------

    async def start(self, tenant: str, owner: str, body: Any) -> Walk:
        """Start a walk from the API form (BadRequestData naming the member)."""
        plan = body_object(body, "a walk")
        start, end = point(plan, "from"), point(plan, "to")
        assert start is not None and end is not None
        expected = moment(plan, "expectedArrival", required=True)
        assert expected is not None
        now = datetime.now(UTC)
        if not now < expected <= now + timedelta(hours=MAX_HOURS):
            raise BadRequestData(f"expectedArrival must be in the next {MAX_HOURS} hours")
        route = line(plan, "route")
        contact = text(plan, "contact", 100)
        walk_id = f"walk-{secrets.token_hex(8)}"
        await self.db.run(
            [
                (
                    f"INSERT INTO care_walks ({_COLUMNS}) VALUES ({', '.join('?' * 19)})",
                    (
                        walk_id,
                        tenant,
                        owner,
                        "active",
                        start[0],
                        start[1],
                        end[0],
                        end[1],
                        orjson.dumps(route).decode() if route else None,
                        contact,
                        stamp(expected),
                        stamp(now),
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                    ),
                )
            ]
        )
        return await self.get(tenant, walk_id, owner)

    async def position(self, tenant: str, walk_id: str, owner: str | None, body: Any) -> Walk:
        """Where the walker is now; off the route: an alert (again: another occurrence)."""
        report = body_object(body, "a position")
        at = point(report, "location")
        assert at is not None
        now = datetime.now(UTC)
        when = moment(report, "at") or now
        if when > now + timedelta(minutes=1):
            raise BadRequestData("at is in the future")
        walk = await self.get(tenant, walk_id, owner)
        if walk.status != "active":
            raise Conflict(f"walk {walk_id} has ended ({walk.status})")
        off = distance_to_line(at, walk.path())
        await change_once(
            self.db,
            [
                (
                    "UPDATE care_walks SET last_lon = ?, last_lat = ?, last_at = ?, "
                    "off_route_m = ? WHERE id = ? AND status = 'active'",
                    (at[0], at[1], stamp(when), round(off, 1), walk_id),
                )
            ],
            f"walk {walk_id} has ended",
        )
        limit = self.hub.settings.care_offroute_m
        if off > limit:
            detail = f"경로에서 {off:.0f} m 벗어남 (기준 {limit:g} m)"
            await self._alert(walk, OFF_ROUTE, at, detail, round(off, 1))
        walk = await self.get(tenant, walk_id, owner)
        for event_id in (walk.overdue_event, walk.offroute_event):
            if event_id is not None and await self._open(tenant, event_id):
                location = {"type": "GeoProperty", "value": geojson_point(at)}
                await patch_event(self.hub, tenant, event_id, {"location": location})
        return walk

    async def arrived(self, tenant: str, walk_id: str, owner: str | None) -> Walk:
        """The walker is home: the walk ends and its open alerts are completed."""
        walk = await self.get(tenant, walk_id, owner)
        await change_once(
            self.db,
            [
                (
                    "UPDATE care_walks SET status = 'arrived', ended_at = ? "
                    "WHERE id = ? AND status = 'active'",
                    (stamp(datetime.now(UTC)), walk_id),
                )
            ],
            f"walk {walk_id} has ended already",
        )
        for event_id in (walk.overdue_event, walk.offroute_event):
            if event_id is not None:
                with contextlib.suppress(Conflict, ResourceNotFound):  # closed already
                    await self.events.transition(tenant, event_id, "completed", ACTOR, "귀가 완료")
        return await self.get(tenant, walk_id, owner)

    async def check(self, now: datetime | None = None) -> int:
        """Raise the overdue alerts due at ``now`` (default: the current time); how many."""
        moment_ = now or datetime.now(UTC)
        grace = self.hub.settings.care_walk_grace_minutes
        rows = await self.db.rows(
            f"SELECT {_COLUMNS} FROM care_walks WHERE status = 'active' AND expected_at <= ? "
            "AND overdue_event IS NULL",
            stamp(moment_ - timedelta(minutes=grace)),
        )
        done = 0
        for walk in map(_walk, rows):
            expected = shown(walk.expected_at) or walk.expected_at
            local = datetime.fromisoformat(expected.replace("Z", "+00:00")).astimezone(SEOUL)
            detail = f"도착 예정 {local:%H:%M} 이후 {grace:g}분이 지나도록 도착 확인 없음"
            done += await self._alert(walk, OVERDUE, walk.last or walk.start, detail, None)
        return done

    # --- alerts --------------------------------------------------------------------------

    async def _alert(
        self, walk: Walk, kind: str, at: LonLat, detail: str, off_m: float | None
    ) -> int:
        code, name = EVENTS[kind]
        items = [
            {"key": "walkId", "val": walk.id},
            {"key": "expectedArrival", "val": shown(walk.expected_at) or ""},
        ]
        if off_m is not None:
            items.append({"key": "offRouteM", "val": f"{off_m:g}"})
        spec = EventSpec(
            event_code=code,
            event_name=name,
            severity="high",
            category="vulnerablePeople",
            description=f"안심귀가 {walk.id}: {detail}",
            location=at,
            dedupe_key=f"care:walk:{walk.id}:{kind}",
            source=ACTOR,
            items=items,
            sop_template="vulnerable",
        )
        event_id, new = await self.events.raise_event(walk.tenant, spec, ACTOR)
        if not new:
            return 0
        column = "overdue_event" if kind == OVERDUE else "offroute_event"
        await self.db.run(
            [(f"UPDATE care_walks SET {column} = ? WHERE id = ?", (event_id, walk.id))]
        )
        return 1

    async def _open(self, tenant: str, event_id: str) -> bool:
        try:
            event = await self.events.get(tenant, event_id)
        except ResourceNotFound:
            return False
        return _value(event, "status") in OPEN
