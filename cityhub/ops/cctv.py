"""CCTV cameras near a place, and video shares with agencies under audit.

Cameras are ``CCTVCamera`` entities (the built-in data model: ``location``, ``heading``,
``fieldOfView``, ``viewDistance``, ``streamUrl``, ...). The nearest ones to a place are found by
distance, those facing it first when their heading is known.

Korean privacy law lets a city share CCTV footage with another agency only for an emergency:
a grant is therefore tied to an open situation event, to one agency account and a purpose, and
expires by itself; it can be revoked. Every grant, view and revoke is in the audit log. An
agency sees only its own grants, and the stream address only through a live grant.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cityhub.errors import BadRequestData, Conflict, Forbidden, NonexistentTenant, ResourceNotFound
from cityhub.ngsild import geo
from cityhub.ngsild.filters import EntityQuery, parse_type_expr
from cityhub.ngsild.hub import Hub
from cityhub.ops.events import OPEN, EventService, _value
from cityhub.storage.plain import PlainSql

CAMERA = "CCTVCamera"
_COLUMNS = (
    "id, tenant, event_id, camera_id, agency, purpose, granted_by, granted_at, expires_at, "
    "revoked_at, revoked_by"
)


@dataclass(frozen=True, slots=True)
class Grant:
    """One camera shared with one agency for one event."""

    id: str
    tenant: str
    event_id: str
    camera_id: str
    agency: str
    purpose: str
    granted_by: str
    granted_at: str
    expires_at: str
    revoked_at: str | None
    revoked_by: str | None

    def live(self, now: str) -> bool:
        """Not revoked and not expired."""
        return self.revoked_at is None and self.expires_at > now

    def json(self, now: str) -> dict[str, Any]:
        """The API form."""
        return {
            "id": self.id,
            "eventId": self.event_id,
            "cameraId": self.camera_id,
            "agency": self.agency,
            "purpose": self.purpose,
            "grantedBy": self.granted_by,
            "grantedAt": self.granted_at,
            "expiresAt": self.expires_at,
            "revokedAt": self.revoked_at,
            "revokedBy": self.revoked_by,
            "live": self.live(now),
        }


def _stamp(moment: datetime) -> str:
    """A grant's time as stored (µs, so that stored times compare as text)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _now() -> str:
    return _stamp(datetime.now(UTC))


def bearing(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Compass bearing in degrees from point 1 to point 2."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    x = math.sin(dl) * math.cos(p2)
    y = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return (math.degrees(math.atan2(x, y)) + 360.0) % 360.0


class CctvService:
    """Nearest cameras and their grants."""

    def __init__(self, hub: Hub, events: EventService) -> None:
        self.hub = hub
        self.events = events
        self.db = PlainSql(hub.storage)

    async def nearest(
        self, tenant: str, lon: float, lat: float, count: int, max_distance: float
    ) -> list[dict[str, Any]]:
        """Up to ``count`` cameras within ``max_distance`` metres, facing ones first, then by
        distance: ``{"id", "distance", "facing", "streamUrl"?...}``."""
        ctx = self.hub.contexts.core
        near = geo.parse_geoquery(
            f"near;maxDistance=={max_distance}", "Point", f"[{lon},{lat}]", ctx.expand("location")
        )
        found = EntityQuery(types=parse_type_expr(CAMERA, ctx), geo=near, limit=1000)
        try:
            cameras = (await self.hub.entities.query(tenant, found)).entities
        except NonexistentTenant:
            return []
        ranked = []
        for cam in cameras:
            loc = _value(cam, "location")
            if not isinstance(loc, dict) or loc.get("type") != "Point":
                continue
            clon, clat = loc["coordinates"][0], loc["coordinates"][1]
            distance = geo.haversine_m(clon, clat, lon, lat)
            heading, fov = _value(cam, "heading"), _value(cam, "fieldOfView")
            facing = None
            if isinstance(heading, int | float):
                width = fov if isinstance(fov, int | float) else 90.0
                off = abs((bearing(clon, clat, lon, lat) - heading + 180.0) % 360.0 - 180.0)
                facing = off <= width / 2 or distance < 5.0
            ranked.append(
                {
                    "id": cam["id"],
                    "name": _value(cam, "name"),
                    "distance": round(distance, 1),
                    "facing": facing,
                    "ptzCapable": _value(cam, "ptzCapable"),
                    "location": loc,
                }
            )
        ranked.sort(key=lambda c: (c["facing"] is False, c["distance"]))
        return ranked[:count]

    async def grant(
        self,
        tenant: str,
        event_id: str,
        cameras: list[str],
        agency: str,
        purpose: str,
        minutes: float,
        actor: str,
    ) -> list[Grant]:
        """Share cameras with an agency for an open event (Conflict if the event is closed:
        no event, no grant)."""
        event = await self.events.get(tenant, event_id)
        status = _value(event, "status")
        if status not in OPEN:
            raise Conflict(
                f"event {event_id} is {status}: footage is shared only for an open event"
            )
        if not 0 < minutes <= 24 * 60:
            raise BadRequestData("minutes must be more than 0 and at most 1440 (a day)")
        for camera in cameras:
            entity = await self.hub.entities.get(tenant, camera)
            if not any(t.endswith(f"/{CAMERA}") for t in entity["type"]):
                raise BadRequestData(f"{camera} is not a CCTV camera")
        now = datetime.now(UTC)
        expires, granted_at = _stamp(now + timedelta(minutes=minutes)), _stamp(now)
        grants = [
            Grant(
                f"grant-{secrets.token_hex(8)}",
                tenant,
                event_id,
                camera,
                agency,
                purpose,
                actor,
                granted_at,
                expires,
                None,
                None,
            )
            for camera in cameras
        ]
        await self.db.run(
            [
                (
                    f"INSERT INTO cctv_grants ({_COLUMNS}) VALUES ({', '.join('?' * 11)})",
                    (
                        g.id,
                        g.tenant,
                        g.event_id,
                        g.camera_id,
                        g.agency,
                        g.purpose,
                        g.granted_by,
                        g.granted_at,
                        g.expires_at,
                        None,
                        None,
                    ),
                )
                for g in grants
            ]
        )
        return grants

    async def grants(self, tenant: str, agency: str | None) -> list[Grant]:
        """The tenant's grants (of one agency only, when given), newest first."""
        sql = f"SELECT {_COLUMNS} FROM cctv_grants WHERE tenant = ?"
        args: list[Any] = [tenant]
        if agency is not None:
            sql += " AND agency = ?"
            args.append(agency)
        rows = await self.db.rows(sql + " ORDER BY granted_at DESC, id", *args)
        return [Grant(*r) for r in rows]

    async def get(self, tenant: str, grant_id: str, agency: str | None) -> Grant:
        """One grant (ResourceNotFound, also when it is another agency's)."""
        for grant in await self.grants(tenant, agency):
            if grant.id == grant_id:
                return grant
        raise ResourceNotFound(f"no video-share grant {grant_id}")

    async def revoke(self, tenant: str, grant_id: str, actor: str) -> Grant:
        """End a grant now (Conflict if it already ended)."""
        grant = await self.get(tenant, grant_id, None)
        if not grant.live(_now()):
            raise Conflict(f"grant {grant_id} has already ended")
        await self.db.run(
            [
                (
                    "UPDATE cctv_grants SET revoked_at = ?, revoked_by = ? WHERE id = ?",
                    (_now(), actor, grant_id),
                )
            ]
        )
        return await self.get(tenant, grant_id, None)

    async def view(self, tenant: str, grant_id: str, agency: str | None) -> dict[str, Any]:
        """The camera's stream through a live grant (Forbidden once it has ended)."""
        grant = await self.get(tenant, grant_id, agency)
        if not grant.live(_now()):
            raise Forbidden(f"grant {grant_id} has ended (expired or revoked)")
        camera = await self.hub.entities.get(tenant, grant.camera_id)
        return {
            "grantId": grant.id,
            "cameraId": grant.camera_id,
            "streamUrl": _value(camera, "streamUrl"),
            "snapshotUrl": _value(camera, "snapshotUrl"),
            "expiresAt": grant.expires_at,
        }
